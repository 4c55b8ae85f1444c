import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CidrError, formatCidr, isAllowed, normalizeCidrList, parseCidr } from './ip.ts';

describe('parseCidr', () => {
  it('reads IPv4 and IPv6 addresses and ranges, an address alone being a single-host range', () => {
    expect(parseCidr('203.0.113.7')).toEqual({ address: '203.0.113.7', prefix: 32, family: 'ipv4' });
    expect(parseCidr(' 10.0.0.0/8 ')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ prefix: 0 });
    expect(parseCidr('2001:DB8:0:0::1')).toEqual({ address: '2001:db8::1', prefix: 128, family: 'ipv6' });
    expect(formatCidr(parseCidr('2001:0db8::/32'))).toBe('2001:db8::/32');
    expect(formatCidr(parseCidr('::/0'))).toBe('::/0');
  });

  it.each([
    ['example.com', /not an IPv4 or IPv6/],
    ['10.0.0.256', /not an IPv4 or IPv6/],
    ['010.0.0.1', /not an IPv4 or IPv6/],
    ['10.0.0.0/33', /prefix length must be a number from 0 to 32/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['2001:db8::/129', /from 0 to 128/],
    ['fe80::1%eth0', /not an IPv4 or IPv6/],
    ['::ffff:10.0.0.1', /IPv4-mapped/],
    ['', /not an IPv4 or IPv6/],
  ])('rejects %j', (text, message) => {
    expect(() => parseCidr(text)).toThrowError(CidrError);
    expect(() => parseCidr(text)).toThrowError(message);
  });

  it('round-trips: a formatted range parses back to itself', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(128), (address, bits) => {
        const max = address.includes(':') ? 128 : 32;
        let cidr: ReturnType<typeof parseCidr>;
        try {
          cidr = parseCidr(`${address}/${bits % (max + 1)}`);
        } catch (error) {
          // fast-check generates IPv4-mapped IPv6 addresses too, which we refuse on purpose.
          expect((error as Error).message).toMatch(/IPv4-mapped/);
          return;
        }
        expect(parseCidr(formatCidr(cidr))).toEqual(cidr);
      }),
    );
  });
});

describe('normalizeCidrList', () => {
  it('normalises, drops duplicates and keeps the order', () => {
    expect(normalizeCidrList(['10.0.0.0/8', '2001:DB8::/32', '10.0.0.0/8', '198.51.100.4'])).toEqual({
      ok: true,
      cidrs: ['10.0.0.0/8', '2001:db8::/32', '198.51.100.4/32'],
    });
  });

  it('names every bad entry by its index', () => {
    const result = normalizeCidrList(['10.0.0.0/8', 'nope', '1.2.3.4/40']);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.index)).toEqual([1, 2]);
  });
});

describe('isAllowed', () => {
  const list = ['10.0.0.0/8', '198.51.100.4/32', '2001:db8::/32'];

  it('allows everyone with an empty list', () => {
    expect(isAllowed([], '203.0.113.1')).toBe(true);
    expect(isAllowed([], undefined)).toBe(true);
  });

  it('matches IPv4 and IPv6 addresses against their ranges', () => {
    expect(isAllowed(list, '10.200.3.4')).toBe(true);
    expect(isAllowed(list, '198.51.100.4')).toBe(true);
    expect(isAllowed(list, '198.51.100.5')).toBe(false);
    expect(isAllowed(list, '11.0.0.1')).toBe(false);
    expect(isAllowed(list, '2001:db8:abcd::1')).toBe(true);
    expect(isAllowed(list, '2001:db9::1')).toBe(false);
  });

  it('treats an IPv4-mapped IPv6 peer as its IPv4 address', () => {
    expect(isAllowed(list, '::ffff:10.1.1.1')).toBe(true);
    expect(isAllowed(list, '::ffff:11.1.1.1')).toBe(false);
  });

  it('refuses a missing or unparseable address, and ignores a stored entry that is not valid', () => {
    expect(isAllowed(list, undefined)).toBe(false);
    expect(isAllowed(list, 'garbage')).toBe(false);
    expect(isAllowed(['not-a-cidr'], '10.0.0.1')).toBe(false);
  });
});
