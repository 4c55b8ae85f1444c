/**
 * API latency at a fixed request rate, with the workers running and sending what the API accepts: POST
 * /api/v1/notify to a one-device phone number, POST /api/v1/devices, GET /api/v1/notifications/{id}/status, one
 * phase each, for --duration seconds each. Results and how to read them: docs/benchmarks.md.
 *
 *   node bench/api.bench.ts [--mode postgres|pglite] [--duration S] [--notify-rate N] [--devices-rate N]
 *                           [--status-rate N] [--connections N] [--latency-ms N] [--only notify,devices,status]
 *                           [--cpu-prof FILE]
 *
 * The load is an open loop: request i is due at start + i / rate whether or not earlier ones have answered, and
 * its latency is counted from when it was due, so a server that stalls is charged for the queue it causes
 * (autocannon's overallRate only sends on an idle connection, a closed loop that hides such stalls). At most
 * --connections requests are in flight; the others wait in order in this process, their wait counted. The server
 * runs in a child process (bench/lib/server.ts) with rate limits off; its CPU and peak RSS are its own. For
 * notify it also reports how long each accepted send took to reach FCM (the emulator), from when it was due.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { createEmulator, type Emulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import {
  Api,
  createDatabase,
  DEFAULT_DATABASE_URL,
  dropDatabase,
  fakeToken,
  machineCpu,
  mb,
  positiveInt,
  ServerProcess,
} from './lib/server.ts';

const USAGE = `usage: node bench/api.bench.ts [--mode postgres|pglite] [--duration S (each phase; 60)]
       [--notify-rate N (1000)] [--devices-rate N (1000)] [--status-rate N (2000)] [--connections N (128)]
       [--latency-ms N (emulator; 20)] [--only notify,devices,status] [--cpu-prof FILE (server, last phase)]
PostgreSQL: DATABASE_URL, or postgres://root@127.0.0.1:5432/test; a fresh database is created and dropped.`;

const PHONE = '+255712345678';
/** Requests still unanswered this long after the phase's end count as errors. */
const DRAIN_MS = 10_000;
const PHASES = ['notify', 'devices', 'status'] as const;
type Phase = (typeof PHASES)[number];

interface Options {
  mode: 'postgres' | 'pglite';
  durationS: number;
  rates: Record<Phase, number>;
  phases: Phase[];
  connections: number;
  latencyMs: number;
  /** V8 CPU profile of the server over the last phase. */
  cpuProf: string | undefined;
  databaseUrl: string;
}

interface Request {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

interface PhaseResult {
  phase: Phase;
  rate: number;
  sent: number;
  ok: number;
  non2xx: Record<number, number>;
  errors: number;
  /** Unanswered 10 s after the phase's last request was due (aborted, or never sent). */
  timedOut: number;
  /** Answered requests per second over the phase. */
  achieved: number;
  latencies: Float64Array;
  serverCores: number;
  serverCpuUsPerRequest: number;
  serverPeakRss: number;
  eventLoop: number;
  machineBusy: number;
  delivered: number;
  /** Notify: ms from each request's due time to its push reaching the emulator, sorted; empty otherwise. */
  toFcm: Float64Array;
}

/**
 * Sends `make(i)` at `rate` per second for `durationMs`, open loop: request i is due at start + i / rate and its
 * latency counts from then. At most `connections` are in flight; the rest wait here, in order, and are charged
 * for their wait (undici's own queue is not used: tens of thousands of queued requests stall it). Returns each
 * answered request's latency (ms) and how the rest ended.
 */
async function drive(
  pool: Pool,
  headers: Record<string, string>,
  connections: number,
  rate: number,
  durationMs: number,
  make: (i: number, due: number) => Request,
) {
  const total = Math.round((rate * durationMs) / 1000);
  const latencies = new Float64Array(total);
  let answered = 0;
  let ok = 0;
  let errors = 0;
  const non2xx: Record<number, number> = {};
  // Requests still unanswered DRAIN_MS after the last was due are aborted (or never sent), so nothing spills
  // into the next phase.
  const abort = new AbortController();
  let next = 0;
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const started = performance.now();
  const deadline = started + durationMs + DRAIN_MS;
  const dueCount = () => Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
  const fire = (i: number) => {
    const due = started + (i * 1000) / rate;
    const { method, path, body } = make(i, due);
    inFlight++;
    pool
      .request({ method, path, headers, signal: abort.signal, ...(body === undefined ? {} : { body }) })
      .then(async (response) => {
        await response.body.dump();
        latencies[answered++] = performance.now() - due;
        if (response.statusCode >= 200 && response.statusCode < 300) ok++;
        else non2xx[response.statusCode] = (non2xx[response.statusCode] ?? 0) + 1;
      })
      .catch(() => {
        if (!abort.signal.aborted) errors++;
      })
      .finally(() => {
        inFlight--;
        dispatch();
        if (inFlight === 0) idle?.();
      });
  };
  const dispatch = () => {
    if (abort.signal.aborted) return;
    const due = dueCount();
    while (inFlight < connections && next < due) fire(next++);
  };
  while (next < total && performance.now() < deadline) {
    dispatch();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (inFlight > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        idle = resolve;
      }),
      new Promise((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
      }),
    ]);
    clearTimeout(timer);
  }
  const elapsedMs = performance.now() - started;
  abort.abort();
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  return {
    sent: total,
    ok,
    non2xx,
    errors,
    timedOut: total - answered - errors,
    latencies: latencies.slice(0, answered),
    elapsedMs,
  };
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function run(options: Options, emulator: Emulator): Promise<PhaseResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fcm-bench-api-'));
  const databaseName = `fcm_bench_api_${process.pid}`;
  let databaseCreated = false;
  const server = new ServerProcess();
  let pool: Pool | undefined;
  try {
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      FCM_EMULATOR: 'false',
      FCM_BASE_URL: emulator.url,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ENABLED: 'false',
    };
    if (options.mode === 'postgres') {
      env.DATABASE_URL = await createDatabase(options.databaseUrl, databaseName);
      databaseCreated = true;
    }
    const ready = await server.call(
      { type: 'start', env, cpuProfile: options.cpuProf, roles: { api: true, worker: true } },
      'ready',
    );
    const api = new Api(ready.url, ready.clientId, ready.clientToken);
    const { account } = createTestServiceAccount({ projectId: 'bench-project', tokenUri: emulator.tokenUri });
    emulator.addServiceAccount(account);
    await api.request('POST', '/api/v1/firebase-projects/', 201, { service_account: account });
    const profile = await api.request<{ id: string }>('POST', '/api/v1/profiles/', 201, {
      external_id: 'bench-api',
      phone_number: PHONE,
    });
    await api.request('POST', '/api/v1/devices/', 201, {
      platform: 'android',
      token: fakeToken(),
      profile_id: profile.id,
    });
    // When each notify was due (epoch ms), by the index its push carries in its data.
    const notifyDue: number[] = [];
    const first = await api.request<{ notification_id: string }>('POST', '/api/v1/notify/', 202, {
      phone_number: PHONE,
      title: 'Benchmark',
      body: 'the notification whose status is read',
    });
    const requests: Record<Phase, (i: number, due: number) => Request> = {
      notify: (i, due) => {
        notifyDue[i] = performance.timeOrigin + due;
        const body = {
          phone_number: PHONE,
          title: 'Benchmark',
          body: 'API latency run',
          data: { bench: `${i}` },
        };
        return { method: 'POST', path: '/api/v1/notify/', body: JSON.stringify(body) };
      },
      devices: () => ({
        method: 'POST',
        path: '/api/v1/devices/',
        body: JSON.stringify({ platform: 'android', token: fakeToken() }),
      }),
      status: () => ({ method: 'GET', path: `/api/v1/notifications/${first.notification_id}/status/` }),
    };
    pool = new Pool(ready.url, { connections: options.connections, pipelining: 1 });
    const headers = {
      'client-id': ready.clientId,
      'client-token': ready.clientToken,
      'content-type': 'application/json',
    };
    // A short warm-up, so JIT compilation and the connection pool are not in the first phase's figures.
    await drive(pool, headers, options.connections, 200, 2000, requests.status);

    const results: PhaseResult[] = [];
    for (const phase of options.phases) {
      const rate = options.rates[phase];
      const emulatorBefore = emulator.stats().delivered;
      const seqBefore = emulator.received().at(-1)?.seq ?? 0;
      notifyDue.length = 0;
      const machineBefore = machineCpu();
      await server.call({ type: 'measure' }, 'measuring');
      const run = await drive(
        pool,
        headers,
        options.connections,
        rate,
        options.durationS * 1000,
        requests[phase],
      );
      const report = await server.call({ type: 'report' }, 'report');
      const machineAfter = machineCpu();
      const toFcm = phase === 'notify' ? await pushLatencies(emulator, seqBefore, notifyDue, run.ok) : [];
      const cpuMs = report.cpuUserMs + report.cpuSystemMs;
      const answered = run.latencies.length;
      results.push({
        phase,
        rate,
        sent: run.sent,
        ok: run.ok,
        non2xx: run.non2xx,
        errors: run.errors,
        timedOut: run.timedOut,
        achieved: answered / (run.elapsedMs / 1000),
        latencies: run.latencies.sort(),
        serverCores: cpuMs / run.elapsedMs,
        serverCpuUsPerRequest: (cpuMs * 1000) / Math.max(1, answered),
        serverPeakRss: report.sendPeakRssBytes,
        eventLoop: report.eventLoopUtilization,
        machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
        delivered: emulator.stats().delivered - emulatorBefore,
        toFcm: Float64Array.from(toFcm).sort(),
      });
      console.log(describe(results.at(-1)!));
    }
    await server.call({ type: 'close' }, 'closed');
    await server.exited(30_000);
    return results;
  } finally {
    await pool?.close();
    await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
    if (databaseCreated) await dropDatabase(options.databaseUrl, databaseName);
  }
}

/**
 * Waits (at most DRAIN_MS) for the pushes of the `accepted` notifies to reach the emulator, then returns each
 * one's time from its request's due time to its arrival, in ms. Pushes still missing then are left out (the
 * report says how many arrived).
 */
async function pushLatencies(
  emulator: Emulator,
  seqBefore: number,
  due: number[],
  accepted: number,
): Promise<number[]> {
  const arrived = () => emulator.received().filter((m) => m.seq > seqBefore && !m.validateOnly);
  const deadline = Date.now() + DRAIN_MS;
  while (arrived().length < accepted && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const latencies: number[] = [];
  for (const message of arrived()) {
    const index = Number((message.message.data as Record<string, string> | undefined)?.bench);
    const dueAt = due[index];
    if (dueAt !== undefined) latencies.push(message.receivedAt - dueAt);
  }
  return latencies;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** " to FCM p50 …, p99 … (n pushes)" for notify, nothing for the other phases. */
const toFcmSummary = (r: PhaseResult) =>
  r.phase !== 'notify'
    ? ''
    : `\n[${r.phase}] accepted to FCM: p50 ${ms(percentile(r.toFcm, 50))}, p90 ${ms(percentile(r.toFcm, 90))}, ` +
      `p99 ${ms(percentile(r.toFcm, 99))}, max ${ms(percentile(r.toFcm, 100))} (${r.toFcm.length} of ${r.ok} pushes ` +
      `arrived within ${DRAIN_MS / 1000} s of the phase's end)`;

function describe(r: PhaseResult): string {
  const non2xx = Object.entries(r.non2xx)
    .map(([status, n]) => `${n}×${status}`)
    .join(', ');
  return (
    `[${r.phase}] ${r.sent} requests at ${r.rate}/s: achieved ${Math.round(r.achieved)}/s; latency p50 ` +
    `${ms(percentile(r.latencies, 50))}, p90 ${ms(percentile(r.latencies, 90))}, p99 ${ms(percentile(r.latencies, 99))}, ` +
    `max ${ms(percentile(r.latencies, 100))}; ${r.ok} 2xx, non-2xx ${non2xx || '0'}, errors ${r.errors}, ` +
    `unanswered after ${DRAIN_MS / 1000} s ${r.timedOut}\n` +
    `[${r.phase}] server ${r.serverCores.toFixed(2)} cores (${Math.round(r.serverCpuUsPerRequest)} µs CPU a request, ` +
    `event loop ${(r.eventLoop * 100).toFixed(0)}% busy), peak RSS ${mb(r.serverPeakRss)}; machine ` +
    `${(r.machineBusy * 100).toFixed(0)}% of ${cpus().length} cores busy; emulator received ${r.delivered} pushes` +
    toFcmSummary(r)
  );
}

function table(results: PhaseResult[]): string {
  const lines = [
    '| request | rate | achieved | p50 | p90 | p99 | max | non-2xx | errors + unanswered | server CPU a request | peak RSS | to FCM p50 / p99 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const non2xx = Object.values(r.non2xx).reduce((sum, n) => sum + n, 0);
    lines.push(
      `| ${r.phase} | ${r.rate}/s | ${Math.round(r.achieved)}/s | ${ms(percentile(r.latencies, 50))} | ` +
        `${ms(percentile(r.latencies, 90))} | ${ms(percentile(r.latencies, 99))} | ${ms(percentile(r.latencies, 100))} | ` +
        `${non2xx} | ${r.errors + r.timedOut} | ${Math.round(r.serverCpuUsPerRequest)} µs | ${mb(r.serverPeakRss)} | ` +
        `${r.phase === 'notify' ? `${ms(percentile(r.toFcm, 50))} / ${ms(percentile(r.toFcm, 99))}` : '—'} |`,
    );
  }
  return lines.join('\n');
}

function parseOptions(args: string[]): Options | undefined {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: 'string', default: 'postgres' },
      duration: { type: 'string', default: '60' },
      'notify-rate': { type: 'string', default: '1000' },
      'devices-rate': { type: 'string', default: '1000' },
      'status-rate': { type: 'string', default: '2000' },
      connections: { type: 'string', default: '128' },
      'latency-ms': { type: 'string', default: '20' },
      only: { type: 'string', default: PHASES.join(',') },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  if (values.mode !== 'postgres' && values.mode !== 'pglite') {
    throw new Error(`--mode must be postgres or pglite, got ${values.mode}`);
  }
  const phases = values.only.split(',').map((p) => p.trim());
  const unknown = phases.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length > 0 || phases.length === 0) throw new Error(`--only takes ${PHASES.join(', ')}`);
  const latency = Number(values['latency-ms']);
  if (!Number.isInteger(latency) || latency < 0) throw new Error('--latency-ms must be an integer ≥ 0');
  return {
    mode: values.mode,
    durationS: positiveInt(values.duration, '--duration')!,
    rates: {
      notify: positiveInt(values['notify-rate'], '--notify-rate')!,
      devices: positiveInt(values['devices-rate'], '--devices-rate')!,
      status: positiveInt(values['status-rate'], '--status-rate')!,
    },
    phases: phases as Phase[],
    connections: positiveInt(values.connections, '--connections')!,
    latencyMs: latency,
    cpuProf: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    databaseUrl: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
  };
}

async function main(args: string[]): Promise<number> {
  const options = parseOptions(args);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  // Whatever hangs, the benchmark ends by itself.
  setTimeout(
    () => {
      console.error('benchmark overran its time budget: exiting');
      process.exit(2);
    },
    (options.phases.length * (options.durationS * 1000 + DRAIN_MS) + 120_000) * 1.5,
  ).unref();
  const emulator = await createEmulator({
    host: '127.0.0.1',
    port: 0,
    latencyMs: options.latencyMs,
    // Full records of the notify phase's pushes, for their time to FCM.
    recording: 'full',
    maxRecorded: options.rates.notify * options.durationS + 10_000,
  });
  console.log(
    `API benchmark (${options.mode}): ${options.durationS} s a phase, open loop over ${options.connections} ` +
      `connections, emulator latency ${options.latencyMs} ms, workers running, rate limits off; ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
  );
  try {
    const results = await run(options, emulator);
    console.log(`\n${table(results)}`);
    return results.every((r) => r.errors + r.timedOut === 0 && Object.keys(r.non2xx).length === 0) ? 0 : 1;
  } finally {
    await emulator.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    console.error(USAGE);
    process.exit(1);
  },
);
