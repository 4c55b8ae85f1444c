/**
 * End-to-end throughput of the send path: one POST /api/v1/notify to a profile with N devices, timed until the
 * notification reads `completed`, against the FCM emulator. Results and how to read them: docs/benchmarks.md.
 *
 *   node bench/send.bench.ts [--mode pglite|postgres|both] [--target profile|topic] [--devices N] [--latency-ms N]
 *                            [--concurrency N] [--sessions N] [--timeout-s N] [--cpu-prof DIR] [--workers N]
 *                            [--server-node-options=…]
 *
 * This process is the client and hosts the emulator; each mode's server runs in a forked child process
 * (bench/lib/server.ts), so the server's CPU, event loop and peak RSS are its own and a stuck mode can
 * be killed. With --workers N (PostgreSQL), the server is one API process (`fcm-server serve`) and N worker
 * processes (`fcm-server worker`) on the one database instead. Devices are seeded by multi-row SQL inserts, not through the API (100,000 registrations would
 * dominate the run); the other three are registered through POST /api/v1/devices.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createEmulator, type Emulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import type { ServiceAccount } from '../src/push/push-provider.ts';
import {
  Api,
  createDatabase,
  type DatabaseActivity,
  DEFAULT_DATABASE_URL,
  databaseActivity,
  dropDatabase,
  fakeToken,
  machineCpu,
  mb,
  PLATFORMS,
  positiveInt,
  SERVER_NODE_OPTIONS,
  ServerProcess,
  type ServerReport,
} from './lib/server.ts';

const USAGE = `usage: node bench/send.bench.ts [--mode pglite|postgres|both] [--target profile|topic] [--devices N] [--latency-ms N]
       [--concurrency N (SEND_CONCURRENCY)] [--sessions N (FCM_HTTP2_SESSIONS)] [--timeout-s N (per mode)]
       [--cpu-prof DIR (V8 CPU profile of each server during the send)]
       [--workers N (PostgreSQL: one API process and N worker processes; default 0: one process with both)]
       [--server-node-options="${SERVER_NODE_OPTIONS.join(' ')}" (the server processes' Node options, as npm start's)]
PostgreSQL: DATABASE_URL, or postgres://root@127.0.0.1:5432/test; a fresh database is created and dropped.`;

const API_DEVICES = 3;
const POLL_MS = 250;

type Mode = 'pglite' | 'postgres';

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
  /** 0: one process with the API and the workers; N: one API process and N worker processes. */
  workers: number;
  serverNodeOptions: string[];
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
  /** The API process (or the one process of both roles). */
  server: ServerReport;
  /** The worker processes, with --workers. */
  workers: ServerReport[];
  /** PostgreSQL's counters over the send. */
  activity: DatabaseActivity | undefined;
  clientCpuMs: number;
  machineBusy: number;
}

interface NotificationView {
  status: string;
  counts: { total: number; sent: number; failed: number };
  created_at: string;
  completed_at: string | null;
}

const TERMINAL = new Set(['completed', 'partially_failed', 'failed']);

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
  const workers: ServerProcess[] = [];
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    console.error(`[${mode}] timed out after ${options.timeoutMs / 1000} s: killing the server`);
    void server?.kill();
    for (const worker of workers) void worker.kill();
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

    server = new ServerProcess(options.serverNodeOptions);
    const split = options.workers > 0;
    const ready = await server.call(
      { type: 'start', env, cpuProfile, roles: { api: true, worker: !split } },
      'ready',
    );
    for (let i = 0; i < options.workers; i++) {
      const worker = new ServerProcess(options.serverNodeOptions);
      workers.push(worker);
      await worker.call(
        { type: 'start', env, cpuProfile: undefined, roles: { api: false, worker: true } },
        'ready',
      );
    }
    const processes = [server, ...workers];
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
        `SEND_CONCURRENCY=${ready.concurrency} FCM_HTTP2_SESSIONS=${ready.sessions}` +
        (split ? `, in each of ${options.workers} worker processes` : ''),
    );

    const activityBefore = env.DATABASE_URL ? await databaseActivity(env.DATABASE_URL) : undefined;
    for (const p of processes) await p.call({ type: 'measure' }, 'measuring');
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
    const reports: ServerReport[] = [];
    for (const p of processes) reports.push(await p.call({ type: 'report' }, 'report'));
    for (const p of processes) await p.call({ type: 'close' }, 'closed');
    for (const p of processes) await p.exited(30_000);
    let activity: DatabaseActivity | undefined;
    if (activityBefore && env.DATABASE_URL) {
      // Every backend has closed, so each has reported its statistics.
      await new Promise((r) => setTimeout(r, 1_000));
      const after = await databaseActivity(env.DATABASE_URL);
      activity = {
        commits: after.commits - activityBefore.commits,
        inserted: after.inserted - activityBefore.inserted,
        updated: after.updated - activityBefore.updated,
        deleted: after.deleted - activityBefore.deleted,
        walBytes: after.walBytes - activityBefore.walBytes,
      };
    }

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
      server: reports[0]!,
      workers: reports.slice(1),
      activity,
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
    for (const worker of workers) await worker.kill();
    rmSync(dataDir, { recursive: true, force: true });
    if (databaseCreated) await dropDatabase(options.databaseUrl, databaseName);
  }
}

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
    ...[r.server, ...r.workers].map(
      (p, i) =>
        `[${r.mode}] ${i === 0 ? (r.workers.length > 0 ? 'API process' : 'server process') : `worker process ${i}`}: ` +
        `${cores(p.cpuUserMs + p.cpuSystemMs)} cores (event loop ${(p.eventLoopUtilization * 100).toFixed(0)}% busy), ` +
        `peak RSS ${mb(p.sendPeakRssBytes)} during the send (V8 heap ${mb(p.peakMemory.heapUsed)} used of ` +
        `${mb(p.peakMemory.heapTotal)}, external ${mb(p.peakMemory.external)} of which array buffers ` +
        `${mb(p.peakMemory.arrayBuffers)}), ${mb(p.maxRssBytes)} overall; ` +
        `${Math.round(((p.cpuUserMs + p.cpuSystemMs) * 1000) / r.devices)} µs CPU per delivery`,
    ),
    `[${r.mode}] client+emulator process: ${cores(r.clientCpuMs)} cores; ` +
      `machine: ${(r.machineBusy * 100).toFixed(0)}% of ${cpus().length} cores busy`,
    `[${r.mode}] ${sum(r, (p) => p.pushBatches)} FCM batches, ` +
      `${(sum(r, (p) => p.pushBusyMs) / sum(r, (p) => p.pushBatches)).toFixed(0)} ms each; on average ` +
      `${(sum(r, (p) => p.pushBusyMs) / r.elapsedMs).toFixed(2)} of ${r.concurrency * Math.max(1, r.workers.length)} ` +
      'send workers were waiting on FCM',
    ...(r.activity ? [describeActivity(r)] : []),
  ].join('\n');
}

/** A figure summed over the run's server processes. */
function sum(r: Result, figure: (report: ServerReport) => number): number {
  return [r.server, ...r.workers].reduce((total, p) => total + figure(p), 0);
}

/** PostgreSQL's work per delivery: what bounds one primary's rate (docs/deployment.md#scaling-out). */
function describeActivity(r: Result): string {
  const a = r.activity!;
  const per = (n: number) => (n / r.devices).toFixed(2);
  return (
    `[${r.mode}] PostgreSQL per delivery: ${per(a.inserted)} rows inserted, ${per(a.updated)} updated, ` +
    `${per(a.deleted)} deleted, ${per(a.commits)} commits, ${Math.round(Number(a.walBytes) / r.devices)} bytes of WAL ` +
    "(the whole cluster's WAL: other databases' writes count too)"
  );
}

function table(results: Result[]): string {
  const lines = [
    '| mode | workers | devices | latency | concurrency | sessions | deliveries/s | seconds | server CPU (cores) | peak RSS (send) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.mode} | ${r.workers.length || 'in the API process'} | ${r.devices} | ${r.latencyMs} ms | ` +
        `${r.concurrency} | ${r.sessions} | ${Math.round(r.devices / (r.elapsedMs / 1000))} | ` +
        `${(r.elapsedMs / 1000).toFixed(1)} | ${(sum(r, (p) => p.cpuUserMs + p.cpuSystemMs) / r.elapsedMs).toFixed(2)} | ` +
        `${[r.server, ...r.workers].map((p) => mb(p.sendPeakRssBytes)).join(' + ')} |`,
    );
  }
  return lines.join('\n');
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
      workers: { type: 'string', default: '0' },
      'server-node-options': { type: 'string', default: SERVER_NODE_OPTIONS.join(' ') },
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
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0) throw new Error('--workers must be an integer ≥ 0');
  if (workers > 0 && selected.includes('pglite')) {
    throw new Error('--workers needs --mode postgres: the embedded database lives in one process');
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
    workers,
    serverNodeOptions: values['server-node-options'].split(' ').filter((o) => o !== ''),
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

runClient(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    process.exit(1);
  },
);
