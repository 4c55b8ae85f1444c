import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress, publicOnlyAgent, publicOnlyLookup, type Resolver, targetProblem } from './ssrf.ts';

/** A resolver answering from a table, as DNS would (an unknown name fails). */
const fakeDns =
  (table: Record<string, string[]>): Resolver =>
  async (hostname) => {
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('isPublicAddress', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '11.0.0.1',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('%s is public', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ['0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['198.18.0.1', 'benchmarking'],
    ['192.0.2.10', 'documentation'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback in URL brackets'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['64:ff9b::7f00:1', 'NAT64 of loopback'],
    ['2002:a00:1::1', '6to4 of 10.0.0.1'],
    ['2001:db8::1', 'documentation'],
    ['example.com', 'not an address'],
  ])('%s is not public (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('targetProblem', () => {
  const dns = fakeDns({
    'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'internal.example.com': ['10.0.0.7'],
    'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
    'metadata.example.com': ['::ffff:169.254.169.254'],
    'empty.example.com': [],
  });
  const problem = (url: string) => targetProblem(new URL(url), dns);

  it('accepts public addresses and names resolving only to public addresses', async () => {
    expect(await problem('https://hooks.example.com/fcm')).toBeUndefined();
    expect(await problem('https://93.184.216.34:8443/')).toBeUndefined();
    expect(await problem('https://[2606:4700:4700::1111]/')).toBeUndefined();
  });

  it('refuses private literals, also in the forms the URL parser normalises', async () => {
    expect(await problem('https://127.0.0.1/')).toMatch(/127\.0\.0\.1 is not a public address/);
    expect(await problem('https://2130706433/')).toMatch(/127\.0\.0\.1/);
    expect(await problem('https://0x7f.1/')).toMatch(/127\.0\.0\.1/);
    expect(await problem('https://[::1]/')).toMatch(/::1 is not a public address/);
    expect(await problem('https://[::ffff:127.0.0.1]/')).toMatch(/not a public address/);
    expect(await problem('https://169.254.169.254/latest/meta-data/')).toMatch(/not a public/);
  });

  it('refuses loopback names and names resolving to any non-public address', async () => {
    expect(await problem('https://localhost/')).toMatch(/loopback name/);
    expect(await problem('https://api.localhost/')).toMatch(/loopback name/);
    expect(await problem('https://internal.example.com/')).toMatch(/resolves to 10\.0\.0\.7/);
    expect(await problem('https://mixed.example.com/')).toMatch(/resolves to 127\.0\.0\.1/);
    expect(await problem('https://metadata.example.com/')).toMatch(/169\.254\.169\.254/);
  });

  it('refuses names that do not resolve', async () => {
    expect(await problem('https://nowhere.example.com/')).toMatch(/does not resolve/);
    expect(await problem('https://empty.example.com/')).toMatch(/does not resolve/);
  });
});

describe('publicOnlyLookup', () => {
  const lookup = publicOnlyLookup(
    fakeDns({ 'mixed.example.com': ['127.0.0.1', '93.184.216.34'], 'rebound.example.com': ['10.0.0.1'] }),
  );
  const run = (hostname: string, all: boolean) =>
    new Promise<{ error: NodeJS.ErrnoException | null; result: string | LookupAddress[] }>((resolve) =>
      lookup(hostname, { all }, (error, result) => resolve({ error, result })),
    );

  it('keeps only the public addresses, in both callback forms', async () => {
    expect((await run('mixed.example.com', true)).result).toEqual([{ address: '93.184.216.34', family: 4 }]);
    expect((await run('mixed.example.com', false)).result).toBe('93.184.216.34');
  });

  it('fails with ESSRF when nothing public is left (DNS rebinding)', async () => {
    const { error } = await run('rebound.example.com', true);
    expect(error).toMatchObject({ code: 'ESSRF' });
  });
});

describe('publicOnlyAgent', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('does not connect to a private literal nor to a name resolving to one at connect time', async () => {
    const agent = publicOnlyAgent(
      { connectTimeoutMs: 1000, headersTimeout: 1000, bodyTimeout: 1000 },
      fakeDns({ 'rebound.example.com': ['127.0.0.1'] }),
    );
    try {
      await expect(request(`http://127.0.0.1:${port}/`, { dispatcher: agent })).rejects.toMatchObject({
        code: 'ESSRF',
      });
      await expect(request(`http://[::1]:${port}/`, { dispatcher: agent })).rejects.toMatchObject({
        code: 'ESSRF',
      });
      await expect(
        request(`http://rebound.example.com:${port}/`, { dispatcher: agent }),
      ).rejects.toMatchObject({ code: 'ESSRF' });
      // The same server is reachable without the guard: the refusal is the guard's.
      expect((await request(`http://127.0.0.1:${port}/`)).statusCode).toBe(200);
    } finally {
      await agent.close();
    }
  });
});
