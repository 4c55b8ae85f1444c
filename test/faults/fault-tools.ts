/** Shared pieces of the fault runs: seeding many devices fast, and worker child processes to kill. */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { devices } from '../../src/db/schema.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { TEST_ENCRYPTION_KEY, type TestServer } from '../helpers.ts';

/** Inserts `count` active android devices for a profile with multi-row INSERTs (the API would dominate the run). */
export async function seedDevices(server: TestServer, tenantId: string, profileId: string, count: number) {
  const { db, cipher } = server.runtime.deps;
  const tokens: string[] = [];
  for (let done = 0; done < count; done += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - done) }, () => {
      const token = `fault-${randomBytes(12).toString('hex')}`;
      tokens.push(token);
      return {
        id: uuidv7(),
        apiClientId: tenantId,
        profileId,
        platform: 'android' as const,
        tokenCiphertext: cipher.encrypt(token),
        tokenHash: cipher.blindIndex(token),
      };
    });
    await db.insert(devices).values(rows);
  }
  return tokens;
}

export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/** `fcm-server worker` on the test's PostgreSQL database, sending to the test's emulator. */
export function spawnWorker(server: TestServer, env: Record<string, string> = {}): WorkerProcess {
  if (!server.databaseUrl) throw new Error('worker processes need PostgreSQL');
  let output = '';
  const child = spawn(process.execPath, ['bin/fcm-server.js', 'worker'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      DATABASE_URL: server.databaseUrl,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      FCM_EMULATOR: 'false',
      FCM_BASE_URL: server.emulator.url,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/**
 * A run's size: the full figure of docs/reliability.md, or with FAULT_SCALE=ci (`npm run test:faults:ci`) the
 * smaller one that keeps the whole fault suite within about two minutes of CI's time.
 */
export const scaled = (full: number, ci: number): number => (process.env.FAULT_SCALE === 'ci' ? ci : full);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the check holds, polling; throws with the label after the timeout. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, label: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${label}`);
    await sleep(100);
  }
}
