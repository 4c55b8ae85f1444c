/** Calendar days as YYYY-MM-DD strings in UTC: arithmetic, ISO weeks (Monday start) and months. Pure. */

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

const toMs = (day: string): number => Date.parse(`${day}T00:00:00Z`);
const fromMs = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Whether the text is a real calendar day (2026-02-30 is not). */
export function isDay(text: string): boolean {
  const match = DAY.exec(text);
  if (!match) return false;
  const ms = toMs(text);
  return Number.isFinite(ms) && fromMs(ms) === text;
}

/** The UTC day of an instant. */
export function dayOf(instant: Date): string {
  return fromMs(instant.getTime());
}

export function addDays(day: string, days: number): string {
  return fromMs(toMs(day) + days * MS_PER_DAY);
}

/** Days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((toMs(to) - toMs(from)) / MS_PER_DAY);
}

/** The Monday starting the ISO week of the day. */
export function weekStart(day: string): string {
  const weekday = (new Date(toMs(day)).getUTCDay() + 6) % 7;
  return addDays(day, -weekday);
}

/** The ISO week of the day as 2026-W48 (the week-numbering year, which differs from the calendar year near New Year). */
export function isoWeek(day: string): string {
  const thursday = addDays(weekStart(day), 3);
  const year = thursday.slice(0, 4);
  const week = Math.floor(daysBetween(`${year}-01-01`, thursday) / 7) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

export function monthStart(day: string): string {
  return `${day.slice(0, 7)}-01`;
}

/** The last day of the day's month. */
export function monthEnd(day: string): string {
  const [year, month] = [Number(day.slice(0, 4)), Number(day.slice(5, 7))];
  return fromMs(Date.UTC(year, month, 0));
}

/** The earlier of two days (YYYY-MM-DD compares as text). */
export const earlierDay = (a: string, b: string): string => (a <= b ? a : b);

export const laterDay = (a: string, b: string): string => (a >= b ? a : b);
