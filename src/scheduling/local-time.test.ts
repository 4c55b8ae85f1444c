import { describe, expect, it } from 'vitest';
import { localDeliveryInstant, parseDate, parseWallTime, quietIntervals } from './local-time.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('parseWallTime and parseDate', () => {
  it('reads HH:MM and real dates only', () => {
    expect(parseWallTime('09:05')).toBe(545);
    expect(parseWallTime('23:59')).toBe(1439);
    for (const bad of ['24:00', '9:00', '09:60', '09:00:00', '']) expect(parseWallTime(bad)).toBeUndefined();
    expect(parseDate('2028-02-29')).toEqual([2028, 2, 29]);
    for (const bad of ['2026-02-29', '2026-13-01', '26-01-01']) expect(parseDate(bad)).toBeUndefined();
  });
});

describe('localDeliveryInstant', () => {
  it('gives each zone its own next 09:00 (today where it is still ahead, else tomorrow)', () => {
    const from = at('2026-03-07T12:00:00Z');
    expect(iso(localDeliveryInstant('09:00', undefined, 'Asia/Tokyo', from))).toBe(
      '2026-03-08T00:00:00.000Z',
    );
    expect(iso(localDeliveryInstant('09:00', undefined, 'America/New_York', from))).toBe(
      '2026-03-07T14:00:00.000Z',
    );
    expect(iso(localDeliveryInstant('13:00', undefined, 'UTC', from))).toBe('2026-03-07T13:00:00.000Z');
  });

  it('keeps 09:00 across a DST change (New York springs forward on 2026-03-08)', () => {
    expect(iso(localDeliveryInstant('09:00', '2026-03-07', 'America/New_York', 0))).toBe(
      '2026-03-07T14:00:00.000Z',
    );
    expect(iso(localDeliveryInstant('09:00', '2026-03-09', 'America/New_York', 0))).toBe(
      '2026-03-09T13:00:00.000Z',
    );
  });

  it('moves a time in the spring-forward gap forward, and takes the first of a doubled time', () => {
    // 02:30 does not exist on 2026-03-08 in New York: 03:30 EDT.
    expect(iso(localDeliveryInstant('02:30', '2026-03-08', 'America/New_York', 0))).toBe(
      '2026-03-08T07:30:00.000Z',
    );
    // 01:30 happens twice on 2026-11-01: the first (EDT, -4).
    expect(iso(localDeliveryInstant('01:30', '2026-11-01', 'America/New_York', 0))).toBe(
      '2026-11-01T05:30:00.000Z',
    );
  });

  it('reads an unknown zone as UTC', () => {
    expect(iso(localDeliveryInstant('09:00', '2026-03-07', 'Mars/Olympus', 0))).toBe(
      '2026-03-07T09:00:00.000Z',
    );
  });
});

describe('quietIntervals', () => {
  it('spans midnight in the zone and covers the range', () => {
    const list = quietIntervals(
      { start: '22:00', end: '08:00' },
      'Europe/Berlin',
      at('2026-03-28T12:00:00Z'),
      at('2026-03-30T12:00:00Z'),
    ).map(([a, b]) => [iso(a), iso(b)]);
    // Berlin springs forward on 2026-03-29: 22:00 CET is 21:00Z, 08:00 CEST is 06:00Z.
    expect(list).toContainEqual(['2026-03-28T21:00:00.000Z', '2026-03-29T06:00:00.000Z']);
    expect(list).toContainEqual(['2026-03-29T20:00:00.000Z', '2026-03-30T06:00:00.000Z']);
    expect(list.every(([a, b]) => a! < b!)).toBe(true);
  });

  it('handles a window within one day', () => {
    const list = quietIntervals(
      { start: '12:00', end: '14:00' },
      'UTC',
      at('2026-01-01T13:00:00Z'),
      at('2026-01-01T13:00:00Z'),
    );
    expect(list.map(([a, b]) => [iso(a), iso(b)])).toEqual([
      ['2026-01-01T12:00:00.000Z', '2026-01-01T14:00:00.000Z'],
    ]);
  });
});
