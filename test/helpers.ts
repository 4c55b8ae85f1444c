/**
 * Integration-test harness: a real server (HTTP API + workers) on a fresh database cloned from the run's
 * template (PostgreSQL or PGlite), sending to its own FCM emulator. Tenants are created through the real flow.
 */

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import type { Logger } from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { type DatabaseHandle, openDatabase } from '../src/db/client.ts';
import { devices } from '../src/db/schema.ts';
import { createEmulator, type Emulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import type { Clock } from '../src/lib/clock.ts';
import { uuidv7 } from '../src/lib/ids.ts';
import { createLogger } from '../src/logger.ts';
import type { ServiceAccount } from '../src/push/push-provider.ts';
import { type Runtime, startRuntime } from '../src/runtime.ts';
import { createClient } from '../src/services/clients.service.ts';
import { databaseUrlFor } from './global-setup.ts';

/** A clock a test moves forward: time-based rules are tested without waiting for the time to pass. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start: Date | string = new Date()) {
    this.#now = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
  set(at: Date | string): void {
    this.#now = new Date(at).getTime();
  }
}

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

export const storageMode = (): 'postgres' | 'pglite' => (inject('databaseUrl') ? 'postgres' : 'pglite');

/** One statement on a short-lived connection (a long-lived one would not survive the PostgreSQL restart fault run). */
async function adminQuery(url: string, statement: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end().catch(() => {});
  }
}

/** A fresh database: CREATE DATABASE … TEMPLATE on PostgreSQL, the data-dir image on PGlite. */
export async function freshDatabase(): Promise<{
  handle: DatabaseHandle;
  url?: string;
  drop: () => Promise<void>;
}> {
  const url = inject('databaseUrl');
  const template = inject('templateDatabase');
  if (url && template) {
    const name = `fcm_t_${template.replace('fcm_tpl_', '')}_${randomBytes(4).toString('hex')}`;
    await adminQuery(url, `create database ${name} template ${template}`);
    const handle = await openDatabase({ url: databaseUrlFor(url, name), poolSize: 10, migrate: false });
    return {
      handle,
      url: databaseUrlFor(url, name),
      drop: () => adminQuery(url, `drop database if exists ${name} with (force)`),
    };
  }
  const image = new Blob([readFileSync(inject('pgliteImage')!)]);
  const handle = await openDatabase({ dataDir: 'memory://', pgliteImage: image });
  return { handle, drop: async () => {} };
}

export interface Tenant {
  clientId: string;
  token: string;
  headers: Record<string, string>;
  account: ServiceAccount;
  firebaseProjectId: string;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface TestServer {
  app: FastifyInstance;
  emulator: Emulator;
  runtime: Runtime;
  /** The fresh database's URL in PostgreSQL mode (for child processes); undefined on PGlite. */
  databaseUrl: string | undefined;
  /** Creates an API client and registers a Firebase project (unique project id) through the API. */
  tenant(name?: string): Promise<Tenant>;
  /** One API request as a tenant (its credentials) or with the given headers; the payload goes as JSON. */
  as(
    who: Tenant | Record<string, string>,
    method: Method,
    url: string,
    payload?: unknown,
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

const isTenant = (who: Tenant | Record<string, string>): who is Tenant => typeof who.headers === 'object';

let projectCounter = 0;

/**
 * `env` overrides the test defaults. Token validation at registration is off by default so that tests counting
 * the messages the emulator received see sends only (test/reliability.test.ts turns it on). `worker: false`
 * runs the API alone, for tests that run the workers in another process.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { worker?: boolean; logger?: Logger; emulator?: Emulator; clock?: Clock } = {},
): Promise<TestServer> {
  const emulator = options.emulator ?? (await createEmulator({ host: '127.0.0.1', port: 0 }));
  const { handle, url: databaseUrl, drop } = await freshDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: 'memory://',
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    FCM_EMULATOR: 'false',
    FCM_BASE_URL: emulator.url,
    LOG_LEVEL: 'silent',
    SEND_RETRY_BASE_MS: '200',
    SEND_RETRY_MAX_MS: '1000',
    VALIDATE_TOKENS_ON_REGISTER: 'false',
    ...env,
  });
  const runtime = await startRuntime({
    config,
    logger: options.logger ?? createLogger('silent'),
    roles: { api: true, worker: options.worker ?? true },
    database: handle,
    emulator,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const app = runtime.app!;
  await app.ready();
  return {
    app,
    emulator,
    runtime,
    databaseUrl,
    async tenant(name = 'tenant') {
      const created = await createClient(runtime.deps, { name });
      const headers = { 'client-id': created.clientId, 'client-token': created.clientToken };
      projectCounter += 1;
      const projectId = `test-${process.pid}-${projectCounter}-${randomBytes(3).toString('hex')}`;
      const { account } = createTestServiceAccount({ projectId, tokenUri: emulator.tokenUri });
      emulator.addServiceAccount(account);
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/firebase-projects/',
        headers,
        payload: { service_account: account },
      });
      if (response.statusCode !== 201)
        throw new Error(`firebase project registration failed: ${response.body}`);
      return {
        clientId: created.clientId,
        token: created.clientToken,
        headers,
        account,
        firebaseProjectId: response.json().id,
      };
    },
    as(who, method, url, payload) {
      return app.inject({
        method,
        url,
        headers: isTenant(who) ? who.headers : who,
        ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
      });
    },
    async close() {
      await runtime.close();
      await emulator.close();
      await drop();
    },
  };
}

/**
 * Inserts `count` active Android devices of a tenant by multi-row SQL (registering thousands through the API
 * would take most of a test's time); tokens are `${prefix}-${i}-token-0123456789`. Returns their ids in order.
 */
export async function seedDevices(
  server: TestServer,
  tenant: Tenant,
  prefix: string,
  count: number,
  fields: { timezone?: (i: number) => string | null } = {},
): Promise<string[]> {
  const { db, cipher } = server.runtime.deps;
  const ids: string[] = [];
  for (let done = 0; done < count; done += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - done) }, (_, k) => {
      const i = done + k;
      const token = `${prefix}-${i}-token-0123456789`;
      return {
        id: uuidv7(),
        apiClientId: tenant.clientId,
        platform: 'android' as const,
        tokenCiphertext: cipher.encrypt(token),
        tokenHash: cipher.blindIndex(token),
        timezone: fields.timezone?.(i) ?? null,
      };
    });
    await db.insert(devices).values(rows);
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}

/** Polls until the check returns a value (not undefined), or fails after the timeout. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function errorOf(response: LightMyRequestResponse): {
  code: string;
  message: string;
  details: unknown[];
  request_id: string;
} {
  const body = response.json() as {
    error?: { code: string; message: string; details: unknown[]; request_id: string };
  };
  if (!body.error) throw new Error(`expected an error body, got ${response.body}`);
  return body.error;
}

/** Waits until a notification leaves queued/sending and returns it. */
export async function waitForNotification(server: TestServer, tenant: Tenant, id: string) {
  return waitFor(
    async () => {
      const response = await server.app.inject({
        method: 'GET',
        url: `/api/v1/notifications/${id}/`,
        headers: tenant.headers,
      });
      const body = response.json();
      return ['queued', 'sending'].includes(body.status) ? undefined : body;
    },
    20_000,
    `notification ${id} to finish`,
  );
}

/** Collects a child process's stdout and stderr, for a failing test to show what the process said. */
export function collectOutput(child: ChildProcess): () => string {
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => output;
}

/** A loopback port that was free a moment ago (for a child process that must listen on a known port). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Makes a test server's app listen on a free loopback port, for clients in other processes; returns its URL. */
export async function listenOnLoopback(server: TestServer): Promise<string> {
  return (await server.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
}

/** What the device that received the emulator's last push would post back to /receipts. */
export async function receiptOfLastPush(
  emulator: Emulator,
): Promise<{ delivery_id: string; receipt_token: string }> {
  return waitFor(async () => {
    const push = emulator
      .received()
      .filter((r) => r.status === 200 && !r.validateOnly)
      .at(-1);
    const data = (push?.message as { data?: Record<string, string> } | undefined)?.data;
    return data?.fcms_delivery_id && data.fcms_receipt
      ? { delivery_id: data.fcms_delivery_id, receipt_token: data.fcms_receipt }
      : undefined;
  });
}

/** A real HTTP request with an optional JSON body (content type set only when there is one). */
export function fetchJson(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Response> {
  return fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A webhook receiver on 127.0.0.1 that answers 204 to everything and keeps each body it got. */
export async function startHookReceiver(): Promise<{
  received: string[];
  url: (path: string) => string;
  close: () => Promise<void>;
}> {
  const received: string[] = [];
  const server = createHttpServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(body);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    received,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
