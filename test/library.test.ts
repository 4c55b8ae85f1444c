/**
 * The server as a library (docs/library.md): createServer() from typed settings, and examples/embed, a Fastify
 * app that mounts the API under /push, run as a reader runs it. Both on the storage mode of the run (PGlite, or
 * PostgreSQL when DATABASE_URL is set), sending to the sandbox emulator through the real HTTP API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ConfigError, createServer, type FcmServer, fcmServer } from '../src/library.ts';
import {
  collectOutput,
  fetchJson,
  freePort,
  freshDatabase,
  storageMode,
  TEST_ENCRYPTION_KEY,
  waitFor,
} from './helpers.ts';

const root = join(import.meta.dirname, '..');
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Where a server of this test keeps its data: a fresh PostgreSQL database, or a fresh embedded data directory. */
async function storage(): Promise<{ DATA_DIR: string; DATABASE_URL?: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fcms-library-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const fresh = await freshDatabase();
  await fresh.handle.close();
  cleanups.push(fresh.drop);
  return fresh.url ? { DATA_DIR: dataDir, DATABASE_URL: fresh.url } : { DATA_DIR: dataDir };
}

/** A JSON request to a listening server, answering status and body. */
async function call(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  const response = await fetchJson(`${base}${path}`, method, headers, body);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Registers a device, sends to it through the API at `base` and waits for the notification to complete. */
async function sendThrough(base: string, headers: Record<string, string>, token: string) {
  const device = await call(base, 'POST', '/api/v1/devices', headers, {
    platform: 'android',
    token,
    external_id: `user-${token}`,
  });
  expect(device.status).toBe(201);
  const sent = await call(base, 'POST', '/api/v1/notify', headers, {
    external_id: `user-${token}`,
    title: 'Hello from the library',
  });
  expect(sent.status).toBe(202);
  const id: string = sent.body.notification_id;
  const done = await waitFor(
    async () => {
      const status = await call(base, 'GET', `/api/v1/notifications/${id}`, headers);
      return ['queued', 'sending'].includes(status.body.status) ? undefined : status.body;
    },
    20_000,
    `notification ${id}`,
  );
  expect(done.status).toBe('completed');
  const inbox = await call(base, 'GET', '/api/v1/sandbox/messages', headers);
  expect(inbox.status).toBe(200);
  expect(inbox.body.items.map((item: { notification_id: string }) => item.notification_id)).toContain(id);
  return id;
}

describe(`createServer() (${storageMode()})`, () => {
  let server: FcmServer;
  let base: string;

  beforeAll(async () => {
    server = await createServer({
      settings: {
        NODE_ENV: 'test',
        ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        LOG_LEVEL: 'silent',
        VALIDATE_TOKENS_ON_REGISTER: false,
        SEND_CONCURRENCY: 2,
        CORS_ORIGINS: ['https://shop.example.com'],
        ...(await storage()),
      },
    });
    base = await server.listen({ host: '127.0.0.1', port: 0 });
  });

  it('takes typed settings through the environment schema: defaults applied, lists and booleans typed', () => {
    expect(server.config.send.concurrency).toBe(2);
    expect(server.config.corsOrigins).toEqual(['https://shop.example.com']);
    expect(server.config.devices.validateTokensOnRegister).toBe(false);
    // Not production and no FCM_BASE_URL: the sandbox emulator, as with `fcm-server start`.
    expect(server.config.fcm.emulator).toBe(true);
    expect(server.emulator).toBeDefined();
    expect(server.config.database.url === undefined).toBe(storageMode() === 'pglite');
  });

  it('refuses bad settings with the message the environment would get, naming each one', async () => {
    const failure = await createServer({ settings: { PORT: 70_000, SEND_CONCURRENCY: 0 } }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as Error).message).toMatch(/PORT:/);
    expect((failure as Error).message).toMatch(/SEND_CONCURRENCY:/);
  });

  it('sends a notification through its HTTP API to the sandbox emulator', async () => {
    const client = await server.createClient({ name: 'library' });
    const headers = { 'client-id': client.clientId, 'client-token': client.clientToken };
    await sendThrough(base, headers, 'library-device-0001');
    expect(
      server.emulator?.received().some((r) => JSON.stringify(r.message).includes('library-device-0001')),
    ).toBe(true);
  });

  it('close() stops the API, the workers, the queue and the database', async () => {
    await server.close();
    await expect(fetch(`${base}/api/v1/health`)).rejects.toThrow();
    await expect(server.createClient({ name: 'after-close' })).rejects.toThrow();
  });
});

describe(`examples/embed: the API mounted under /push in another Fastify app (${storageMode()})`, () => {
  let child: ChildProcess;
  let output: () => string;
  let shop: string;
  let headers: Record<string, string>;

  beforeAll(async () => {
    const port = await freePort();
    const { DATA_DIR, DATABASE_URL } = await storage();
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PORT: String(port), DATA_DIR };
    if (DATABASE_URL) env.DATABASE_URL = DATABASE_URL;
    // The `source` condition resolves `fcm-server` to src/ in this checkout; after `npm run build`, to dist/.
    child = spawn(
      process.execPath,
      ['--conditions=source', join('examples', 'embed', 'server.ts'), '--create-client', 'shop'],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    output = collectOutput(child);
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await waitFor(async () => (/shop listening on/.test(output()) ? true : undefined), 60_000, 'the shop');
    shop = `http://127.0.0.1:${port}`;
    const [, clientId, clientToken] = /^client (\S+) (\S+)$/m.exec(output()) ?? [];
    headers = { 'client-id': clientId!, 'client-token': clientToken! };
  }, 90_000);

  it("serves the shop's own routes next to the mounted API", async () => {
    const own = await call(shop, 'GET', '/', {});
    expect(own).toMatchObject({ status: 200, body: { service: 'shop' } });
    expect((await call(shop, 'GET', '/push/api/v1/health', {})).status).toBe(200);
  });

  it('sends through the mounted API to the sandbox emulator', async () => {
    await sendThrough(`${shop}/push`, headers, 'embedded-device-0001');
  });

  it('answers under the prefix as it does alone: our error format, request ids, body checks, OpenAPI', async () => {
    const missing = await call(shop, 'GET', '/push/api/v1/nothing-here', headers);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect(missing.headers.get('x-request-id')).toBe(missing.body.error.request_id);
    const unauthenticated = await call(shop, 'GET', '/push/api/v1/devices', {});
    expect(unauthenticated.status).toBe(401);
    const bad = await call(shop, 'POST', '/push/api/v1/devices', headers, { platform: 'fax' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('validation_error');
    // Paths in the document are relative to the mount point: a client's base URL is …/push.
    const openapi = await call(shop, 'GET', '/push/openapi.json', {});
    expect(openapi.status).toBe(200);
    expect(Object.keys(openapi.body.paths)).toContain('/api/v1/notify');
    // Outside the prefix the shop answers, not the push API.
    expect((await call(shop, 'GET', '/api/v1/health', {})).status).toBe(404);
  });

  it('streams events over WebSocket under the prefix', async () => {
    const socket = new WebSocket(`${shop.replace('http', 'ws')}/push/api/v1/events/stream`, { headers });
    cleanups.push(() => socket.terminate());
    const types: string[] = [];
    socket.on('message', (data) => types.push((JSON.parse(String(data)) as { type: string }).type));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await sendThrough(`${shop}/push`, headers, 'embedded-device-0002');
    await waitFor(
      async () => (types.includes('notification.completed') ? true : undefined),
      15_000,
      'events',
    );
    socket.close();
  });

  it('closes the server with the app on SIGTERM', async () => {
    expect(child.exitCode, output()).toBeNull();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited, output()).toBe(0);
    expect(output()).not.toMatch(/error/i);
  }, 30_000);
});

describe(`the fcmServer plugin (${storageMode()})`, () => {
  it('starts the server where it is registered and closes it with the app', async () => {
    // Starting takes longer than Fastify's default plugin timeout (10 s) on a fresh embedded database.
    const app = Fastify({ pluginTimeout: 120_000 });
    await app.register(fcmServer, {
      prefix: '/notifications-api',
      settings: {
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        ...(await storage()),
      },
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const health = await call(base, 'GET', '/notifications-api/api/v1/health', {});
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    await app.close();
  }, 120_000);

  it('refuses the dashboard under a prefix, which it could not serve', async () => {
    const app = Fastify();
    await expect(
      app.register(fcmServer, { prefix: '/push', settings: { DASHBOARD_ENABLED: true } }),
    ).rejects.toThrow(/dashboard is served at the root only/);
    await app.close();
  });
});
