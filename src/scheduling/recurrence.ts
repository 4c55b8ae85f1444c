/**
 * When a schedule fires: its occurrences in its own time zone (daily, weekly or monthly at the wall-clock time
 * of scheduled_at, or a cron expression), the limits that end it, and which due occurrences fire under each
 * misfire policy. Pure: no clock, no I/O; callers pass the instants.
 */
import { Cron } from 'croner';
import { isTimeZone } from '../lib/time-zones.ts';

export type ScheduleRecurrence = 'none' | 'daily' | 'weekly' | 'monthly' | 'cron';
/** What a scheduler that was down does with occurrences it missed. */
export type MisfirePolicy = 'catch_up' | 'fire_once' | 'skip';

export interface RecurrenceRule {
  recurrence: ScheduleRecurrence;
  cron?: string | null | undefined;
  /** IANA time zone the wall-clock times and the cron expression are read in. */
  timezone: string;
  /** The first occurrence (none, daily, weekly, monthly), or where the cron expression starts. */
  scheduledAt: Date;
  maxOccurrences?: number | null | undefined;
  /** No occurrence after this instant. */
  endsAt?: Date | null | undefined;
  /** Occurrences fired so far (counted against maxOccurrences). */
  occurrenceCount: number;
}

/** A problem with a rule, naming the API field (a type alias, so it fits an error's details as is). */
export type RuleProblem = { field: string; message: string };

/**
 * Croner reads 5 fields (minutes) or 6 (seconds first); 7 (years) is refused to keep to standard cron.
 * Instances are cached: parsing is the expensive part and a tick asks the same rule many times.
 */
const crons = new Map<string, Cron>();

function cronOf(expression: string, timezone: string): Cron {
  const key = `${timezone} ${expression}`;
  let cron = crons.get(key);
  if (!cron) {
    cron = new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
    if (crons.size >= 1000) crons.clear();
    crons.set(key, cron);
  }
  return cron;
}

export interface Wall {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (formatters.size >= 1000) formatters.clear();
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/** The wall-clock reading of an instant in a time zone. */
export function wallOf(epochMs: number, timezone: string): Wall {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(epochMs)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
    millisecond: ((epochMs % 1000) + 1000) % 1000,
  };
}

const wallAsUtc = (w: Wall) =>
  Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond);

const DAY_MS = 86_400_000;

/** The zone's offset from UTC (ms) at an instant. */
function offsetAt(epochMs: number, timezone: string): number {
  return wallAsUtc(wallOf(epochMs, timezone)) - epochMs;
}

/**
 * The instant a wall-clock time happens in a zone, resolved the way Temporal's "compatible" disambiguation
 * does: a time repeated when clocks go back is its earlier instant; a time skipped when clocks go forward is
 * moved forward by the gap (02:30 on a spring-forward night in New York is 03:30 EDT).
 */
export function instantOf(wall: Wall, timezone: string): number {
  const local = wallAsUtc(wall);
  // Zones change offset at most a few times a year, so the offsets a day either side cover both readings.
  const before = offsetAt(local - DAY_MS, timezone);
  const after = offsetAt(local + DAY_MS, timezone);
  const matches = [local - before, local - after]
    .filter((t) => wallAsUtc(wallOf(t, timezone)) === local)
    .sort((a, b) => a - b);
  return matches[0] ?? local - before;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

type Series = 'daily' | 'weekly' | 'monthly';

/** The wall-clock time of the k-th occurrence (k = 0 is scheduled_at) of a daily, weekly or monthly rule. */
function nthWall(base: Wall, recurrence: Series, k: number): Wall {
  if (recurrence === 'monthly') {
    const months = base.month - 1 + k;
    const year = base.year + Math.floor(months / 12);
    const month = (months % 12) + 1;
    // Jan 31 → Feb 28/29 → Mar 31: each month is clamped on its own, never carried over.
    return { ...base, year, month, day: Math.min(base.day, daysInMonth(year, month)) };
  }
  const date = new Date(
    Date.UTC(base.year, base.month - 1, base.day + k * (recurrence === 'weekly' ? 7 : 1)),
  );
  return { ...base, year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

/** The k-th occurrence of a wall-clock series; k = 0 is scheduled_at itself, even in a repeated hour. */
function seriesAt(rule: RecurrenceRule, recurrence: Series, k: number): number {
  if (k === 0) return rule.scheduledAt.getTime();
  const base = wallOf(rule.scheduledAt.getTime(), rule.timezone);
  return instantOf(nthWall(base, recurrence, k), rule.timezone);
}

/** The smallest k whose occurrence is after `t` (k ≥ 0), for a wall-clock series. */
function indexAfter(rule: RecurrenceRule, recurrence: Series, t: number): number {
  const base = wallOf(rule.scheduledAt.getTime(), rule.timezone);
  let k = 0;
  if (t >= rule.scheduledAt.getTime()) {
    const now = wallOf(t, rule.timezone);
    const days = Math.round(
      (Date.UTC(now.year, now.month - 1, now.day) - Date.UTC(base.year, base.month - 1, base.day)) / DAY_MS,
    );
    const estimate =
      recurrence === 'daily'
        ? days
        : recurrence === 'weekly'
          ? Math.floor(days / 7)
          : (now.year - base.year) * 12 + now.month - base.month;
    // Start safely below the answer (an offset change near midnight can shift a day) and walk up.
    k = Math.max(0, estimate - 2);
  }
  while (seriesAt(rule, recurrence, k) <= t) k += 1;
  return k;
}

const inRange = (rule: RecurrenceRule, t: number | null | undefined): Date | null =>
  t === null || t === undefined || (rule.endsAt && t > rule.endsAt.getTime()) ? null : new Date(t);

/** The first occurrence after `after`, ignoring how many have fired (ends_at still holds). */
export function occurrenceAfter(rule: RecurrenceRule, after: Date): Date | null {
  const start = rule.scheduledAt.getTime();
  const t = after.getTime();
  switch (rule.recurrence) {
    case 'none':
      return inRange(rule, t < start ? start : null);
    case 'cron': {
      // nextRun is strictly after its argument: a cron time exactly at scheduled_at is the first occurrence.
      const from = t < start ? start - 1 : t;
      return inRange(
        rule,
        cronOf(rule.cron ?? '', rule.timezone)
          .nextRun(new Date(from))
          ?.getTime(),
      );
    }
    default:
      return inRange(rule, seriesAt(rule, rule.recurrence, indexAfter(rule, rule.recurrence, t)));
  }
}

/** The latest occurrence at or before `at` (ends_at holds, the occurrence count does not), or null. */
export function occurrenceAtOrBefore(rule: RecurrenceRule, at: Date): Date | null {
  const limit = rule.endsAt && rule.endsAt < at ? rule.endsAt.getTime() : at.getTime();
  const start = rule.scheduledAt.getTime();
  if (limit < start) return null;
  switch (rule.recurrence) {
    case 'none':
      return new Date(start);
    case 'cron': {
      // previousRuns is strictly before its reference.
      const [previous] = cronOf(rule.cron ?? '', rule.timezone).previousRuns(1, new Date(limit + 1));
      return previous && previous.getTime() >= start ? previous : null;
    }
    default: {
      const k = indexAfter(rule, rule.recurrence, limit) - 1;
      return k < 0 ? null : new Date(seriesAt(rule, rule.recurrence, k));
    }
  }
}

/** Whether the rule may fire again: a one-off fires once, max_occurrences caps the rest. */
function exhausted(rule: RecurrenceRule): boolean {
  if (rule.recurrence === 'none' && rule.occurrenceCount >= 1) return true;
  return rule.maxOccurrences != null && rule.occurrenceCount >= rule.maxOccurrences;
}

/** The next occurrence strictly after `after`, or null once the schedule is done (count, ends_at, no match). */
export function nextOccurrence(rule: RecurrenceRule, after: Date): Date | null {
  return exhausted(rule) ? null : occurrenceAfter(rule, after);
}

/** The first occurrence: scheduled_at itself, or the first cron time at or after it. */
export function firstOccurrence(rule: RecurrenceRule): Date | null {
  return nextOccurrence(rule, new Date(rule.scheduledAt.getTime() - 1));
}

/** Checks a rule as given by a client; every problem names the API field it is about. */
export function validateRule(rule: Omit<RecurrenceRule, 'occurrenceCount'>): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (!isTimeZone(rule.timezone)) {
    problems.push({ field: 'timezone', message: 'must be an IANA time zone such as Europe/London' });
  }
  if (rule.recurrence === 'cron' && !rule.cron) {
    problems.push({ field: 'cron', message: 'is required when recurrence is cron' });
  }
  if (rule.recurrence !== 'cron' && rule.cron) {
    problems.push({ field: 'recurrence', message: 'must be cron when a cron expression is given' });
  }
  if (rule.cron && rule.recurrence === 'cron' && isTimeZone(rule.timezone)) {
    try {
      cronOf(rule.cron, rule.timezone);
    } catch (error) {
      problems.push({
        field: 'cron',
        message: `is not a valid cron expression: ${(error as Error).message}`,
      });
    }
  }
  if (rule.endsAt && rule.endsAt < rule.scheduledAt) {
    problems.push({ field: 'ends_at', message: 'must not be before scheduled_at' });
  }
  if (rule.maxOccurrences != null && !(Number.isInteger(rule.maxOccurrences) && rule.maxOccurrences >= 1)) {
    problems.push({ field: 'max_occurrences', message: 'must be a whole number of at least 1' });
  }
  if (problems.length === 0 && firstOccurrence({ ...rule, occurrenceCount: 0 }) === null) {
    problems.push({
      field: rule.recurrence === 'cron' ? 'cron' : 'ends_at',
      message: 'the schedule would never fire: no occurrence between scheduled_at and ends_at',
    });
  }
  return problems;
}

export interface DuePlan {
  /** Occurrences to fire now, oldest first. */
  fire: Date[];
  /** Missed occurrences the policy drops (first and last of them, inclusive), for the log. */
  skipped: { first: Date; last: Date } | null;
  /** The latest occurrence this plan settles (fired or skipped): the next run is the occurrence after it. */
  through: Date;
}

export interface DueOptions {
  /** An occurrence later than this (ms) is missed; one within it is on time and fires under every policy. */
  graceMs: number;
  /** Most occurrences fired for one schedule at once; the rest wait for the next tick. */
  limit: number;
}

/** Up to `limit` occurrences from `first` (an occurrence) through `until`, oldest first. */
function occurrencesThrough(rule: RecurrenceRule, first: Date | null, until: Date, limit: number): Date[] {
  const out: Date[] = [];
  for (let o = first; o && o <= until && out.length < limit; o = occurrenceAfter(rule, o)) out.push(o);
  return out;
}

/**
 * What a due schedule (next_run_at ≤ now) does now. Occurrences within the grace window are on time and
 * fire under every policy; older ones were missed (the server was down, the schedule paused, a backlog):
 * catch_up fires every one of them, fire_once fires the latest of them only when nothing on time fires
 * (one notification stands for the missed run), skip fires none. max_occurrences caps what fires.
 */
export function planDue(
  rule: RecurrenceRule,
  nextRunAt: Date,
  now: Date,
  policy: MisfirePolicy,
  options: DueOptions,
): DuePlan {
  const remaining =
    rule.recurrence === 'none'
      ? 1 - rule.occurrenceCount
      : rule.maxOccurrences == null
        ? Number.POSITIVE_INFINITY
        : rule.maxOccurrences - rule.occurrenceCount;
  const limit = Math.max(0, Math.min(options.limit, remaining));

  if (policy === 'catch_up') {
    const fire = occurrencesThrough(rule, nextRunAt, now, limit);
    return { fire, skipped: null, through: fire[fire.length - 1] ?? nextRunAt };
  }

  const graceStart = new Date(now.getTime() - options.graceMs);
  const latestMissed = nextRunAt <= graceStart ? occurrenceAtOrBefore(rule, graceStart) : null;
  const firstOnTime = nextRunAt > graceStart ? nextRunAt : occurrenceAfter(rule, graceStart);
  const onTime = occurrencesThrough(rule, firstOnTime, now, limit);

  let fire = onTime;
  let lastSkipped = latestMissed;
  if (policy === 'fire_once' && onTime.length === 0 && latestMissed && limit > 0) {
    fire = [latestMissed];
    lastSkipped = occurrenceAtOrBefore(rule, new Date(latestMissed.getTime() - 1));
  }
  const skipped =
    lastSkipped && lastSkipped >= nextRunAt ? { first: new Date(nextRunAt), last: lastSkipped } : null;
  const through = fire[fire.length - 1] ?? latestMissed ?? nextRunAt;
  return { fire, skipped, through };
}

/**
 * next_run_at for a paused schedule being resumed at `now`, per its misfire policy: catch_up keeps the first
 * unfired occurrence (everything missed while paused fires), fire_once moves to the latest occurrence due (one
 * notification for the pause), skip moves past everything older than the grace window. Null: nothing is left.
 */
export function resumeNextRun(
  rule: RecurrenceRule,
  nextRunAt: Date,
  now: Date,
  policy: MisfirePolicy,
  graceMs: number,
): Date | null {
  if (exhausted(rule)) return null;
  if (nextRunAt > now || policy === 'catch_up') return nextRunAt;
  if (policy === 'fire_once') return occurrenceAtOrBefore(rule, now) ?? nextRunAt;
  const graceStart = new Date(now.getTime() - graceMs);
  return nextRunAt > graceStart ? nextRunAt : occurrenceAfter(rule, graceStart);
}
