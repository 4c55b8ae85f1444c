/**
 * The examples in examples/, run as a reader runs them (`node examples/…`, the SDK imported by its package
 * name) against a live server: they must do what docs/sdk.md says they do.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

let server: TestServer;
let tenant: Tenant;
let baseUrl: string;

beforeAll(async () => {
  server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_ALLOW_HTTP: 'true' });
  tenant = await server.tenant('examples');
  baseUrl = (await server.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
});

afterAll(async () => {
  await server?.close();
});

function runExample(file: string) {
  return run(process.execPath, [join('examples', file)], {
    cwd: root,
    timeout: 60_000,
    env: { ...process.env, FCMS_URL: baseUrl, FCMS_CLIENT_ID: tenant.clientId, FCMS_TOKEN: tenant.token },
  });
}

const pushesTo = (token: string) =>
  server.emulator.received().filter((r) => !r.validateOnly && JSON.stringify(r.message).includes(token));

describe('examples/', () => {
  it('first-notification.ts sends a first notification in ten lines', async () => {
    const { stdout } = await runExample('first-notification.ts');
    const id = /^queued (\S+)$/m.exec(stdout)?.[1];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await waitForNotification(server, tenant, id!)).status).toBe('completed');
    expect(pushesTo('first-device-0001')).toHaveLength(1);
  });

  it('node-app registers devices, sends with the SDK and verifies the webhook that reports the outcome', async () => {
    const { stdout, stderr } = await runExample('node-app/app.ts');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^registered 2 devices/m);
    expect(stdout).toMatch(/^sent notification [0-9a-f-]{36}$/m);
    expect(stdout).toMatch(/^verified webhook notification\.completed: completed, sent 1, failed 0$/m);
    expect(pushesTo('example-app-android-0001')).toHaveLength(1);
    expect(pushesTo('example-app-ios-0001')).toHaveLength(0);
    const webhooks = await server.as(tenant, 'GET', '/api/v1/webhooks');
    expect(webhooks.json().items).toEqual([]);
  });
});
