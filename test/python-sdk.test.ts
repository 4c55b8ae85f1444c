/**
 * The Python SDK (sdk/python) against a live server on a real port, in the storage mode of the run: its own
 * unittest suite runs in python3 with the server's URL and credentials in the environment, and exercises every
 * operation of the API. A non-zero exit fails this test, with Python's output as the message.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { createClient } from '../src/services/clients.service.ts';
import { listenOnLoopback, startTestServer, type Tenant, type TestServer } from './helpers.ts';

const run = promisify(execFile);
let server: TestServer;
let tenant: Tenant;
let baseUrl: string;
let admin: { clientId: string; clientToken: string };

beforeAll(async () => {
  server = await startTestServer({
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_ALLOW_HTTP: 'true',
    SEND_MAX_ATTEMPTS: '1',
  });
  tenant = await server.tenant('python-sdk');
  admin = await createClient(server.runtime.deps, { name: 'python-admin', scopes: ['admin'] });
  baseUrl = await listenOnLoopback(server);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('the Python SDK', () => {
  it('has a method for every operation of the OpenAPI document, each used by its tests', async () => {
    const document = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const sdk = join(import.meta.dirname, '..', 'sdk', 'python');
    const client = readFileSync(join(sdk, 'fcm_server_client', 'client.py'), 'utf8');
    const tests = readFileSync(join(sdk, 'tests', 'test_live.py'), 'utf8');
    const names = Object.values(document.paths)
      .flatMap((operations) => Object.values(operations).map((o) => o.operationId))
      .filter((id): id is string => id !== undefined && id !== 'listSandboxMessages')
      .map((id) => id.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    expect(names.length).toBeGreaterThan(70);
    expect(names.filter((name) => !client.includes(`def ${name}(`))).toEqual([]);
    expect(names.filter((name) => !tests.includes(`.${name}`))).toEqual([]);
  });

  it('passes its unittest suite against the live server', async () => {
    const { account } = createTestServiceAccount({
      projectId: 'python-sdk-second',
      tokenUri: server.emulator.tokenUri,
    });
    server.emulator.addServiceAccount(account);
    const result = await run('python3', ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.', '-v'], {
      cwd: join(import.meta.dirname, '..', 'sdk', 'python'),
      env: {
        PATH: process.env.PATH,
        PYTHONDONTWRITEBYTECODE: '1',
        FCM_SERVER_URL: baseUrl,
        FCM_CLIENT_ID: tenant.clientId,
        FCM_CLIENT_TOKEN: tenant.token,
        FCM_ADMIN_ID: admin.clientId,
        FCM_ADMIN_TOKEN: admin.clientToken,
        FCM_EMULATOR_URL: server.emulator.url,
        FCM_SERVICE_ACCOUNT: JSON.stringify(account),
      },
      timeout: 240_000,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`python3 -m unittest failed:\n${error.stderr ?? ''}${error.stdout ?? ''}`);
    });
    expect(result.stderr).toMatch(/\nOK\b/);
  }, 300_000);
});
