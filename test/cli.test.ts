/**
 * The README's first command, for real: `fcm-server start` on a fresh embedded data directory with the sandbox
 * emulator, `create-client --json` talking to that running server, then a send over real HTTP.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.ts';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '..', 'bin', 'fcm-server.js');
const dataDir = mkdtempSync(join(tmpdir(), 'fcm-cli-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATA_DIR: dataDir,
  PORT: '0',
  LOG_LEVEL: 'warn',
  NODE_ENV: 'development',
};
delete env.DATABASE_URL;
let server: ChildProcess;
let baseUrl: string;

beforeAll(async () => {
  server = spawn(process.execPath, [bin, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  server.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  baseUrl = await waitFor(
    async () => /fcm-server is running: (http:\/\/\S+)/.exec(output)?.[1],
    30_000,
    `the server to start (output so far: ${output})`,
  );
}, 40_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('fcm-server CLI', () => {
  it('refuses a second server on the same embedded data directory', async () => {
    const second = await run(process.execPath, [bin, 'start'], { env }).catch(
      (error: { stderr: string; code: number }) => error,
    );
    expect((second as { code: number }).code).toBe(1);
    expect((second as { stderr: string }).stderr).toMatch(/in use by process/);
  });

  it('create-client --json works against the running server, and the sandbox delivers a send', async () => {
    const { stdout } = await run(process.execPath, [bin, 'create-client', '--name', 'cli-app', '--json'], {
      env,
    });
    const credentials = JSON.parse(stdout) as { client_id: string; client_token: string };
    expect(credentials.client_token).toMatch(/^fcms_/);

    const headers = {
      authorization: `Bearer ${credentials.client_token}`,
      'content-type': 'application/json',
    };
    const device = await fetch(`${baseUrl}/api/v1/devices/`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ platform: 'android', token: 'sandbox-device-token-1', external_id: 'u1' }),
    });
    expect(device.status).toBe(201);
    const accepted = await fetch(`${baseUrl}/api/v1/notify/`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ external_id: 'u1', title: 'Hello from the sandbox' }),
    });
    expect(accepted.status).toBe(202);
    const { status_url } = (await accepted.json()) as { status_url: string };
    const report = await waitFor(async () => {
      const body = (await (await fetch(`${baseUrl}${status_url}`, { headers })).json()) as {
        notification: { status: string };
        by_status: Record<string, number>;
      };
      return body.notification.status === 'completed' ? body : undefined;
    });
    expect(report.by_status).toEqual({ sent: 1 });
  });

  it('rejects bad arguments with a usage message', async () => {
    const result = await run(process.execPath, [bin, 'create-client'], { env }).catch(
      (error: { stderr: string; code: number }) => error,
    );
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toMatch(/--name/);
  });
});
