/**
 * Device import at scale: N devices (default 1,000,000) in one NDJSON file, imported with the real command line
 * (`fcm-server import devices`) into a real server (`fcm-server start`) on PostgreSQL and on PGlite, timed from
 * the command's start to its exit. Every run starts from an empty database. Results: docs/benchmarks.md.
 *
 *   node bench/import.bench.ts [--mode pglite|postgres|both] [--devices N] [--runs N] [--timeout-s N]
 *
 * Rate limits are off in the server, so the figure is the import's own speed (the default device_import limit,
 * 60 requests a minute, allows 600,000 devices a minute). A run that exceeds --timeout-s is killed and reported.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '..', 'bin', 'fcm-server.js');
const DEFAULT_DATABASE_URL = 'postgres://root@127.0.0.1:5432/test';
const PLATFORMS = ['android', 'ios', 'web'] as const;

type Mode = 'pglite' | 'postgres';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'both' },
    devices: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '1' },
    'timeout-s': { type: 'string', default: '1800' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(
    'usage: node bench/import.bench.ts [--mode pglite|postgres|both] [--devices N] [--runs N] [--timeout-s N]\n' +
      'PostgreSQL: DATABASE_URL, or postgres://root@127.0.0.1:5432/test; a fresh database is created and dropped.',
  );
  process.exit(0);
}
const modes: Mode[] = values.mode === 'both' ? ['postgres', 'pglite'] : [values.mode as Mode];
const count = Number(values.devices);
const runs = Number(values.runs);
const timeoutMs = Number(values['timeout-s']) * 1000;
const adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;

/** The file a migrating team would have: one device a line, most with a profile and the usual metadata. */
async function writeDevices(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < count; i += 1) {
    const device = {
      platform: PLATFORMS[i % 3],
      token: `bench-${i.toString(36)}:APA91b${randomBytes(60).toString('base64url')}`,
      ...(i % 4 === 0 ? {} : { external_id: `user-${Math.floor(i / 2)}` }),
      app_version: `3.${i % 20}.${i % 7}`,
      timezone: 'Africa/Dar_es_Salaam',
      locale: 'sw-TZ',
      tags: i % 10 === 0 ? ['beta'] : [],
    };
    if (!out.write(`${JSON.stringify(device)}\n`))
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function waitForHealth(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error('the server exited during start-up');
    const ok = await fetch(`${url}/api/v1/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('the server did not start within 120 s');
}

/** One run: an empty database, a server, a client, the import. Returns the seconds the import took. */
async function measure(mode: Mode, file: string, port: number): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fcm-import-bench-'));
  const database = `fcm_import_bench_${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_ENABLED: 'false',
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  };
  delete env.DATABASE_URL;
  if (mode === 'postgres') {
    await admin(`create database ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    env.DATABASE_URL = url.toString();
  }
  const server = spawn(process.execPath, [bin, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(baseUrl, server);
    const { stdout } = await run(process.execPath, [bin, 'create-client', '--name', 'bench', '--json'], {
      env,
    });
    const credentials = JSON.parse(stdout) as { client_id: string; client_token: string };
    const started = performance.now();
    const { stdout: summary } = await run(
      process.execPath,
      [bin, 'import', 'devices', file, '--url', baseUrl, '--client-id', credentials.client_id],
      { env: { ...env, FCM_SERVER_CLIENT_TOKEN: credentials.client_token }, timeout: timeoutMs },
    ).catch((error: { killed?: boolean; stderr?: string }) => {
      if (!error.killed) throw error;
      // Past --timeout-s: say how far it got (the command's last progress line) and give up this mode.
      const progress = (error.stderr ?? '').trim().split('\n').at(-1);
      throw new Error(`stopped after ${timeoutMs / 1000} s: ${progress}`);
    });
    const seconds = (performance.now() - started) / 1000;
    if (!summary.includes(`${count} created`)) throw new Error(`unexpected import summary: ${summary}`);
    return seconds;
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
    if (mode === 'postgres') await admin(`drop database if exists ${database} with (force)`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'fcm-import-file-'));
try {
  const file = join(work, 'devices.ndjson');
  await writeDevices(file);
  console.log(
    `${count.toLocaleString('en')} devices · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB · Node ${process.version}`,
  );
  const port = 20_000 + (process.pid % 20_000);
  for (const mode of modes) {
    const seconds: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      try {
        seconds.push(await measure(mode, file, port));
      } catch (error) {
        console.log(`${mode} run ${i + 1}: ${(error as Error).message}`);
        process.exitCode = 1;
        break;
      }
      console.log(`${mode} run ${i + 1}: ${seconds.at(-1)!.toFixed(1)} s`);
    }
    if (seconds.length === 0) continue;
    const median = [...seconds].sort((a, b) => a - b)[Math.floor(seconds.length / 2)]!;
    console.log(
      `${mode}: median ${median.toFixed(1)} s over ${runs} run(s), ` +
        `${Math.round(count / median).toLocaleString('en')} devices/s`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
