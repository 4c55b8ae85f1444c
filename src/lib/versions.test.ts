import { describe, expect, it } from 'vitest';
import { parseVersionRange, satisfies, versionKey } from './versions.ts';

describe('versionKey', () => {
  it('reads major.minor.patch, padding missing parts and ignoring suffixes', () => {
    expect(versionKey('2.3.1')).toEqual([2, 3, 1]);
    expect(versionKey('v2.3')).toEqual([2, 3, 0]);
    expect(versionKey('10')).toEqual([10, 0, 0]);
    expect(versionKey('2.3.0-beta.1')).toEqual([2, 3, 0]);
    expect(versionKey('2.3.0+build7')).toEqual([2, 3, 0]);
  });
  it('returns null for text that is not a version', () => {
    expect(versionKey('latest')).toBeNull();
    expect(versionKey('')).toBeNull();
    expect(versionKey('x1.2')).toBeNull();
    expect(versionKey('1.2.3.4')).toEqual([1, 2, 3]);
  });
});

describe('ranges', () => {
  it('compares as versions, not strings', () => {
    const atLeast = parseVersionRange('>=2.3.0');
    expect(satisfies('2.10.0', atLeast)).toBe(true);
    expect(satisfies('2.9.9', atLeast)).toBe(true);
    expect(satisfies('2.2.99', atLeast)).toBe(false);
  });
  it('combines comparators with AND and treats a bare version as exact', () => {
    const range = parseVersionRange('>=2.3 <3');
    expect(satisfies('2.3.0', range)).toBe(true);
    expect(satisfies('2.99.1', range)).toBe(true);
    expect(satisfies('3.0.0', range)).toBe(false);
    expect(satisfies('2.3', parseVersionRange('2.3.0'))).toBe(true);
    expect(satisfies('2.3.1', parseVersionRange('=2.3.0'))).toBe(false);
    expect(satisfies('1.0.0', parseVersionRange('>1.0.0'))).toBe(false);
    expect(satisfies('1.0.0', parseVersionRange('<=1.0.0'))).toBe(true);
  });
  it('never matches a device whose version cannot be read', () => {
    expect(satisfies('nightly', parseVersionRange('>=0'))).toBe(false);
  });
  it('names the part it cannot read', () => {
    expect(() => parseVersionRange('>=abc')).toThrow(/">=abc"/);
    expect(() => parseVersionRange('  ')).toThrow(/at least one/);
    expect(() => parseVersionRange('~2.3')).toThrow(/"~2.3"/);
    expect(() => parseVersionRange('>1 >2 >3 >4 >5')).toThrow(/at most 4/);
  });
});
