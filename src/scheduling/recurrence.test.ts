import { describe, expect, it } from 'vitest';
import {
  firstOccurrence,
  nextOccurrence,
  occurrenceAtOrBefore,
  planDue,
  type RecurrenceRule,
  resumeNextRun,
  validateRule,
} from './recurrence.ts';

const rule = (overrides: Partial<RecurrenceRule> & Pick<RecurrenceRule, 'scheduledAt'>): RecurrenceRule => ({
  recurrence: 'daily',
  timezone: 'UTC',
  occurrenceCount: 0,
  ...overrides,
});

/** The first n occurrences, as ISO strings. */
function series(r: RecurrenceRule, n: number): string[] {
  const out: string[] = [];
  let o = firstOccurrence(r);
  while (o && out.length < n) {
    out.push(o.toISOString());
    o = nextOccurrence(r, o);
  }
  return out;
}

const d = (iso: string) => new Date(iso);

describe('daily, weekly and monthly keep the local wall-clock time', () => {
  it('daily at 09:00 in New York moves from 14:00Z to 13:00Z when clocks go forward (9 March 2025)', () => {
    const r = rule({ scheduledAt: d('2025-03-07T09:00:00-05:00'), timezone: 'America/New_York' });
    expect(series(r, 4)).toEqual([
      '2025-03-07T14:00:00.000Z',
      '2025-03-08T14:00:00.000Z',
      '2025-03-09T13:00:00.000Z',
      '2025-03-10T13:00:00.000Z',
    ]);
  });

  it('a time skipped by spring-forward moves forward by the gap (02:30 → 03:30 EDT)', () => {
    const r = rule({ scheduledAt: d('2025-03-08T02:30:00-05:00'), timezone: 'America/New_York' });
    expect(series(r, 3)).toEqual([
      '2025-03-08T07:30:00.000Z',
      '2025-03-09T07:30:00.000Z',
      '2025-03-10T06:30:00.000Z',
    ]);
  });

  it('a time repeated by fall-back fires once, at its earlier instant (01:30 EDT on 2 November 2025)', () => {
    const r = rule({ scheduledAt: d('2025-11-01T01:30:00-04:00'), timezone: 'America/New_York' });
    expect(series(r, 3)).toEqual([
      '2025-11-01T05:30:00.000Z',
      '2025-11-02T05:30:00.000Z',
      '2025-11-03T06:30:00.000Z',
    ]);
  });

  it('weekly on Mondays at 08:00 in London across both transitions of 2025', () => {
    const spring = rule({
      recurrence: 'weekly',
      scheduledAt: d('2025-03-24T08:00:00Z'),
      timezone: 'Europe/London',
    });
    expect(series(spring, 2)).toEqual(['2025-03-24T08:00:00.000Z', '2025-03-31T07:00:00.000Z']);
    const autumn = rule({
      recurrence: 'weekly',
      scheduledAt: d('2025-10-20T08:00:00+01:00'),
      timezone: 'Europe/London',
    });
    expect(series(autumn, 2)).toEqual(['2025-10-20T07:00:00.000Z', '2025-10-27T08:00:00.000Z']);
  });

  it('monthly on the 31st clamps short months without drifting: Jan 31 → Feb 28/29 → Mar 31', () => {
    expect(series(rule({ recurrence: 'monthly', scheduledAt: d('2025-01-31T10:00:00Z') }), 4)).toEqual([
      '2025-01-31T10:00:00.000Z',
      '2025-02-28T10:00:00.000Z',
      '2025-03-31T10:00:00.000Z',
      '2025-04-30T10:00:00.000Z',
    ]);
    expect(series(rule({ recurrence: 'monthly', scheduledAt: d('2024-01-31T10:00:00Z') }), 3)).toEqual([
      '2024-01-31T10:00:00.000Z',
      '2024-02-29T10:00:00.000Z',
      '2024-03-31T10:00:00.000Z',
    ]);
    const london = rule({
      recurrence: 'monthly',
      scheduledAt: d('2025-01-31T10:00:00Z'),
      timezone: 'Europe/London',
    });
    expect(series(london, 3)[2]).toBe('2025-03-31T09:00:00.000Z');
  });

  it('monthly crosses year ends', () => {
    const r = rule({ recurrence: 'monthly', scheduledAt: d('2025-11-15T12:00:00Z') });
    expect(series(r, 3)).toEqual([
      '2025-11-15T12:00:00.000Z',
      '2025-12-15T12:00:00.000Z',
      '2026-01-15T12:00:00.000Z',
    ]);
  });

  it('finds the next occurrence from any instant, far from scheduled_at', () => {
    const r = rule({ scheduledAt: d('2020-01-01T06:00:00Z') });
    expect(nextOccurrence(r, d('2025-06-10T05:59:59Z'))?.toISOString()).toBe('2025-06-10T06:00:00.000Z');
    expect(nextOccurrence(r, d('2025-06-10T06:00:00Z'))?.toISOString()).toBe('2025-06-11T06:00:00.000Z');
    expect(nextOccurrence(r, d('2019-01-01T00:00:00Z'))?.toISOString()).toBe('2020-01-01T06:00:00.000Z');
  });
});

describe('cron', () => {
  it('is read in the time zone and starts at scheduled_at (a cron time exactly there is the first)', () => {
    const r = rule({
      recurrence: 'cron',
      cron: '0 9 * * 1-5',
      timezone: 'America/New_York',
      scheduledAt: d('2025-03-07T14:00:00Z'),
    });
    expect(series(r, 3)).toEqual([
      '2025-03-07T14:00:00.000Z',
      '2025-03-10T13:00:00.000Z',
      '2025-03-11T13:00:00.000Z',
    ]);
  });

  it('takes six fields (seconds first) and rounds up to the next whole second', () => {
    const r = rule({
      recurrence: 'cron',
      cron: '*/10 * * * * *',
      scheduledAt: d('2025-01-01T00:00:03.250Z'),
    });
    expect(series(r, 2)).toEqual(['2025-01-01T00:00:10.000Z', '2025-01-01T00:00:20.000Z']);
  });

  it('fires a repeated local time once when clocks go back (Europe/London, 26 October 2025)', () => {
    const r = rule({
      recurrence: 'cron',
      cron: '30 1 * * *',
      timezone: 'Europe/London',
      scheduledAt: d('2025-10-25T00:00:00Z'),
    });
    expect(series(r, 3)).toEqual([
      '2025-10-25T00:30:00.000Z',
      '2025-10-26T00:30:00.000Z',
      '2025-10-27T01:30:00.000Z',
    ]);
  });
});

describe('limits', () => {
  it('a one-off fires once', () => {
    const r = rule({ recurrence: 'none', scheduledAt: d('2025-05-01T10:00:00Z') });
    expect(series(r, 5)).toEqual(['2025-05-01T10:00:00.000Z']);
    expect(nextOccurrence({ ...r, occurrenceCount: 1 }, d('2025-01-01T00:00:00Z'))).toBeNull();
  });

  it('stops at max_occurrences, counted by what has fired', () => {
    const r = rule({ scheduledAt: d('2025-05-01T10:00:00Z'), maxOccurrences: 2 });
    const first = firstOccurrence(r)!;
    expect(nextOccurrence({ ...r, occurrenceCount: 1 }, first)?.toISOString()).toBe(
      '2025-05-02T10:00:00.000Z',
    );
    expect(nextOccurrence({ ...r, occurrenceCount: 2 }, first)).toBeNull();
  });

  it('stops at ends_at (an occurrence exactly at ends_at still fires)', () => {
    const r = rule({ scheduledAt: d('2025-05-01T10:00:00Z'), endsAt: d('2025-05-03T10:00:00Z') });
    expect(series(r, 10)).toEqual([
      '2025-05-01T10:00:00.000Z',
      '2025-05-02T10:00:00.000Z',
      '2025-05-03T10:00:00.000Z',
    ]);
  });

  it('finds the latest occurrence at or before an instant', () => {
    const r = rule({ scheduledAt: d('2025-05-01T10:00:00Z'), endsAt: d('2025-05-20T00:00:00Z') });
    expect(occurrenceAtOrBefore(r, d('2025-05-04T10:00:00Z'))?.toISOString()).toBe(
      '2025-05-04T10:00:00.000Z',
    );
    expect(occurrenceAtOrBefore(r, d('2025-05-04T09:59:59Z'))?.toISOString()).toBe(
      '2025-05-03T10:00:00.000Z',
    );
    expect(occurrenceAtOrBefore(r, d('2025-04-30T00:00:00Z'))).toBeNull();
    expect(occurrenceAtOrBefore(r, d('2025-09-01T00:00:00Z'))?.toISOString()).toBe(
      '2025-05-19T10:00:00.000Z',
    );
    const cron = rule({ recurrence: 'cron', cron: '*/1 * * * * *', scheduledAt: d('2025-01-01T00:00:00Z') });
    expect(occurrenceAtOrBefore(cron, d('2025-01-01T00:05:00.400Z'))?.toISOString()).toBe(
      '2025-01-01T00:05:00.000Z',
    );
  });
});

describe('validateRule', () => {
  const base = { recurrence: 'daily' as const, timezone: 'UTC', scheduledAt: d('2025-05-01T10:00:00Z') };
  const fields = (r: Parameters<typeof validateRule>[0]) => validateRule(r).map((p) => p.field);

  it('accepts good rules', () => {
    expect(validateRule(base)).toEqual([]);
    expect(validateRule({ ...base, recurrence: 'cron', cron: '0 9 * * MON' })).toEqual([]);
  });

  it('names each problem', () => {
    expect(fields({ ...base, timezone: 'Mars/Olympus' })).toEqual(['timezone']);
    expect(fields({ ...base, recurrence: 'cron' })).toEqual(['cron']);
    expect(fields({ ...base, cron: '* * * * *' })).toEqual(['recurrence']);
    expect(fields({ ...base, endsAt: d('2025-04-01T00:00:00Z') })).toEqual(['ends_at']);
    expect(fields({ ...base, maxOccurrences: 0 })).toEqual(['max_occurrences']);
    const invalid = validateRule({ ...base, recurrence: 'cron', cron: '61 * * * *' });
    expect(invalid).toEqual([{ field: 'cron', message: expect.stringMatching(/not a valid cron.*minute/) }]);
    expect(fields({ ...base, recurrence: 'cron', cron: '* * * * * * *' })).toEqual(['cron']);
    expect(fields({ ...base, recurrence: 'cron', cron: '0 0 30 2 *' })).toEqual(['cron']);
  });
});

describe('planDue: what a due schedule fires under each misfire policy', () => {
  // Daily at 10:00; the server comes back at 10:00:30 on 5 May after missing 1-4 May.
  const daily = rule({ scheduledAt: d('2025-05-01T10:00:00Z') });
  const next = d('2025-05-01T10:00:00Z');
  const options = { graceMs: 60_000, limit: 100 };
  const iso = (dates: Date[]) => dates.map((x) => x.toISOString());

  it('catch_up fires every missed occurrence and the on-time one', () => {
    const plan = planDue(daily, next, d('2025-05-05T10:00:30Z'), 'catch_up', options);
    expect(iso(plan.fire)).toEqual([
      '2025-05-01T10:00:00.000Z',
      '2025-05-02T10:00:00.000Z',
      '2025-05-03T10:00:00.000Z',
      '2025-05-04T10:00:00.000Z',
      '2025-05-05T10:00:00.000Z',
    ]);
    expect(plan.skipped).toBeNull();
    expect(plan.through.toISOString()).toBe('2025-05-05T10:00:00.000Z');
  });

  it('catch_up is bounded per tick and resumes from the first unfired occurrence', () => {
    const plan = planDue(daily, next, d('2025-05-05T10:00:30Z'), 'catch_up', { ...options, limit: 2 });
    expect(iso(plan.fire)).toEqual(['2025-05-01T10:00:00.000Z', '2025-05-02T10:00:00.000Z']);
    expect(nextOccurrence(daily, plan.through)?.toISOString()).toBe('2025-05-03T10:00:00.000Z');
  });

  it('fire_once fires the on-time occurrence and drops the missed ones', () => {
    const plan = planDue(daily, next, d('2025-05-05T10:00:30Z'), 'fire_once', options);
    expect(iso(plan.fire)).toEqual(['2025-05-05T10:00:00.000Z']);
    expect(plan.skipped).toEqual({ first: next, last: d('2025-05-04T10:00:00Z') });
  });

  it('fire_once with nothing on time fires the latest missed occurrence once', () => {
    const plan = planDue(daily, next, d('2025-05-05T09:00:00Z'), 'fire_once', options);
    expect(iso(plan.fire)).toEqual(['2025-05-04T10:00:00.000Z']);
    expect(plan.skipped).toEqual({ first: next, last: d('2025-05-03T10:00:00Z') });
    expect(nextOccurrence(daily, plan.through)?.toISOString()).toBe('2025-05-05T10:00:00.000Z');
  });

  it('skip fires only what is within the grace window', () => {
    const onTime = planDue(daily, next, d('2025-05-05T10:00:30Z'), 'skip', options);
    expect(iso(onTime.fire)).toEqual(['2025-05-05T10:00:00.000Z']);
    const late = planDue(daily, next, d('2025-05-05T09:00:00Z'), 'skip', options);
    expect(late.fire).toEqual([]);
    expect(late.skipped).toEqual({ first: next, last: d('2025-05-04T10:00:00Z') });
    expect(late.through.toISOString()).toBe('2025-05-04T10:00:00.000Z');
  });

  it('an occurrence within the grace window is not a misfire, whatever the policy', () => {
    const now = d('2025-05-01T10:00:59Z');
    for (const policy of ['catch_up', 'fire_once', 'skip'] as const) {
      expect(iso(planDue(daily, next, now, policy, options).fire)).toEqual(['2025-05-01T10:00:00.000Z']);
    }
  });

  it('an every-second cron late by two minutes under skip fires the last minute only, without enumerating the rest', () => {
    const cron = rule({ recurrence: 'cron', cron: '* * * * * *', scheduledAt: d('2025-01-01T00:00:00Z') });
    const plan = planDue(cron, d('2025-01-01T00:00:00Z'), d('2025-01-01T00:02:00Z'), 'skip', options);
    expect(plan.fire).toHaveLength(60);
    expect(plan.fire[0]?.toISOString()).toBe('2025-01-01T00:01:01.000Z');
    expect(plan.skipped?.last.toISOString()).toBe('2025-01-01T00:01:00.000Z');
  });

  it('max_occurrences caps what fires', () => {
    const capped = { ...daily, maxOccurrences: 3, occurrenceCount: 1 };
    const plan = planDue(capped, d('2025-05-02T10:00:00Z'), d('2025-05-05T10:00:30Z'), 'catch_up', options);
    expect(iso(plan.fire)).toEqual(['2025-05-02T10:00:00.000Z', '2025-05-03T10:00:00.000Z']);
    expect(nextOccurrence({ ...capped, occurrenceCount: 3 }, plan.through)).toBeNull();
    const oneOff = rule({ recurrence: 'none', scheduledAt: next });
    expect(planDue(oneOff, next, d('2025-05-05T10:00:30Z'), 'catch_up', options).fire).toEqual([next]);
    expect(planDue(oneOff, next, d('2025-05-05T10:00:30Z'), 'skip', options).fire).toEqual([]);
  });
});

describe('resumeNextRun', () => {
  const daily = rule({ scheduledAt: d('2025-05-01T10:00:00Z') });
  const paused = d('2025-05-02T10:00:00Z');
  const now = d('2025-05-05T12:00:00Z');

  it('catch_up keeps the first unfired occurrence; fire_once the latest due; skip the next on time', () => {
    expect(resumeNextRun(daily, paused, now, 'catch_up', 60_000)).toEqual(paused);
    expect(resumeNextRun(daily, paused, now, 'fire_once', 60_000)).toEqual(d('2025-05-05T10:00:00Z'));
    expect(resumeNextRun(daily, paused, now, 'skip', 60_000)).toEqual(d('2025-05-06T10:00:00Z'));
  });

  it('keeps a future next run, and ends a one-off whose time passed under skip', () => {
    const later = d('2025-06-01T10:00:00Z');
    expect(resumeNextRun(daily, later, now, 'skip', 60_000)).toEqual(later);
    const oneOff = rule({ recurrence: 'none', scheduledAt: paused });
    expect(resumeNextRun(oneOff, paused, now, 'skip', 60_000)).toBeNull();
    expect(resumeNextRun(oneOff, paused, now, 'fire_once', 60_000)).toEqual(paused);
  });
});
