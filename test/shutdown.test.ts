/**
 * Graceful shutdown for real: a worker process (`fcm-server worker` on PostgreSQL, `fcm-server start` in the
 * embedded mode, which holds the data directory alone) gets SIGTERM while send batches are at a slow FCM
 * emulator. It must stop fetching, let the in-flight batches finish and record, exit 0 within
 * SHUTDOWN_TIMEOUT_MS, and a restarted process must send the rest: every device gets its push exactly once.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmulator, type Emulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import {
  collectOutput,
  fetchJson,
  startTestServer,
  storageMode,
  TEST_ENCRYPTION_KEY,
  type TestServer,
  waitFor,
} from './helpers.ts';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '..', 'bin', 'fcm-server.js');
const SHUTDOWN_TIMEOUT_MS = 8000;
const DEVICES = 40;
const LATENCY_MS = 1500;

interface Child {
  process: ChildProcess;
  output(): string;
}

function spawnServer(command: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [bin, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return { process: child, output: collectOutput(child) };
}

/** Sends a signal and resolves with the exit code and how long the exit took. */
async function stop(
  child: Child,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<{ code: number | null; ms: number }> {
  if (child.process.exitCode !== null) return { code: child.process.exitCode, ms: 0 };
  const started = Date.now();
  const exited = new Promise<number | null>((resolve) => child.process.once('exit', (code) => resolve(code)));
  child.process.kill(signal);
  return { code: await exited, ms: Date.now() - started };
}

interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

/** The same story in both storage modes: an API to call, and a way to (re)start the process that sends. */
interface Harness {
  emulator: Emulator;
  projectId: string;
  /** DEVICES registered devices of the tenant. */
  devices: string[];
  /** A sender already running after the set-up (the embedded mode registers devices through it). */
  running: Child | undefined;
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiResponse>;
  startSender(): Promise<Child>;
  cleanup(): Promise<void>;
}

const baseEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    FCM_EMULATOR: 'false',
    VALIDATE_TOKENS_ON_REGISTER: 'false',
    SEND_BATCH_SIZE: '5',
    SEND_CONCURRENCY: '2',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    PORT: '0',
  };
  delete env.DATABASE_URL;
  return env;
};

/** PostgreSQL: the API runs in this process on a fresh database; `fcm-server worker` processes send. */
async function postgresHarness(): Promise<Harness> {
  // The API makes the batches of a send to named devices as it accepts it: the same batch size as the workers'.
  const server: TestServer = await startTestServer({ SEND_BATCH_SIZE: '5' }, { worker: false });
  const tenant = await server.tenant('drain');
  const env = {
    ...baseEnv(),
    DATABASE_URL: server.runtime.database.url!,
    FCM_BASE_URL: server.emulator.url,
  };
  const harness: Harness = {
    emulator: server.emulator,
    projectId: tenant.account.project_id,
    devices: [],
    running: undefined,
    async api(method, path, body) {
      const response = await server.app.inject({
        method,
        url: path,
        headers: tenant.headers,
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: response.statusCode, body: response.json() };
    },
    async startSender() {
      const child = spawnServer('worker', env);
      await waitFor(
        async () => (/worker running/.test(child.output()) ? true : undefined),
        60_000,
        `the worker to start (output: ${child.output()})`,
      );
      return child;
    },
    cleanup: () => server.close(),
  };
  harness.devices = await registerDevices(harness);
  return harness;
}

/** Embedded: `fcm-server start` owns its data directory; everything goes over HTTP to it. */
async function embeddedHarness(): Promise<Harness> {
  const emulator = await createEmulator({ host: '127.0.0.1', port: 0 });
  const dataDir = mkdtempSync(join(tmpdir(), 'fcm-drain-'));
  const env = { ...baseEnv(), DATA_DIR: dataDir, FCM_BASE_URL: emulator.url };
  let baseUrl = '';
  let headers: Record<string, string> = {};
  const harness: Harness = {
    emulator,
    projectId: `drain-${process.pid}-${Date.now()}`,
    devices: [],
    running: undefined,
    async api(method, path, body) {
      const response = await fetchJson(`${baseUrl}${path}`, method, headers, body);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async startSender() {
      const child = spawnServer('start', env);
      baseUrl = await waitFor(
        async () => /fcm-server is running: (http:\/\/\S+)/.exec(child.output())?.[1],
        60_000,
        `the server to start (output: ${child.output()})`,
      );
      return child;
    },
    async cleanup() {
      await emulator.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  harness.running = await harness.startSender();
  const { stdout } = await run(process.execPath, [bin, 'create-client', '--name', 'drain', '--json'], {
    env,
  });
  const credentials = JSON.parse(stdout) as { client_id: string; client_token: string };
  headers = { 'client-id': credentials.client_id, 'client-token': credentials.client_token };
  const { account } = createTestServiceAccount({ projectId: harness.projectId, tokenUri: emulator.tokenUri });
  emulator.addServiceAccount(account);
  const project = await harness.api('POST', '/api/v1/firebase-projects/', { service_account: account });
  expect(project.status).toBe(201);
  harness.devices = await registerDevices(harness);
  return harness;
}

async function registerDevices(harness: Harness): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const response = await harness.api('POST', '/api/v1/devices/', {
      platform: 'android',
      token: `drain-token-${i}`,
    });
    expect(response.status).toBe(201);
    ids.push(response.body.id as string);
  }
  return ids;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe('SIGTERM while sending', () => {
  it('finishes the in-flight batches, exits 0 within SHUTDOWN_TIMEOUT_MS, and a restart sends the rest exactly once', async () => {
    const harness = storageMode() === 'postgres' ? await postgresHarness() : await embeddedHarness();
    cleanups.push(() => harness.cleanup());
    const children: Child[] = [];
    cleanups.unshift(async () => {
      for (const child of children) await stop(child, 'SIGKILL');
    });

    const sender = harness.running ?? (await harness.startSender());
    children.push(sender);
    const devices = harness.devices;
    harness.emulator.setFaults({ latencyMs: LATENCY_MS });
    const accepted = await harness.api('POST', '/api/v1/notify/', { device_ids: devices, title: 'Drain me' });
    expect(accepted.status).toBe(202);
    const notificationId = accepted.body.notification_id as string;

    // Batches are at FCM (answers take LATENCY_MS): stop now.
    await waitFor(
      async () => (harness.emulator.stats().sendRequests > 0 ? true : undefined),
      30_000,
      'a send',
    );
    const stopped = await stop(sender);
    expect(stopped.code, sender.output()).toBe(0);
    expect(stopped.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 5000);
    const answeredBeforeExit = harness.emulator.received({ projectId: harness.projectId }).length;
    expect(answeredBeforeExit).toBeGreaterThan(0);
    // It stopped fetching: not everything went out before it exited.
    expect(answeredBeforeExit).toBeLessThan(DEVICES);

    harness.emulator.setFaults({});
    const restarted = await harness.startSender();
    children.push(restarted);
    const report = await waitFor(
      async () => {
        const status = await harness.api('GET', `/api/v1/notifications/${notificationId}/status/?limit=200`);
        const notification = status.body.notification as { status: string };
        return notification.status === 'completed' ? status.body : undefined;
      },
      30_000,
      'the notification to complete after the restart',
    );
    expect(report.by_status).toEqual({ sent: DEVICES });

    const received = harness.emulator.received({ projectId: harness.projectId });
    const perToken = new Map<string, number>();
    for (const r of received)
      perToken.set(r.message.token as string, (perToken.get(r.message.token as string) ?? 0) + 1);
    expect(perToken.size).toBe(DEVICES);
    expect([...perToken.values()].every((n) => n === 1)).toBe(true);
    expect((await stop(restarted)).code).toBe(0);
  }, 180_000);
});
