/**
 * The sender alone, against the SDK most teams use: the same N messages through our FcmProvider, through
 * firebase-admin's messaging().sendEach (500 a call) and through bare node:http2 (the floor), each at 1, 4 and
 * 16 calls of 500 in flight, against the bundled FCM emulator over TLS. Prints msgs/s and CPU µs per message of
 * each sender's own process. Results and how to read them: docs/benchmarks.md.
 *
 *   node bench/fcm.bench.ts [--messages N] [--latency-ms N] [--parallel 1,4,16] [--sessions N] [--runs N]
 *
 * Each contestant runs in a child process (bench/lib/fcm-sender.ts); firebase-admin's is started with
 * `--import bin/emulator-preload.mjs` (its connections to Google's hosts go to the emulator, `:scheme` fixed)
 * and every child trusts the emulator's throwaway certificate through NODE_EXTRA_CA_CERTS, as
 * test/firebase-admin.test.ts runs the SDK. With --runs N > 1 the contestants take turns and medians are shown.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { selfSignedCredentials } from '../src/emulator/certificate.ts';
import { createEmulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import type { Contestant, SenderPlan, SenderResult } from './lib/fcm-sender.ts';
import { positiveInt } from './lib/server.ts';

const run = promisify(execFile);
const USAGE = `usage: node bench/fcm.bench.ts [--messages N (20000)] [--latency-ms N (emulator; 20)]
       [--parallel 1,4,16 (calls of 500 in flight)] [--sessions N (HTTP/2 connections of ours and raw; 4)] [--runs N (1)]
       [--senders ours,admin,raw (which senders take part)]`;
const CONTESTANTS: Contestant[] = ['ours', 'admin', 'raw'];
const LABEL: Record<Contestant, string> = {
  ours: 'FcmProvider (ours)',
  admin: 'firebase-admin sendEach',
  raw: 'node:http2 (floor)',
};
const BATCH = 500;
const sender = fileURLToPath(new URL('./lib/fcm-sender.ts', import.meta.url));
const preload = fileURLToPath(new URL('../bin/emulator-preload.mjs', import.meta.url));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      messages: { type: 'string', default: '20000' },
      'latency-ms': { type: 'string', default: '20' },
      parallel: { type: 'string', default: '1,4,16' },
      sessions: { type: 'string', default: '4' },
      runs: { type: 'string', default: '1' },
      senders: { type: 'string', default: CONTESTANTS.join(',') },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const messages = positiveInt(values.messages, '--messages')!;
  const sessions = positiveInt(values.sessions, '--sessions')!;
  const runs = positiveInt(values.runs, '--runs')!;
  const latencyMs = Number(values['latency-ms']);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) throw new Error('--latency-ms must be an integer ≥ 0');
  const senders = values.senders.split(',').map((name) => {
    const contestant = CONTESTANTS.find((c) => c === name.trim());
    if (!contestant) throw new Error(`--senders: unknown sender ${name} (ours, admin or raw)`);
    return contestant;
  });
  const parallels = values.parallel.split(',').map((p) => positiveInt(p.trim(), '--parallel')!);
  // Whatever hangs, the benchmark ends by itself.
  const perRunS = 60 + messages / 500;
  setTimeout(
    () => {
      console.error('benchmark overran its time budget: exiting');
      process.exit(2);
    },
    (runs * parallels.length * senders.length * perRunS + 60) * 1000,
  ).unref();

  const tlsDir = mkdtempSync(join(tmpdir(), 'fcm-bench-tls-'));
  const tls = await selfSignedCredentials(tlsDir);
  const emulator = await createEmulator({ host: '127.0.0.1', port: 0, tls, latencyMs, recording: 'counts' });
  // Google's token URI, as in a real key file: firebase-admin signs for that audience whatever it says, and the
  // emulator accepts it; ours and raw post to the emulator's own token endpoint.
  const { account } = createTestServiceAccount({ projectId: 'bench-fcm', tokenUri: emulator.tokenUri });
  emulator.addServiceAccount(account);
  const port = new URL(emulator.url).port;
  console.log(
    `FCM sender benchmark: ${messages} messages a run (after ${BATCH * 2} not counted), calls of ${BATCH}, ` +
      `emulator latency ${latencyMs} ms over TLS, ${sessions} HTTP/2 sessions (ours, raw); ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
  );
  const results = new Map<string, SenderResult[]>();
  let failed = false;
  try {
    for (let round = 0; round < runs; round++) {
      for (const parallel of parallels) {
        for (const contestant of senders) {
          const plan: SenderPlan = {
            contestant,
            messages,
            warmup: BATCH * 2,
            parallel,
            batch: BATCH,
            sessions,
            baseUrl: emulator.url,
            account,
          };
          const { stdout } = await run(
            process.execPath,
            [...(contestant === 'admin' ? ['--import', preload] : []), sender, JSON.stringify(plan)],
            {
              env: {
                ...process.env,
                FCM_EMULATOR_HOST: `127.0.0.1:${port}`,
                NODE_EXTRA_CA_CERTS: tls.certPath,
              },
              timeout: perRunS * 1000,
            },
          );
          const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as SenderResult;
          if (result.failed > 0) failed = true;
          const key = `${contestant}:${parallel}`;
          results.set(key, [...(results.get(key) ?? []), result]);
          console.log(
            `[${LABEL[contestant]}, ${parallel} in flight] ${Math.round((result.sent * 1000) / result.ms)} msgs/s, ` +
              `${Math.round(result.cpuUs / messages)} µs CPU a message, ${result.failed} failed`,
          );
        }
      }
    }
  } finally {
    await emulator.close();
    rmSync(tlsDir, { recursive: true, force: true });
  }
  const lines = [
    `\n| sender | calls of ${BATCH} in flight | msgs/s | CPU µs a message |${runs > 1 ? ' runs |' : ''}`,
    `|---|---:|---:|---:|${runs > 1 ? '---:|' : ''}`,
  ];
  for (const parallel of parallels) {
    for (const contestant of senders) {
      const all = results.get(`${contestant}:${parallel}`) ?? [];
      const rate = median(all.map((r) => (r.sent * 1000) / r.ms));
      const cpu = median(all.map((r) => r.cpuUs / messages));
      lines.push(
        `| ${LABEL[contestant]} | ${parallel} | ${Math.round(rate)} | ${Math.round(cpu)} |${runs > 1 ? ` ${all.length} |` : ''}`,
      );
    }
  }
  console.log(lines.join('\n'));
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    console.error(USAGE);
    process.exit(1);
  },
);
