/**
 * SSRF guard for webhook targets: a tenant chooses the URL we POST to, so in production it must not reach our
 * own network (private, loopback, link-local incl. cloud metadata, unique-local, CGNAT, multicast, unspecified,
 * reserved), neither by an address in the URL nor by a name that resolves (or later re-resolves) to one.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';

/** Every range that is not the public internet (IANA special-purpose registries, IPv4 and IPv6). */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", incl. 0.0.0.0
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (169.254.169.254: cloud metadata)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. 255.255.255.255
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible addresses
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID, ...)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/** The 16 bytes of a valid IPv6 address text (a dotted IPv4 tail allowed). */
function ipv6Bytes(address: string): Buffer {
  let text = address;
  let tail: number[] | undefined;
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    tail = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const bytes = Buffer.alloc(16);
  [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right].forEach((group, i) => {
    bytes.writeUInt16BE(group, i * 2);
  });
  if (tail) bytes.set(tail, 12);
  return bytes;
}

const dotted = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

/** The IPv4 address an IPv6 address carries: IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or 6to4. */
function embeddedIPv4(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes.readUInt16BE(10) === 0xffff)
    return dotted(bytes, 12);
  if (bytes.readUInt32BE(0) === 0x0064ff9b && bytes.subarray(4, 12).every((b) => b === 0)) {
    return dotted(bytes, 12);
  }
  if (bytes.readUInt16BE(0) === 0x2002) return dotted(bytes, 2);
  return undefined;
}

/** Whether an IP address (v4 or v6, brackets allowed) is on the public internet. Not an IP: false. */
export function isPublicAddress(address: string): boolean {
  const text = address.replace(/^\[(.*)\]$/, '$1').split('%')[0]!;
  const family = isIP(text);
  if (family === 4) return !NOT_PUBLIC.check(text, 'ipv4');
  if (family !== 6) return false;
  const bytes = ipv6Bytes(text);
  const v4 = embeddedIPv4(bytes);
  if (v4 !== undefined && !isPublicAddress(v4)) return false;
  return !NOT_PUBLIC.check(text, 'ipv6');
}

/** Resolves a host name to all its addresses. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );

/**
 * Why a webhook URL's host is not an acceptable target, or undefined when it is: an address in the URL must be
 * public, and a name must resolve, to public addresses only (one private answer is enough to refuse).
 */
export async function targetProblem(
  url: URL,
  resolve: Resolver = systemResolver,
): Promise<string | undefined> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) {
    return isPublicAddress(host) ? undefined : `${host} is not a public address`;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is a loopback name`;
  let addresses: LookupAddress[];
  try {
    addresses = await resolve(host);
  } catch {
    return `${host} does not resolve`;
  }
  if (addresses.length === 0) return `${host} does not resolve`;
  const blocked = addresses.find((a) => !isPublicAddress(a.address));
  return blocked ? `${host} resolves to ${blocked.address}, which is not a public address` : undefined;
}

/** The error a refused connection fails with (code ESSRF, so the attempt log says why). */
export class BlockedTargetError extends Error {
  override name = 'BlockedTargetError';
  readonly code = 'ESSRF';
}

/**
 * A `lookup` for net/tls.connect that drops every non-public address the name resolves to at connect time, so
 * a name that passed the check at creation and was re-pointed at an internal address (DNS rebinding) fails.
 */
export function publicOnlyLookup(resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolve(hostname).then(
      (all) => {
        const usable = all.filter((a) => isPublicAddress(a.address) && (family === 0 || a.family === family));
        const first = usable[0];
        if (!first) callback(new BlockedTargetError(`${hostname} resolves to no public address`), '');
        else if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

/**
 * An undici Agent that connects to public addresses only: literal addresses are checked before connecting
 * (net.connect does not look them up), names through publicOnlyLookup.
 */
export function publicOnlyAgent(
  options: { connectTimeoutMs: number; headersTimeout: number; bodyTimeout: number },
  resolve: Resolver = systemResolver,
): Agent {
  const connect = buildConnector({ timeout: options.connectTimeoutMs, lookup: publicOnlyLookup(resolve) });
  return new Agent({
    headersTimeout: options.headersTimeout,
    bodyTimeout: options.bodyTimeout,
    connect: (opts, callback) => {
      const host = opts.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) !== 0 && !isPublicAddress(host)) {
        callback(new BlockedTargetError(`${host} is not a public address`), null);
        return;
      }
      connect(opts, callback);
    },
  });
}
