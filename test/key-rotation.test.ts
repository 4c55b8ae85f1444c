/**
 * Encryption key rotation, as an operator does it: data written under key A; restart with B current and A
 * previous (everything still reads, sends and receipts still work); rotate (every row under B, blind indexes
 * too); drop A (still works, a re-registered token finds its device). Batches commit on their own, so a run
 * that stops half-way is resumed by running it again.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { type DatabaseHandle, query } from '../src/db/client.ts';
import { createEmulator, type Emulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { createCipher, keyIdOf } from '../src/lib/crypto.ts';
import { uuidv7 } from '../src/lib/ids.ts';
import { createLogger } from '../src/logger.ts';
import { type Runtime, startRuntime } from '../src/runtime.ts';
import { createClient } from '../src/services/clients.service.ts';
import { type RotationProgress, rotateEncryptionKey } from '../src/services/key-rotation.service.ts';
import { freshDatabase, waitFor } from './helpers.ts';

const keyA = Buffer.alloc(32, 0xa1);
const keyB = Buffer.alloc(32, 0xb2);
const b64 = (key: Buffer) => key.toString('base64');

let emulator: Emulator;
let database: DatabaseHandle;
let drop: () => Promise<void>;
let runtime: Runtime | undefined;
let headers: Record<string, string>;
let projectId: string;
let tenantId: string;
const tokens = { one: `rotation-token-one-${Date.now()}`, two: `rotation-token-two-${Date.now()}` };
const deviceIds: Record<string, string> = {};
let receipt: { delivery_id: string; receipt_token: string };

/** (Re)starts the server on the same database with these keys, as a deploy with new settings would. */
async function restart(env: Record<string, string>): Promise<Runtime> {
  await runtime?.close();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: 'memory://',
    FCM_EMULATOR: 'false',
    FCM_BASE_URL: emulator.url,
    LOG_LEVEL: 'silent',
    ...env,
  });
  runtime = await startRuntime({
    config,
    logger: createLogger('silent'),
    roles: { api: true, worker: true },
    // The database outlives each runtime (a restart), so the runtime must not close it.
    database: { ...database, close: async () => {} },
    emulator,
  });
  await runtime.app!.ready();
  return runtime;
}

const api = (method: 'GET' | 'POST', url: string, payload?: object) =>
  runtime!.app!.inject({ method, url, headers, ...(payload ? { payload } : {}) });

async function sendAndWait(): Promise<string[]> {
  const before = emulator.received({ projectId }).length;
  const accepted = await api('POST', '/api/v1/notify/', { external_id: 'u1', title: 'Hello' });
  expect(accepted.statusCode, accepted.body).toBe(202);
  const id = accepted.json().notification_id;
  const done = await waitFor(async () => {
    const body = (await api('GET', `/api/v1/notifications/${id}/`)).json();
    return ['queued', 'sending'].includes(body.status) ? undefined : body;
  });
  expect(done.status).toBe('completed');
  return emulator
    .received({ projectId })
    .slice(before)
    .map((r) => (r.message as { token: string }).token);
}

const ciphertexts = async () =>
  query<{ value: string }>(
    database.db,
    sql`select value from (select token_ciphertext as value from devices
      union all select credentials_ciphertext from firebase_projects
      union all select secret_ciphertext from webhook_endpoints
      union all select previous_secret_ciphertext from webhook_endpoints) v where value is not null`,
  );

beforeAll(async () => {
  emulator = await createEmulator({ host: '127.0.0.1', port: 0 });
  ({ handle: database, drop } = await freshDatabase());
});
afterAll(async () => {
  await runtime?.close();
  await database?.close();
  await drop?.();
  await emulator?.close();
});

describe('encryption key rotation', () => {
  it('writes devices, credentials and webhook secrets under key A', async () => {
    await restart({ ENCRYPTION_KEY: b64(keyA) });
    const client = await createClient(runtime!.deps, { name: 'rotating' });
    tenantId = client.clientId;
    headers = { 'client-id': client.clientId, 'client-token': client.clientToken };
    projectId = `rotation-${Date.now()}`;
    const { account } = createTestServiceAccount({ projectId, tokenUri: emulator.tokenUri });
    emulator.addServiceAccount(account);
    expect((await api('POST', '/api/v1/firebase-projects/', { service_account: account })).statusCode).toBe(
      201,
    );
    for (const [name, token] of Object.entries(tokens)) {
      const device = await api('POST', '/api/v1/devices/', { platform: 'android', token, external_id: 'u1' });
      expect(device.statusCode).toBe(201);
      deviceIds[name] = device.json().id;
    }
    const cipher = runtime!.deps.cipher;
    await query(
      database.db,
      sql`insert into webhook_endpoints (id, api_client_id, url, secret_ciphertext, previous_secret_ciphertext)
        values (${uuidv7()}, ${tenantId}, 'https://hooks.example.com/a', ${cipher.encrypt('whsec_current')},
          ${cipher.encrypt('whsec_previous')}),
          (${uuidv7()}, ${tenantId}, 'https://hooks.example.com/b', ${cipher.encrypt('whsec_only')}, null)`,
    );
    expect(new Set(await sendAndWait())).toEqual(new Set(Object.values(tokens)));
    const message = emulator.received({ projectId }).at(-1)!.message as { data: Record<string, string> };
    receipt = { delivery_id: message.data.fcms_delivery_id!, receipt_token: message.data.fcms_receipt! };
    for (const { value } of await ciphertexts()) expect(value.startsWith(`v1:${keyIdOf(keyA)}:`)).toBe(true);
  });

  it('with B current and A previous: reads, sends and old receipt tokens work; a re-registration re-indexes', async () => {
    await restart({ ENCRYPTION_KEY: b64(keyB), ENCRYPTION_KEYS_PREVIOUS: b64(keyA) });
    const list = await api('GET', '/api/v1/devices/');
    expect(
      list
        .json()
        .items.map((d: { token_suffix: string }) => d.token_suffix)
        .sort(),
    ).toEqual(
      Object.values(tokens)
        .map((t) => t.slice(-8))
        .sort(),
    );
    const acknowledged = await runtime!.app!.inject({
      method: 'POST',
      url: '/api/v1/receipts/',
      payload: { ...receipt, status: 'delivered' },
    });
    expect(acknowledged.statusCode, acknowledged.body).toBe(200);
    expect(new Set(await sendAndWait())).toEqual(new Set(Object.values(tokens)));

    const again = await api('POST', '/api/v1/devices/', {
      platform: 'android',
      token: tokens.two,
      external_id: 'u1',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(deviceIds.two);
    const [row] = await query<{ token_hash: string; token_ciphertext: string }>(
      database.db,
      sql`select token_hash, token_ciphertext from devices where id = ${deviceIds.two}`,
    );
    expect(row!.token_hash).toBe(createCipher(keyB).blindIndex(tokens.two));
    expect(row!.token_ciphertext.startsWith(`v1:${keyIdOf(keyB)}:`)).toBe(true);
  });

  it('stops at a value under an unknown key, keeps what it did, and resumes when run again', async () => {
    const cipher = runtime!.deps.cipher;
    const stranger = createCipher(Buffer.alloc(32, 0xcc));
    const orphan = uuidv7();
    await query(
      database.db,
      sql`insert into devices (id, api_client_id, platform, token_ciphertext, token_hash)
        values (${orphan}, ${tenantId}, 'web', ${stranger.encrypt('lost')}, ${stranger.blindIndex('lost')})`,
    );
    await expect(rotateEncryptionKey({ db: database.db, cipher }, { batchSize: 1 })).rejects.toThrow(
      new RegExp(`devices.token_ciphertext of row ${orphan}: value was encrypted with key ${stranger.keyId}`),
    );
    // The device before it was re-encrypted in its own batch and stays so.
    const [one] = await query<{ token_ciphertext: string }>(
      database.db,
      sql`select token_ciphertext from devices where id = ${deviceIds.one}`,
    );
    expect(cipher.isCurrent(one!.token_ciphertext)).toBe(true);
    await query(database.db, sql`delete from devices where id = ${orphan}`);
  });

  it('re-encrypts every remaining value under B in small batches, re-indexing tokens, and is idempotent', async () => {
    const cipher = runtime!.deps.cipher;
    const progress: RotationProgress[] = [];
    const reports = await rotateEncryptionKey(
      { db: database.db, cipher },
      {
        batchSize: 1,
        onProgress: (p) => progress.push(p),
      },
    );
    expect(reports).toEqual([
      { table: 'devices', column: 'token_ciphertext', reencrypted: 0, duplicates: 0 },
      { table: 'firebase_projects', column: 'credentials_ciphertext', reencrypted: 1, duplicates: 0 },
      { table: 'webhook_endpoints', column: 'secret_ciphertext', reencrypted: 2, duplicates: 0 },
      { table: 'webhook_endpoints', column: 'previous_secret_ciphertext', reencrypted: 1, duplicates: 0 },
    ]);
    expect(progress.filter((p) => p.column === 'secret_ciphertext')).toEqual([
      { table: 'webhook_endpoints', column: 'secret_ciphertext', done: 1, total: 2 },
      { table: 'webhook_endpoints', column: 'secret_ciphertext', done: 2, total: 2 },
    ]);
    const values = await ciphertexts();
    expect(values).toHaveLength(6);
    for (const { value } of values) expect(value.startsWith(`v1:${keyIdOf(keyB)}:`)).toBe(true);
    const hashes = await query<{ id: string; token_hash: string }>(
      database.db,
      sql`select id::text as id, token_hash from devices where api_client_id = ${tenantId}`,
    );
    const onlyB = createCipher(keyB);
    expect(Object.fromEntries(hashes.map((h) => [h.id, h.token_hash]))).toEqual({
      [deviceIds.one!]: onlyB.blindIndex(tokens.one),
      [deviceIds.two!]: onlyB.blindIndex(tokens.two),
    });
    const second = await rotateEncryptionKey({ db: database.db, cipher });
    expect(second.every((r) => r.reencrypted === 0)).toBe(true);
  });

  it('without A: everything still reads and sends, and a re-registered token finds its device', async () => {
    await restart({ ENCRYPTION_KEY: b64(keyB) });
    expect(runtime!.deps.cipher.previousKeyIds).toEqual([]);
    expect((await api('GET', `/api/v1/devices/${deviceIds.one}/`)).json().token_suffix).toBe(
      tokens.one.slice(-8),
    );
    expect(new Set(await sendAndWait())).toEqual(new Set(Object.values(tokens)));
    const again = await api('POST', '/api/v1/devices/', {
      platform: 'android',
      token: tokens.one,
      external_id: 'u1',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(deviceIds.one);
    const [{ n }] = (await query<{ n: string }>(
      database.db,
      sql`select count(*) as n from devices where api_client_id = ${tenantId}`,
    )) as [{ n: string }];
    expect(Number(n)).toBe(2);
    const secrets = await query<{ secret_ciphertext: string; previous_secret_ciphertext: string | null }>(
      database.db,
      sql`select secret_ciphertext, previous_secret_ciphertext from webhook_endpoints order by url`,
    );
    const cipher = runtime!.deps.cipher;
    expect(secrets.map((s) => cipher.decrypt(s.secret_ciphertext))).toEqual(['whsec_current', 'whsec_only']);
    expect(cipher.decrypt(secrets[0]!.previous_secret_ciphertext!)).toBe('whsec_previous');
  });
});

describe('fcm-server rotate-encryption-key', () => {
  const run = promisify(execFile);
  const bin = join(import.meta.dirname, '..', 'bin', 'fcm-server.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'fcm-rotate-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'development' };
  delete env.DATABASE_URL;
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('needs the new key in ENCRYPTION_KEY', async () => {
    const failed = (await run(process.execPath, [bin, 'rotate-encryption-key'], { env }).catch(
      (error: unknown) => error,
    )) as { code: number; stderr: string };
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/ENCRYPTION_KEY and the old one\(s\) in ENCRYPTION_KEYS_PREVIOUS/);
  });

  it('runs on a database and reports each column', async () => {
    const { stdout } = await run(process.execPath, [bin, 'rotate-encryption-key', '--batch-size', '100'], {
      env: { ...env, ENCRYPTION_KEY: b64(keyB), ENCRYPTION_KEYS_PREVIOUS: b64(keyA) },
    });
    expect(stdout).toContain(`Re-encrypting under key ${keyIdOf(keyB)} (decrypting ${keyIdOf(keyA)})`);
    expect(stdout).toContain('devices.token_ciphertext: 0 re-encrypted');
    expect(stdout).toContain(`Done: every value is under key ${keyIdOf(keyB)}`);
  }, 60_000);
});
