import { describe, expect, it } from 'vitest';
import { addDays, dayOf, daysBetween, isDay, isoWeek, monthEnd, monthStart, weekStart } from './days.ts';

describe('days', () => {
  it('accepts only real calendar days as YYYY-MM-DD', () => {
    expect(isDay('2026-11-24')).toBe(true);
    expect(isDay('2024-02-29')).toBe(true);
    expect(isDay('2026-02-29')).toBe(false);
    expect(isDay('2026-02-30')).toBe(false);
    expect(isDay('2026-13-01')).toBe(false);
    expect(isDay('2026-1-01')).toBe(false);
    expect(isDay('2026-11-24T00:00:00Z')).toBe(false);
    expect(isDay('')).toBe(false);
  });

  it('adds and counts days across months and years, in UTC', () => {
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
    expect(daysBetween('2025-11-25', '2026-11-25')).toBe(365);
    expect(daysBetween('2026-03-31', '2026-03-30')).toBe(-1);
    expect(dayOf(new Date('2026-11-24T23:59:59.999Z'))).toBe('2026-11-24');
    expect(dayOf(new Date('2026-11-25T00:30:00+02:00'))).toBe('2026-11-24');
  });

  it('knows ISO weeks (Monday start, week-numbering year) and months', () => {
    expect(weekStart('2026-03-29')).toBe('2026-03-23');
    expect(weekStart('2026-03-30')).toBe('2026-03-30');
    expect(weekStart('2026-04-05')).toBe('2026-03-30');
    expect(isoWeek('2026-03-30')).toBe('2026-W14');
    expect(isoWeek('2026-03-29')).toBe('2026-W13');
    expect(isoWeek('2021-01-03')).toBe('2020-W53');
    expect(isoWeek('2024-12-30')).toBe('2025-W01');
    expect(monthStart('2026-03-31')).toBe('2026-03-01');
    expect(monthEnd('2026-02-10')).toBe('2026-02-28');
    expect(monthEnd('2024-02-10')).toBe('2024-02-29');
    expect(monthEnd('2026-12-31')).toBe('2026-12-31');
  });
});
