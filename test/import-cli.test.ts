/**
 * `fcm-server import devices` for real: the command line in its own process, against a live server on a real
 * port, with a CSV file and an NDJSON file each holding a bad line. The devices land, the summary says what
 * happened, the rejected lines are in their file with the file's line numbers, `--validate` reaches the server.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { listenOnLoopback, startTestServer, type Tenant, type TestServer } from './helpers.ts';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '..', 'bin', 'fcm-server.js');
const dir = mkdtempSync(join(tmpdir(), 'fcm-import-'));
let server: TestServer;
let tenant: Tenant;
let baseUrl: string;

beforeAll(async () => {
  server = await startTestServer({}, { worker: false });
  tenant = await server.tenant('cli-import');
  baseUrl = await listenOnLoopback(server);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

function importFile(file: string, ...options: string[]) {
  return run(
    process.execPath,
    [bin, 'import', 'devices', file, '--url', baseUrl, '--client-id', tenant.clientId, ...options],
    { env: { ...process.env, FCM_SERVER_CLIENT_TOKEN: tenant.token } },
  );
}

async function devicesWithTokenPrefix(prefix: string): Promise<number> {
  const rows = await query<{ id: string; token_ciphertext: string }>(
    server.runtime.deps.db,
    sql`select id, token_ciphertext from devices where api_client_id = ${tenant.clientId}`,
  );
  return rows.filter((r) => server.runtime.deps.cipher.decrypt(r.token_ciphertext).startsWith(prefix)).length;
}

describe('fcm-server import devices', () => {
  it('imports a CSV file in several requests, with plain progress lines, a summary and a rejects file', async () => {
    const rows = Array.from(
      { length: 25 },
      (_, i) =>
        `android,csv-token-${String(i).padStart(4, '0')},+2557123${String(i).padStart(5, '0')},2.0.${i},a|b`,
    );
    rows.splice(10, 0, 'pager,csv-token-bad-platform,,,');
    const file = join(dir, 'devices.csv');
    writeFileSync(file, `platform,token,phone_number,app_version,tags\n${rows.join('\n')}\n`);
    const { stdout, stderr } = await importFile(file, '--batch-size', '10');
    expect(stdout).toMatch(
      /Imported .*devices\.csv: 26 lines in [\d.]+ s: 25 created, 0 updated, 1 rejected/,
    );
    expect(stderr.trim().split('\n')).toHaveLength(3);
    expect(stderr).toMatch(/^imported 10 lines \(created 10, updated 0, rejected 0\)/);
    const rejected = readFileSync(`${file}.rejected.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ line: 12, error: { code: 'validation_error' } });
    expect(await devicesWithTokenPrefix('csv-token-')).toBe(25);

    const [device] = (await server.as(tenant, 'GET', '/api/v1/devices/?tag=b&limit=1')).json().items;
    expect(device).toMatchObject({ app_version: expect.stringMatching(/^2\.0\./), tags: ['a', 'b'] });

    const again = await importFile(file, '--rejects', join(dir, 'again.ndjson'));
    expect(again.stdout).toMatch(/26 lines in [\d.]+ s: 0 created, 25 updated, 1 rejected/);
    expect(await devicesWithTokenPrefix('csv-token-')).toBe(25);
  }, 120_000);

  it('imports NDJSON, passes --validate through, and reports lines that are not JSON', async () => {
    server.emulator.setFaults({ tokens: { 'ndjson-token-dead': 'UNREGISTERED' } });
    const file = join(dir, 'devices.ndjson');
    writeFileSync(
      file,
      [
        JSON.stringify({
          platform: 'ios',
          token: 'ndjson-token-live',
          external_id: 'crm-7',
          locale: 'en-GB',
        }),
        '',
        '{"platform": "web", "token": "ndjson-token-broken"',
        JSON.stringify({ platform: 'android', token: 'ndjson-token-dead' }),
      ].join('\n'),
    );
    const { stdout } = await importFile(file, '--validate');
    server.emulator.setFaults({});
    expect(stdout).toMatch(/3 lines in [\d.]+ s: 1 created, 0 updated, 2 rejected/);
    const rejected = readFileSync(`${file}.rejected.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rejected.map((r) => [r.line, r.error.code])).toEqual([
      [3, 'malformed_json'],
      [4, 'invalid_token'],
    ]);
  }, 120_000);

  it('refuses unknown CSV columns and missing credentials before sending anything', async () => {
    const file = join(dir, 'wrong.csv');
    writeFileSync(file, 'platform,token,colour\nandroid,wrong-column-token,red\n');
    await expect(importFile(file)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/colour/),
    });
    await expect(
      run(process.execPath, [bin, 'import', 'devices', file, '--url', baseUrl], {
        env: { ...process.env, FCM_SERVER_CLIENT_TOKEN: '' },
      }),
    ).rejects.toMatchObject({ code: 2 });
    expect(await devicesWithTokenPrefix('wrong-column')).toBe(0);
  }, 120_000);
});
