/**
 * End-to-end throughput of the send path: one POST /api/v1/notify to a profile with N devices, timed until the
 * notification reads `completed`, against the FCM emulator. Results and how to read them: docs/benchmarks.md.
 *
 *   node bench/send.bench.ts [--mode pglite|postgres|both] [--target profile|topic] [--devices N] [--latency-ms N]
 *                            [--concurrency N] [--sessions N] [--timeout-s N] [--cpu-prof DIR]
 *
 * This process is the client and hosts the emulator; each mode's server runs in a forked child process (this
 * file again, with --role server), so the server's CPU, event loop and peak RSS are its own and a stuck mode can
 * be killed. Devices are seeded by multi-row SQL inserts, not through the API (100,000 registrations would
 * dominate the run); the other three are registered through POST /api/v1/devices.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { loadConfig } from '../src/config/index.ts';
import { devices } from '../src/db/schema.ts';
import { createEmulator, type Emulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { uuidv7 } from '../src/lib/ids.ts';
import { createLogger } from '../src/logger.ts';
import { FcmProvider } from '../src/push/fcm.provider.ts';
import type {
  FcmMessage,
  PushProvider,
  SendOptions,
  SendOutcome,
  ServiceAccount,
} from '../src/push/push-provider.ts';
import { type Runtime, startRuntime } from '../src/runtime.ts';
import { createClient } from '../src/services/clients.service.ts';

const USAGE = `usage: node bench/send.bench.ts [--mode pglite|postgres|both] [--target profile|topic] [--devices N] [--latency-ms N]
       [--concurrency N (SEND_CONCURRENCY)] [--sessions N (FCM_HTTP2_SESSIONS)] [--timeout-s N (per mode)]
       [--cpu-prof DIR (V8 CPU profile of each server during the send)]
PostgreSQL: DATABASE_URL, or postgres://root@127.0.0.1:5432/test; a fresh database is created and dropped.`;

const DEFAULT_DATABASE_URL = 'postgres://root@127.0.0.1:5432/test';
const API_DEVICES = 3;
const SEED_ROWS_PER_INSERT = 1000;
const POLL_MS = 250;
const PLATFORMS = ['android', 'ios', 'web'] as const;

type Mode = 'pglite' | 'postgres';

/** Messages between this process (the client) and a server child, strictly one request, one answer. */
type ToServer =
  | { type: 'start'; env: Record<string, string>; cpuProfile: string | undefined }
  | { type: 'seed'; profileId: string; count: number; topicId: string | undefined }
  | { type: 'measure' }
  | { type: 'report' }
  | { type: 'close' };

interface ServerReport {
  /** Peak RSS of the whole server process (seeding included), from getrusage. */
  maxRssBytes: number;
  /** Peak RSS sampled every 100 ms since `measure`: the send alone. */
  sendPeakRssBytes: number;
  /** CPU time since `measure`. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Event-loop utilization since `measure` (1 = never idle). */
  eventLoopUtilization: number;
  /** FCM batches sent (one per send job) and their total duration, since `measure`. */
  pushBatches: number;
  pushBusyMs: number;
}

type FromServer =
  | {
      type: 'ready';
      url: string;
      clientId: string;
      clientToken: string;
      concurrency: number;
      sessions: number;
    }
  | { type: 'seeded'; rows: number; ms: number }
  | { type: 'measuring' }
  | ({ type: 'report' } & ServerReport)
  | { type: 'closed' }
  | { type: 'error'; message: string };

interface Options {
  modes: Mode[];
  /** profile: one notification to a profile with N devices; topic: to a topic with N subscribers. */
  target: 'profile' | 'topic';
  devices: number;
  latencyMs: number;
  concurrency: number | undefined;
  sessions: number | undefined;
  timeoutMs: number;
  cpuProfDir: string | undefined;
  databaseUrl: string;
}

interface Result {
  mode: Mode;
  devices: number;
  latencyMs: number;
  concurrency: number;
  sessions: number;
  seedMs: number;
  /** From the 202 until a poll saw `completed`. */
  elapsedMs: number;
  /** completed_at − created_at of the notification, as the server recorded them. */
  serverElapsedMs: number;
  /** When a poll first saw total = devices, i.e. the fan-out had created every delivery. */
  fanoutMs: number | undefined;
  sent: number;
  failed: number;
  emulatorDelivered: number;
  emulatorErrors: number;
  server: ServerReport;
  clientCpuMs: number;
  machineBusy: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Server child: one runtime (API + workers), exactly as `fcm-server start` wires it.
// ---------------------------------------------------------------------------------------------------------------

/** The real FcmProvider, timed: how much of the run the workers spend waiting on FCM. */
class TimedPush implements PushProvider {
  readonly inner: FcmProvider;
  batches = 0;
  busyMs = 0;

  constructor(inner: FcmProvider) {
    this.inner = inner;
  }

  async send(account: ServiceAccount, messages: FcmMessage[], options?: SendOptions): Promise<SendOutcome[]> {
    const started = performance.now();
    try {
      return await this.inner.send(account, messages, options);
    } finally {
      this.batches++;
      this.busyMs += performance.now() - started;
    }
  }

  checkCredentials(account: ServiceAccount): Promise<void> {
    return this.inner.checkCredentials(account);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function runServer(): Promise<void> {
  const send = (message: FromServer) => process.send?.(message);
  let runtime: Runtime | undefined;
  let push: TimedPush | undefined;
  let cpuProfile: string | undefined;
  const inspector = new Session();
  let clientId = '';
  let sampler: NodeJS.Timeout | undefined;
  let peakRss = 0;
  let cpuStart = process.cpuUsage();
  let eluStart = performance.eventLoopUtilization();

  const handle = async (message: ToServer): Promise<void> => {
    if (message.type === 'start') {
      const config = loadConfig(message.env);
      cpuProfile = message.cpuProfile;
      // Built exactly as startRuntime builds it, wrapped only to time it.
      push = new TimedPush(
        new FcmProvider({
          baseUrl: config.fcm.baseUrl!,
          sessions: config.fcm.sessions,
          timeoutMs: config.fcm.timeoutMs,
        }),
      );
      runtime = await startRuntime({
        config,
        logger: createLogger(config.logLevel),
        roles: { api: true, worker: true },
        push,
      });
      const url = await runtime.app!.listen({ host: '127.0.0.1', port: 0 });
      const client = await createClient(runtime.deps, { name: 'bench' });
      clientId = client.clientId;
      send({
        type: 'ready',
        url,
        clientId: client.clientId,
        clientToken: client.clientToken,
        concurrency: config.send.concurrency,
        sessions: config.fcm.sessions,
      });
      return;
    }
    if (!runtime) throw new Error(`${message.type} before start`);
    if (message.type === 'seed') {
      const started = performance.now();
      const rows = await seedDevices(runtime, clientId, message.profileId, message.count);
      if (message.topicId) await subscribeAll(runtime, clientId, message.profileId, message.topicId);
      send({ type: 'seeded', rows, ms: performance.now() - started });
      return;
    }
    if (message.type === 'measure') {
      peakRss = process.memoryUsage.rss();
      cpuStart = process.cpuUsage();
      eluStart = performance.eventLoopUtilization();
      push!.batches = 0;
      push!.busyMs = 0;
      sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }, 100);
      if (cpuProfile) {
        inspector.connect();
        await inspector.post('Profiler.enable');
        await inspector.post('Profiler.start');
      }
      send({ type: 'measuring' });
      return;
    }
    if (message.type === 'report') {
      clearInterval(sampler);
      const cpu = process.cpuUsage(cpuStart);
      if (cpuProfile) {
        const { profile } = await inspector.post('Profiler.stop');
        writeFileSync(cpuProfile, JSON.stringify(profile));
        inspector.disconnect();
      }
      send({
        type: 'report',
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        sendPeakRssBytes: Math.max(peakRss, process.memoryUsage.rss()),
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        eventLoopUtilization: performance.eventLoopUtilization(eluStart).utilization,
        pushBatches: push!.batches,
        pushBusyMs: push!.busyMs,
      });
      return;
    }
    await runtime.close();
    await push?.close();
    send({ type: 'closed' });
    process.exit(0);
  };

  process.on('message', (message: ToServer) => {
    handle(message).catch((error: unknown) => {
      send({
        type: 'error',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    });
  });
  // The parent going away (killed, crashed) must not leave a server running.
  process.on('disconnect', () => process.exit(1));
}

/** A registration token shaped like a real one (~160 characters). */
function fakeToken(): string {
  return `${randomBytes(11).toString('base64url')}:APA91b${randomBytes(105).toString('base64url')}`;
}

/** Inserts `count` active devices of one profile, 1,000 rows per INSERT, then ANALYZE. */
async function seedDevices(
  runtime: Runtime,
  apiClientId: string,
  profileId: string,
  count: number,
): Promise<number> {
  const { db, cipher } = runtime.deps;
  for (let done = 0; done < count; done += SEED_ROWS_PER_INSERT) {
    const rows = Array.from({ length: Math.min(SEED_ROWS_PER_INSERT, count - done) }, (_, i) => {
      const token = fakeToken();
      return {
        id: uuidv7(),
        apiClientId,
        profileId,
        platform: PLATFORMS[(done + i) % PLATFORMS.length]!,
        tokenCiphertext: cipher.encrypt(token),
        tokenHash: cipher.blindIndex(token),
      };
    });
    await db.insert(devices).values(rows);
  }
  await db.execute(sql`analyze`);
  return count;
}

/** Subscribes every device of the profile to the topic in one INSERT … SELECT. */
async function subscribeAll(runtime: Runtime, apiClientId: string, profileId: string, topicId: string) {
  await runtime.deps.db.execute(sql`insert into topic_subscriptions (topic_id, device_id, api_client_id)
    select ${topicId}, id, api_client_id from devices where profile_id = ${profileId} and api_client_id = ${apiClientId}
    on conflict do nothing`);
  await runtime.deps.db.execute(sql`analyze topic_subscriptions`);
}

// ---------------------------------------------------------------------------------------------------------------
// Client: sets a mode up, drives it through the HTTP API, measures, tears it down.
// ---------------------------------------------------------------------------------------------------------------

class ServerProcess {
  readonly child: ChildProcess;
  readonly #inbox: FromServer[] = [];
  #waiter: ((message: FromServer | Error) => void) | undefined;
  #exit: Error | undefined;

  constructor() {
    const self = fileURLToPath(import.meta.url);
    this.child = fork(self, ['--role', 'server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: FromServer) => this.#deliver(message));
    this.child.on('exit', (code, signal) => {
      this.#exit = new Error(`server process exited (code ${code}, signal ${signal})`);
      this.#deliver(this.#exit);
    });
  }

  #deliver(message: FromServer | Error): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter(message);
    else if (!(message instanceof Error)) this.#inbox.push(message);
  }

  /** Sends one request and waits for its answer. */
  async call<T extends FromServer['type']>(
    message: ToServer,
    expected: T,
  ): Promise<Extract<FromServer, { type: T }>> {
    if (this.#exit) throw this.#exit;
    this.child.send(message);
    const answer =
      this.#inbox.shift() ??
      (await new Promise<FromServer | Error>((resolve) => {
        this.#waiter = resolve;
      }));
    if (answer instanceof Error) throw answer;
    if (answer.type === 'error') throw new Error(`server: ${answer.message}`);
    if (answer.type !== expected) throw new Error(`server answered ${answer.type}, expected ${expected}`);
    return answer as Extract<FromServer, { type: T }>;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for the process to exit by itself after `close`. */
  async exited(timeoutMs: number): Promise<void> {
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise((resolve) => this.child.once('exit', resolve)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

class Api {
  readonly #base: string;
  readonly #headers: Record<string, string>;

  constructor(base: string, clientId: string, clientToken: string) {
    this.#base = base;
    this.#headers = {
      'client-id': clientId,
      'client-token': clientToken,
      'content-type': 'application/json',
    };
  }

  async request<T>(method: string, path: string, expected: number, body?: unknown): Promise<T> {
    const response = await fetch(`${this.#base}${path}`, {
      method,
      headers: this.#headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status !== expected) {
      throw new Error(`${method} ${path}: HTTP ${response.status}, expected ${expected}: ${text}`);
    }
    return JSON.parse(text) as T;
  }
}

interface NotificationView {
  status: string;
  counts: { total: number; sent: number; failed: number };
  created_at: string;
  completed_at: string | null;
}

const TERMINAL = new Set(['completed', 'partially_failed', 'failed']);

/** Busy and total CPU time of the whole machine, all cores (ms). */
function machineCpu(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

async function runMode(
  mode: Mode,
  options: Options,
  emulator: Emulator,
  account: ServiceAccount,
): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fcm-bench-'));
  const databaseName = `fcm_bench_${process.pid}`;
  let databaseCreated = false;
  const cpuProfile = options.cpuProfDir
    ? join(
        options.cpuProfDir,
        `send-${mode}-${options.devices}-c${options.concurrency ?? 'default'}.cpuprofile`,
      )
    : undefined;
  let server: ServerProcess | undefined;
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    console.error(`[${mode}] timed out after ${options.timeoutMs / 1000} s: killing the server`);
    void server?.kill();
  }, options.timeoutMs);
  try {
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      FCM_EMULATOR: 'false',
      FCM_BASE_URL: emulator.url,
      LOG_LEVEL: 'warn',
    };
    if (options.concurrency !== undefined) env.SEND_CONCURRENCY = String(options.concurrency);
    if (options.sessions !== undefined) env.FCM_HTTP2_SESSIONS = String(options.sessions);
    if (mode === 'postgres') {
      env.DATABASE_URL = await createDatabase(options.databaseUrl, databaseName);
      databaseCreated = true;
    }

    server = new ServerProcess();
    const ready = await server.call({ type: 'start', env, cpuProfile }, 'ready');
    const api = new Api(ready.url, ready.clientId, ready.clientToken);
    await api.request('POST', '/api/v1/firebase-projects/', 201, { service_account: account });
    const profile = await api.request<{ id: string }>('POST', '/api/v1/profiles/', 201, {
      external_id: 'bench-audience',
      name: 'bench audience',
    });
    const viaApi = Math.min(API_DEVICES, options.devices);
    for (let i = 0; i < viaApi; i++) {
      await api.request('POST', '/api/v1/devices/', 201, {
        platform: PLATFORMS[i % PLATFORMS.length],
        token: fakeToken(),
        profile_id: profile.id,
      });
    }
    const topic =
      options.target === 'topic'
        ? await api.request<{ id: string }>('POST', '/api/v1/topics/', 201, { name: 'bench-topic' })
        : undefined;
    const seeded = await server.call(
      { type: 'seed', profileId: profile.id, count: options.devices - viaApi, topicId: topic?.id },
      'seeded',
    );
    console.log(
      `[${mode}] ${viaApi} devices registered through the API, ${seeded.rows} seeded by SQL ` +
        `(multi-row INSERT, then ANALYZE) in ${(seeded.ms / 1000).toFixed(1)} s; ` +
        `SEND_CONCURRENCY=${ready.concurrency} FCM_HTTP2_SESSIONS=${ready.sessions}`,
    );

    await server.call({ type: 'measure' }, 'measuring');
    const emulatorBefore = emulator.stats();
    const machineBefore = machineCpu();
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    const accepted = await api.request<{ notification_id: string }>('POST', '/api/v1/notify/', 202, {
      ...(topic ? { topic: 'bench-topic' } : { profile_id: profile.id }),
      title: 'Benchmark',
      body: `Throughput run ${new Date().toISOString()}`,
    });
    let view: NotificationView;
    let fanoutMs: number | undefined;
    let lastLog = started;
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      view = await api.request<NotificationView>(
        'GET',
        `/api/v1/notifications/${accepted.notification_id}/`,
        200,
      );
      const now = performance.now();
      if (fanoutMs === undefined && view.counts.total >= options.devices) fanoutMs = now - started;
      if (TERMINAL.has(view.status)) break;
      if (now - lastLog >= 5000) {
        lastLog = now;
        console.log(
          `[${mode}] ${((now - started) / 1000).toFixed(1)} s: ${view.status}, ` +
            `${view.counts.total} deliveries created, ${view.counts.sent} sent, ${view.counts.failed} failed`,
        );
      }
    }
    const elapsedMs = performance.now() - started;
    const machineAfter = machineCpu();
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const emulatorAfter = emulator.stats();
    const report = await server.call({ type: 'report' }, 'report');
    await server.call({ type: 'close' }, 'closed');
    await server.exited(30_000);

    const errorsOf = (stats: ReturnType<Emulator['stats']>) =>
      Object.values(stats.errors).reduce((sum, n) => sum + n, 0);
    const result: Result = {
      mode,
      devices: options.devices,
      latencyMs: options.latencyMs,
      concurrency: ready.concurrency,
      sessions: ready.sessions,
      seedMs: seeded.ms,
      elapsedMs,
      serverElapsedMs: Date.parse(view.completed_at ?? '') - Date.parse(view.created_at),
      fanoutMs,
      sent: view.counts.sent,
      failed: view.counts.failed,
      emulatorDelivered: emulatorAfter.delivered - emulatorBefore.delivered,
      emulatorErrors: errorsOf(emulatorAfter) - errorsOf(emulatorBefore),
      server: report,
      clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
      machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
    };
    if (view.status !== 'completed') {
      throw new Error(`notification ended ${view.status}: ${JSON.stringify(view.counts)}`);
    }
    return result;
  } catch (error) {
    if (timedOut) throw new Error(`${mode}: did not finish within ${options.timeoutMs / 1000} s`);
    throw error;
  } finally {
    clearTimeout(deadline);
    await server?.kill();
    rmSync(dataDir, { recursive: true, force: true });
    if (databaseCreated) await dropDatabase(options.databaseUrl, databaseName);
  }
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

function describe(r: Result): string {
  const seconds = r.elapsedMs / 1000;
  const cores = (ms: number) => (ms / r.elapsedMs).toFixed(2);
  return [
    `[${r.mode}] ${r.devices} devices in ${seconds.toFixed(2)} s end to end: ` +
      `${Math.round(r.devices / seconds)} deliveries/s ` +
      `(server clock ${(r.serverElapsedMs / 1000).toFixed(2)} s = ${Math.round((r.devices * 1000) / r.serverElapsedMs)}/s; ` +
      `fan-out complete by ${r.fanoutMs === undefined ? '?' : `${(r.fanoutMs / 1000).toFixed(1)} s`})`,
    `[${r.mode}] notification: ${r.sent} sent, ${r.failed} failed; emulator received ${r.emulatorDelivered} ` +
      `(${r.emulatorErrors} refused)`,
    `[${r.mode}] server process: ${cores(r.server.cpuUserMs + r.server.cpuSystemMs)} cores ` +
      `(event loop ${(r.server.eventLoopUtilization * 100).toFixed(0)}% busy), peak RSS ${mb(r.server.sendPeakRssBytes)} ` +
      `during the send, ${mb(r.server.maxRssBytes)} overall; client+emulator process: ${cores(r.clientCpuMs)} cores; ` +
      `machine: ${(r.machineBusy * 100).toFixed(0)}% of ${cpus().length} cores busy`,
    `[${r.mode}] ${r.server.pushBatches} FCM batches, ${(r.server.pushBusyMs / r.server.pushBatches).toFixed(0)} ms each; ` +
      `on average ${(r.server.pushBusyMs / r.elapsedMs).toFixed(2)} of ${r.concurrency} send workers were waiting on FCM`,
  ].join('\n');
}

function table(results: Result[]): string {
  const lines = [
    '| mode | devices | latency | concurrency | sessions | deliveries/s | seconds | server CPU (cores) | peak RSS (send) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.mode} | ${r.devices} | ${r.latencyMs} ms | ${r.concurrency} | ${r.sessions} | ` +
        `${Math.round(r.devices / (r.elapsedMs / 1000))} | ${(r.elapsedMs / 1000).toFixed(1)} | ` +
        `${((r.server.cpuUserMs + r.server.cpuSystemMs) / r.elapsedMs).toFixed(2)} | ${mb(r.server.sendPeakRssBytes)} |`,
    );
  }
  return lines.join('\n');
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

function parseOptions(args: string[]): Options | undefined {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: 'string', default: 'both' },
      target: { type: 'string', default: 'profile' },
      devices: { type: 'string', default: '100000' },
      'latency-ms': { type: 'string', default: '20' },
      concurrency: { type: 'string' },
      sessions: { type: 'string' },
      'timeout-s': { type: 'string', default: '300' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const modes: Record<string, Mode[]> = {
    pglite: ['pglite'],
    postgres: ['postgres'],
    both: ['pglite', 'postgres'],
  };
  const selected = modes[values.mode];
  if (!selected) throw new Error(`--mode must be pglite, postgres or both, got ${values.mode}`);
  const latency = Number(values['latency-ms']);
  if (!Number.isInteger(latency) || latency < 0) throw new Error('--latency-ms must be an integer ≥ 0');
  const cpuProfDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']);
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  if (values.target !== 'profile' && values.target !== 'topic') {
    throw new Error(`--target must be profile or topic, got ${values.target}`);
  }
  return {
    modes: selected,
    target: values.target,
    devices: positiveInt(values.devices, '--devices')!,
    latencyMs: latency,
    concurrency: positiveInt(values.concurrency, '--concurrency'),
    sessions: positiveInt(values.sessions, '--sessions'),
    timeoutMs: positiveInt(values['timeout-s'], '--timeout-s')! * 1000,
    cpuProfDir,
    databaseUrl: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
  };
}

async function runClient(args: string[]): Promise<number> {
  const options = parseOptions(args);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  // Belt and braces: whatever hangs, the benchmark ends by itself.
  setTimeout(
    () => {
      console.error('benchmark overran its time budget: exiting');
      process.exit(2);
    },
    options.modes.length * (options.timeoutMs + 60_000),
  ).unref();

  const emulator = await createEmulator({
    host: '127.0.0.1',
    port: 0,
    latencyMs: options.latencyMs,
    recording: 'counts',
  });
  const { account } = createTestServiceAccount({ projectId: 'bench-project', tokenUri: emulator.tokenUri });
  emulator.addServiceAccount(account);
  console.log(
    `send benchmark: ${options.devices} devices (${options.target} target), emulator latency ${options.latencyMs} ms, ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
  );
  const results: Result[] = [];
  let failed = false;
  try {
    for (const mode of options.modes) {
      try {
        const result = await runMode(mode, options, emulator, account);
        results.push(result);
        console.log(describe(result));
      } catch (error) {
        failed = true;
        console.error(`[${mode}] FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    await emulator.close();
  }
  if (results.length > 0) console.log(`\n${table(results)}`);
  return failed ? 1 : 0;
}

const role = process.argv.includes('--role') ? process.argv[process.argv.indexOf('--role') + 1] : 'client';
if (role === 'server') {
  await runServer();
} else {
  runClient(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      console.error(USAGE);
      process.exit(1);
    },
  );
}
