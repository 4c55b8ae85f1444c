/**
 * IP allowlists and trusted proxies: IPv4/IPv6 addresses and CIDR ranges, validated with node:net (no parser of
 * our own) and matched with a node:net BlockList built once per distinct list.
 */
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  /** The address in canonical form (IPv6 lower-case and compressed). */
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export class CidrError extends Error {
  override name = 'CidrError';
}

/**
 * Parses "203.0.113.7", "203.0.113.0/24", "2001:db8::/32" or "2001:db8::1" (an address alone is a /32 or a
 * /128). Throws a CidrError that names the bad entry.
 */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  const version = isIP(addressText);
  // isIP accepts zone ids (fe80::1%eth0): meaningless in an allowlist.
  if (version === 0 || addressText.includes('%')) {
    throw new CidrError(`"${text}" is not an IPv4 or IPv6 address or CIDR range`);
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      throw new CidrError(`"${text}": the prefix length must be a number from 0 to ${max}`);
    }
    prefix = Number(prefixText);
  }
  if (family === 'ipv4') return { address: addressText, prefix, family };
  // The URL parser is Node's IPv6 canonicaliser: 2001:DB8:0::1 → 2001:db8::1.
  const address = new URL(`http://[${addressText}]`).hostname.slice(1, -1);
  if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(address)) {
    throw new CidrError(`"${text}" is an IPv4-mapped IPv6 address: write it as an IPv4 address`);
  }
  return { address, prefix, family };
}

/** "address/prefix", the form stored and shown. */
export const formatCidr = (cidr: Cidr): string => `${cidr.address}/${cidr.prefix}`;

/**
 * Validates and normalises a list of addresses and ranges (duplicates dropped, order kept). Returns the
 * normalised list, or the problems with the index of each bad entry.
 */
export function normalizeCidrList(
  entries: readonly string[],
): { ok: true; cidrs: string[] } | { ok: false; errors: { index: number; message: string }[] } {
  const cidrs: string[] = [];
  const errors: { index: number; message: string }[] = [];
  entries.forEach((entry, index) => {
    try {
      const formatted = formatCidr(parseCidr(entry));
      if (!cidrs.includes(formatted)) cidrs.push(formatted);
    } catch (error) {
      errors.push({ index, message: (error as Error).message });
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, cidrs };
}

function toBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    try {
      const { address, prefix, family } = parseCidr(entry);
      list.addSubnet(address, prefix, family);
    } catch {
      // Entries are validated when stored; one edited into the database by hand matches nothing (fail closed).
    }
  }
  return list;
}

const MATCHER_CACHE_SIZE = 1_000;
const matchers = new Map<string, BlockList>();

/**
 * Whether an address is inside one of the ranges. An empty list allows every address. IPv4 peers reported as
 * IPv4-mapped IPv6 (::ffff:203.0.113.7, as dual-stack sockets do) match IPv4 ranges.
 */
export function isAllowed(cidrs: readonly string[], ip: string | undefined): boolean {
  if (cidrs.length === 0) return true;
  const version = ip === undefined ? 0 : isIP(ip);
  if (version === 0 || ip === undefined) return false;
  const key = cidrs.join(',');
  let matcher = matchers.get(key);
  if (!matcher) {
    if (matchers.size >= MATCHER_CACHE_SIZE) matchers.clear();
    matcher = toBlockList(cidrs);
    matchers.set(key, matcher);
  }
  return matcher.check(ip, version === 4 ? 'ipv4' : 'ipv6');
}
