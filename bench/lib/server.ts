/**
 * What the benchmarks share: a server child process (one runtime, API + workers, exactly as `fcm-server start`
 * wires it, with the real FcmProvider timed), the client's handle on it (strictly one request, one answer over
 * IPC), an HTTP helper, throwaway PostgreSQL databases and the machine's CPU counters. The child's entry is
 * server-child.ts beside this file; bench/send.bench.ts and bench/api.bench.ts drive it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { loadConfig } from '../../src/config/index.ts';
import { devices } from '../../src/db/schema.ts';
import { applyHeapPolicy } from '../../src/lib/heap-policy.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { createLogger } from '../../src/logger.ts';
import { FcmProvider } from '../../src/push/fcm.provider.ts';
import type {
  FcmMessage,
  PushProvider,
  SendOptions,
  SendOutcome,
  ServiceAccount,
} from '../../src/push/push-provider.ts';
import { type Runtime, startRuntime } from '../../src/runtime.ts';
import { createClient } from '../../src/services/clients.service.ts';

export const DEFAULT_DATABASE_URL = 'postgres://root@127.0.0.1:5432/test';
const SEED_ROWS_PER_INSERT = 1000;
export const PLATFORMS = ['android', 'ios', 'web'] as const;

/** Messages between this process (the client) and a server child, strictly one request, one answer. */
export type ToServer =
  | {
      type: 'start';
      env: Record<string, string>;
      cpuProfile: string | undefined;
      /** `start` runs both; `serve` only the API; `worker` only the job consumers. */
      roles: { api: boolean; worker: boolean };
    }
  | { type: 'seed'; profileId: string; count: number; topicId: string | undefined }
  | { type: 'measure' }
  | { type: 'report' }
  | { type: 'close' };

export interface ServerReport {
  /** Peak RSS of the whole server process (seeding included), from getrusage. */
  maxRssBytes: number;
  /** Peak RSS sampled every 100 ms since `measure`: the send alone. */
  sendPeakRssBytes: number;
  /** process.memoryUsage() at that peak: how much of it is V8's heap. */
  peakMemory: NodeJS.MemoryUsage;
  /** CPU time since `measure`. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Event-loop utilization since `measure` (1 = never idle). */
  eventLoopUtilization: number;
  /** FCM batches sent (one per send job) and their total duration, since `measure`. */
  pushBatches: number;
  pushBusyMs: number;
}

export type FromServer =
  | {
      type: 'ready';
      /** Empty for a worker-only process. */
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

export async function runServer(): Promise<void> {
  const send = (message: FromServer) => process.send?.(message);
  let runtime: Runtime | undefined;
  let push: TimedPush | undefined;
  let cpuProfile: string | undefined;
  const inspector = new Session();
  let clientId = '';
  let sampler: NodeJS.Timeout | undefined;
  let peakRss = 0;
  let peakMemory = process.memoryUsage();
  const sampleMemory = (): void => {
    const memory = process.memoryUsage();
    if (memory.rss < peakRss) return;
    peakRss = memory.rss;
    peakMemory = memory;
  };
  let cpuStart = process.cpuUsage();
  let eluStart = performance.eventLoopUtilization();

  const handle = async (message: ToServer): Promise<void> => {
    if (message.type === 'start') {
      // As `fcm-server start` does (src/cli/run-server.ts); the benchmark's --server-node-options can override it.
      applyHeapPolicy();
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
        roles: message.roles,
        push,
      });
      const url = runtime.app ? await runtime.app.listen({ host: '127.0.0.1', port: 0 }) : '';
      const client = runtime.app
        ? await createClient(runtime.deps, { name: 'bench' })
        : { clientId: '', clientToken: '' };
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
      peakRss = 0;
      sampleMemory();
      cpuStart = process.cpuUsage();
      eluStart = performance.eventLoopUtilization();
      push!.batches = 0;
      push!.busyMs = 0;
      sampler = setInterval(sampleMemory, 100);
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
      sampleMemory();
      const cpu = process.cpuUsage(cpuStart);
      if (cpuProfile) {
        const { profile } = await inspector.post('Profiler.stop');
        writeFileSync(cpuProfile, JSON.stringify(profile));
        inspector.disconnect();
      }
      send({
        type: 'report',
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        sendPeakRssBytes: peakRss,
        peakMemory,
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
export function fakeToken(): string {
  return `${randomBytes(11).toString('base64url')}:APA91b${randomBytes(105).toString('base64url')}`;
}

/** Inserts `count` active devices of one profile, 1,000 rows per INSERT, then ANALYZE. */
export async function seedDevices(
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
export async function subscribeAll(
  runtime: Runtime,
  apiClientId: string,
  profileId: string,
  topicId: string,
) {
  await runtime.deps.db.execute(sql`insert into topic_subscriptions (topic_id, device_id, api_client_id)
    select ${topicId}, id, api_client_id from devices where profile_id = ${profileId} and api_client_id = ${apiClientId}
    on conflict do nothing`);
  await runtime.deps.db.execute(sql`analyze topic_subscriptions`);
}

/**
 * The Node options of a server process: those `npm start` and the Docker image run it with
 * (docs/deployment.md#memory), so that its memory is what a deployment's is.
 */
export const SERVER_NODE_OPTIONS = ['--max-semi-space-size=16'];

export class ServerProcess {
  readonly child: ChildProcess;
  readonly #inbox: FromServer[] = [];
  #waiter: ((message: FromServer | Error) => void) | undefined;
  #exit: Error | undefined;

  constructor(nodeOptions: readonly string[] = SERVER_NODE_OPTIONS) {
    const entry = fileURLToPath(new URL('./server-child.ts', import.meta.url));
    this.child = fork(entry, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, ...nodeOptions],
    });
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

export class Api {
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

/** Busy and total CPU time of the whole machine, all cores (ms). */
export function machineCpu(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
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

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

export const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

/** A database's write counters (pg_stat_database) and the cluster's WAL position: read before and after a run. */
export interface DatabaseActivity {
  commits: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** pg_current_wal_lsn() as bytes: the whole cluster's, so other databases' writes count too. */
  walBytes: bigint;
}

export async function databaseActivity(url: string): Promise<DatabaseActivity> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Statistics reach pg_stat_database when a backend reports them (at most once a second in PostgreSQL 15).
    const { rows } = await client.query<{ c: string; i: string; u: string; d: string; wal: string }>(
      `select xact_commit as c, tup_inserted as i, tup_updated as u, tup_deleted as d,
              pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint as wal
         from pg_stat_database where datname = current_database()`,
    );
    const row = rows[0]!;
    return {
      commits: Number(row.c),
      inserted: Number(row.i),
      updated: Number(row.u),
      deleted: Number(row.d),
      walBytes: BigInt(row.wal),
    };
  } finally {
    await client.end();
  }
}
