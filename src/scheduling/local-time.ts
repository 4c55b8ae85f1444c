/**
 * Wall-clock times in a device's zone as instants: the release time of a local-time send and the quiet-hours
 * windows around an instant. DST as src/scheduling/recurrence.ts resolves it: a time skipped by a
 * spring-forward gap moves forward by the gap, a time repeated in the autumn is its first occurrence.
 */
import type { QuietHoursWindow } from '../domain/timing.ts';
import { isTimeZone } from '../lib/time-zones.ts';
import { instantOf, type Wall, wallOf } from './recurrence.ts';

const DAY_MS = 86_400_000;

/** "HH:MM" (00:00-23:59) → minutes after midnight, or undefined. */
export function parseWallTime(value: string): number | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

/** "YYYY-MM-DD" → a real calendar date as [year, month, day], or undefined. */
export function parseDate(value: string): [number, number, number] | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const check = new Date(Date.UTC(year, month - 1, day));
  return check.getUTCMonth() === month - 1 && check.getUTCDate() === day ? [year, month, day] : undefined;
}

/** A zone to compute in: the given one when the runtime knows it, else UTC. */
const zoneOr = (zone: string) => (isTimeZone(zone) ? zone : 'UTC');

/** The instant a date's wall-clock time (minutes after midnight) happens in a zone. */
function atWall(date: { year: number; month: number; day: number }, minutes: number, zone: string): number {
  const wall: Wall = {
    year: date.year,
    month: date.month,
    day: date.day,
    hour: Math.floor(minutes / 60),
    minute: minutes % 60,
    second: 0,
    millisecond: 0,
  };
  return instantOf(wall, zone);
}

/** The calendar date `days` after the given one. */
function addDays(date: { year: number; month: number; day: number }, days: number) {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * When a local-time send reaches a zone: `at` on the date `on` (in that zone), or without a date the first
 * time at or after `from` the zone's clock shows `at`. A date whose time has passed in the zone gives that
 * past instant: the delivery goes at once.
 */
export function localDeliveryInstant(at: string, on: string | undefined, zone: string, from: number): number {
  const minutes = parseWallTime(at) ?? 0;
  const tz = zoneOr(zone);
  if (on !== undefined) {
    const [year, month, day] = parseDate(on) ?? [1970, 1, 1];
    return atWall({ year, month, day }, minutes, tz);
  }
  const today = wallOf(from, tz);
  const candidate = atWall(today, minutes, tz);
  return candidate >= from ? candidate : atWall(addDays(today, 1), minutes, tz);
}

/**
 * The quiet-hours intervals [start, end) in a zone that overlap [from, to], as epoch ms, oldest first. A window
 * whose end is before its start spans midnight; one whose start equals its end is empty.
 */
export function quietIntervals(
  window: QuietHoursWindow,
  zone: string,
  from: number,
  to: number,
): [number, number][] {
  const start = parseWallTime(window.start);
  const end = parseWallTime(window.end);
  if (start === undefined || end === undefined || start === end) return [];
  const tz = zoneOr(zone);
  const first = wallOf(from - DAY_MS, tz);
  const out: [number, number][] = [];
  for (let k = 0; ; k++) {
    const day = addDays(first, k);
    const begins = atWall(day, start, tz);
    if (begins > to) break;
    const ends = atWall(end > start ? day : addDays(day, 1), end, tz);
    if (ends > from) out.push([begins, ends]);
  }
  return out;
}
