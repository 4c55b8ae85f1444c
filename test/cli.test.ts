/**
 * The README's first command, for real: `fcm-server start` on a fresh embedded data directory with the sandbox
 * emulator, `create-client --json` talking to that running server, then a send over real HTTP. The admin
 * commands (rotate-client-token, purge) both through the running server and on a data directory no server holds.
 * And the command line itself: help for every command and option, the version, wrong arguments.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from './helpers.ts';

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
let banner: string;
let emulatorPort: number;

beforeAll(async () => {
  emulatorPort = await freePort();
  env.EMULATOR_PORT = String(emulatorPort);
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
    // A first start migrates a new embedded database; on a CI machine running the rest of the suite beside it,
    // that has taken over 30 s.
    90_000,
    `the server to start (output so far: ${output})`,
  );
  banner = await waitFor(async () => (/FCM sandbox: .*\n/.test(output) ? output : undefined));
}, 100_000);

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

    // The banner says where the sandbox emulator listens (EMULATOR_PORT) and how to see what it received.
    expect(banner).toContain(
      `FCM sandbox: emulator at http://127.0.0.1:${emulatorPort}; what it received: GET /api/v1/sandbox/messages`,
    );
    // The started server serves the dashboard, built at install (the prepare script), with no step of its own.
    expect(banner).toContain(`Dashboard:  ${baseUrl}/dashboard`);
    const dashboard = await fetch(`${baseUrl}/dashboard/`);
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toContain('/dashboard/assets/app.js');
    const inbox = (await (await fetch(`${baseUrl}/api/v1/sandbox/messages`, { headers })).json()) as {
      items: Array<{ outcome: string; message: { token_suffix: string; notification: { title: string } } }>;
    };
    expect(inbox.items).toMatchObject([
      {
        outcome: 'sent',
        message: { token_suffix: '-token-1', notification: { title: 'Hello from the sandbox' } },
      },
    ]);
  });

  it('rejects bad arguments with a usage message', async () => {
    const result = await run(process.execPath, [bin, 'create-client'], { env }).catch(
      (error: { stderr: string; code: number }) => error,
    );
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toMatch(/--name/);
  });

  it('create-client takes an allowlist and an expiry; rotate-client-token and purge go through the server', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const { stdout } = await run(
      process.execPath,
      [
        bin,
        'create-client',
        '--name',
        'cli-rot',
        '--scopes',
        'read',
        '--ip-allowlist',
        '127.0.0.1,::1',
        '--expires-at',
        expiresAt,
      ],
      { env },
    );
    const clientId = /Client-ID:\s+(\S+)/.exec(stdout)![1]!;
    const oldToken = /Client-Token:\s+(\S+)/.exec(stdout)![1]!;
    const me = async (token: string) =>
      fetch(`${baseUrl}/api/v1/clients/me`, { headers: { authorization: `Bearer ${token}` } });
    const view = (await (await me(oldToken)).json()) as { ip_allowlist: string[]; scopes: string[] };
    expect(view).toMatchObject({
      ip_allowlist: ['127.0.0.1/32', '::1/128'],
      scopes: ['read'],
      expires_at: expiresAt,
    });

    const rotated = await run(
      process.execPath,
      [bin, 'rotate-client-token', clientId, '--grace-seconds', '0', '--json'],
      { env },
    );
    const fresh = JSON.parse(rotated.stdout) as { client_token: string; previous_token_expires_at: null };
    expect(fresh.previous_token_expires_at).toBeNull();
    expect((await me(fresh.client_token)).status).toBe(200);
    expect((await me(oldToken)).status).toBe(401);

    const purged = await run(process.execPath, [bin, 'purge', '--json'], { env });
    expect(JSON.parse(purged.stdout)).toEqual({ profiles: 0, devices: 0 });

    const bad = await run(
      process.execPath,
      [bin, 'create-client', '--name', 'x', '--ip-allowlist', '10.0.0.0/40'],
      {
        env,
      },
    ).catch((error: { stderr: string; code: number }) => error);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/ip_allowlist\[0\].*prefix length/);
  });

  it('the admin commands open the database themselves when no server holds it', async () => {
    const ownDir = mkdtempSync(join(tmpdir(), 'fcm-cli-direct-'));
    const direct = { ...env, DATA_DIR: ownDir };
    try {
      const created = JSON.parse(
        (await run(process.execPath, [bin, 'create-client', '--name', 'direct', '--json'], { env: direct }))
          .stdout,
      ) as { client_id: string };
      const rotated = JSON.parse(
        (
          await run(process.execPath, [bin, 'rotate-client-token', created.client_id, '--json'], {
            env: direct,
          })
        ).stdout,
      ) as { client_token: string; previous_token_expires_at: string };
      expect(rotated.client_token).toMatch(/^fcms_/);
      expect(Date.parse(rotated.previous_token_expires_at)).toBeGreaterThan(Date.now() + 86_000_000);
      const unknown = await run(
        process.execPath,
        [bin, 'rotate-client-token', '0193e1b2-7c4a-7d1e-9a51-000000000000'],
        { env: direct },
      ).catch((error: { stderr: string; code: number }) => error);
      expect((unknown as { stderr: string }).stderr).toMatch(/client not found/);
    } finally {
      rmSync(ownDir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** Every command and the options its help must list (written out here, independently of src/cli/). */
const COMMAND_OPTIONS: Record<string, string[]> = {
  start: [],
  serve: [],
  worker: [],
  migrate: [],
  'create-client': ['--name', '--scopes', '--ip-allowlist', '--expires-at', '--json'],
  'rotate-client-token': ['--grace-seconds', '--json'],
  purge: ['--json'],
  emulator: [
    '--host',
    '--port',
    '--latency-ms',
    '--tls',
    '--tls-cert',
    '--tls-key',
    '--project',
    '--max-recorded',
  ],
  'rotate-encryption-key': ['--batch-size'],
};

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI on a data directory that does not exist, so that a command that ran would have created it. */
async function cli(args: string[]): Promise<Outcome & { dataDirCreated: boolean }> {
  const untouched = join(tmpdir(), `fcm-cli-untouched-${process.pid}-${args.join('_').replace(/\W/g, '')}`);
  const outcome = await run(process.execPath, [bin, ...args], { env: { ...env, DATA_DIR: untouched } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: Outcome) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
  const dataDirCreated = existsSync(untouched);
  rmSync(untouched, { recursive: true, force: true });
  return { ...outcome, dataDirCreated };
}

describe('fcm-server command line', () => {
  it.each(Object.entries(COMMAND_OPTIONS))(
    '%s --help prints its usage with every option and runs nothing',
    async (command, options) => {
      const result = await cli([command, '--help']);
      expect(result).toMatchObject({ code: 0, stderr: '', dataDirCreated: false });
      expect(result.stdout).toContain(`Usage: fcm-server ${command}`);
      for (const option of [...options, '--help']) expect(result.stdout).toContain(option);
      expect(result.stdout).not.toMatch(/fcm-server is running|migrations applied|listening/);
    },
  );

  it.each([['--help'], ['help'], ['-h']])('%s lists every command with every option', async (flag) => {
    const result = await cli([flag]);
    expect(result).toMatchObject({ code: 0, stderr: '', dataDirCreated: false });
    for (const [command, options] of Object.entries(COMMAND_OPTIONS)) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
      for (const option of options) expect(result.stdout).toContain(option);
    }
    expect(result.stdout).toContain('--version');
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = await cli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it.each<[string[], RegExp, string]>([
    [['create-client', '--bogus'], /Unknown option '--bogus'/, 'Usage: fcm-server create-client'],
    [['migrate', '--bogus'], /Unknown option '--bogus'/, 'Usage: fcm-server migrate'],
    [['create-client', '--name'], /argument missing/, 'Usage: fcm-server create-client'],
    [['purge', 'extra'], /Unexpected argument 'extra'/, 'Usage: fcm-server purge'],
    [['emulator', '--port', 'eighty'], /--port must be a non-negative integer/, 'Usage: fcm-server emulator'],
    [['frobnicate'], /unknown command "frobnicate"/, 'Usage: fcm-server <command>'],
    [['--bogus'], /unknown option "--bogus"/, 'Usage: fcm-server <command>'],
  ])('%j prints the usage on stderr and exits 2, without a stack trace', async (args, message, usage) => {
    const result = await cli(args);
    expect(result).toMatchObject({ code: 2, stdout: '', dataDirCreated: false });
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(usage);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
