/**
 * The log tells a send's story, in JSON through a real send over the API: one line per request (method, route,
 * status, duration, client_id), the notification accepted, fanned out and completed, FCM retries and dead
 * tokens at info, a failing webhook endpoint at warn. And the format: LOG_FORMAT, or pretty on a terminal.
 */
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { createLogger, prettyStream, resolveLogFormat } from '../src/logger.ts';
import { startTestServer, type Tenant, type TestServer, waitFor, waitForNotification } from './helpers.ts';

type Entry = Record<string, unknown>;
const lines: string[] = [];
const entries = (): Entry[] => lines.map((line) => JSON.parse(line) as Entry);
const LEVEL = { info: 30, warn: 40 };

let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  server = await startTestServer(
    {
      SEND_MAX_ATTEMPTS: '2',
      WEBHOOK_MAX_ATTEMPTS: '2',
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_RETRY_MAX_MS: '200',
      WEBHOOK_DISABLE_AFTER_FAILURES: '2',
      WEBHOOK_TIMEOUT_MS: '1000',
    },
    { logger: createLogger('info', { write: (line: string) => void lines.push(line) }) },
  );
  tenant = await server.tenant('logged');
});
afterAll(() => server?.close());

async function device(token: string): Promise<string> {
  const response = await server.as(tenant, 'POST', '/api/v1/devices/', { platform: 'android', token });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

/** A loopback port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('the log of a send', () => {
  it('has one line per request and tells the notification accepted, fanned out, completed', async () => {
    const ids = [
      await device('log-story-token-0001-abcdefgh'),
      await device('log-story-token-0002-abcdefgh'),
    ];
    const requestId = `log-story-${Date.now()}`;
    const accepted = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: { ...tenant.headers, 'x-request-id': requestId },
      payload: { device_ids: ids, title: 'Story' },
    });
    expect(accepted.statusCode, accepted.body).toBe(202);
    const notificationId = accepted.json().notification_id;
    expect(await waitForNotification(server, tenant, notificationId)).toMatchObject({ status: 'completed' });

    const mine = () => entries().filter((e) => e.request_id === requestId);
    const request = mine().filter((e) => e.route !== undefined);
    expect(request).toEqual([
      expect.objectContaining({
        level: LEVEL.info,
        method: 'POST',
        route: '/api/v1/notify',
        status: 202,
        duration_ms: expect.any(Number),
        client_id: tenant.clientId,
        msg: expect.stringMatching(/^POST \/api\/v1\/notify 202 [\d.]+ms$/),
      }),
    ]);
    // Fastify's own pair is gone: one line per request.
    expect(entries().filter((e) => e.msg === 'incoming request' || e.msg === 'request completed')).toEqual(
      [],
    );
    // Probes and scrapes that succeed stay below info; a failing one shows.
    const probeId = `log-probe-${Date.now()}`;
    for (const url of ['/api/v1/health/', '/api/v1/health/ready/', '/metrics']) {
      const probe = await server.app.inject({ method: 'GET', url, headers: { 'x-request-id': probeId } });
      expect(probe.statusCode).toBe(200);
    }
    const refused = await server.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { 'x-request-id': probeId },
      remoteAddress: '203.0.113.9',
    });
    expect(refused.statusCode).toBe(403);
    expect(entries().filter((e) => e.request_id === probeId)).toEqual([
      expect.objectContaining({ route: '/metrics', status: 403, level: LEVEL.info }),
    ]);

    const story = await waitFor(async () => {
      const found = mine().filter((e) => e.notification_id === notificationId && e.level === LEVEL.info);
      return found.some((e) => e.msg === 'notification completed') ? found : undefined;
    });
    const line = (msg: string) => story.find((e) => e.msg === msg);
    expect(line('notification accepted')).toMatchObject({
      client_id: tenant.clientId,
      target: 'devices',
      devices: 2,
    });
    // Two named devices are fanned out in the request that accepts them, not by a fan-out job.
    expect(line('fan-out done')).toMatchObject({ deliveries: 2, pages: 1, notification_id: notificationId });
    expect(line('fan-out done')).not.toHaveProperty('job_id');
    expect(line('notification completed')).toMatchObject({
      status: 'completed',
      total: 2,
      sent: 2,
      failed: 0,
      duration_ms: expect.any(Number),
    });
    const order = story.map((e) => e.msg);
    expect(order.indexOf('notification accepted')).toBeLessThan(order.indexOf('fan-out done'));
    expect(order.indexOf('fan-out done')).toBeLessThan(order.indexOf('notification completed'));
  });

  it('logs FCM retries and dead tokens at info, with their error codes', async () => {
    const flaky = 'log-flaky-token-0001-abcdefgh';
    const ids = [await device(flaky), await device('unregistered-log-token-0001-abcdefgh')];
    server.emulator.setFaults({ tokens: { [flaky]: 'UNAVAILABLE' } });
    try {
      const accepted = await server.as(tenant, 'POST', '/api/v1/notify/', {
        device_ids: ids,
        title: 'Faults',
      });
      expect(accepted.statusCode, accepted.body).toBe(202);
      const notificationId = accepted.json().notification_id;
      await waitForNotification(server, tenant, notificationId);
      const story = await waitFor(async () => {
        const found = entries().filter((e) => e.notification_id === notificationId);
        return found.some((e) => e.msg === 'notification completed') ? found : undefined;
      });
      expect(story.find((e) => e.msg === 'FCM send failed, will retry')).toMatchObject({
        level: LEVEL.info,
        attempt: 1,
        retrying: 1,
        errors: { UNAVAILABLE: 1 },
        next_attempt: 2,
        retry_at: expect.any(String),
      });
      expect(
        story.find((e) => e.msg === 'devices deactivated: FCM says their tokens are dead'),
      ).toMatchObject({
        level: LEVEL.info,
        deactivated: 1,
        reasons: { UNREGISTERED: 1 },
      });
      expect(story.find((e) => e.msg === 'notification completed')).toMatchObject({ total: 2, failed: 2 });
    } finally {
      server.emulator.setFaults({});
    }
  });

  it('warns about a failing webhook endpoint, then about disabling it', async () => {
    const hook = await server.as(tenant, 'POST', '/api/v1/webhooks/', {
      url: `http://127.0.0.1:${await closedPort()}/hook`,
      event_types: ['notification.completed'],
    });
    expect(hook.statusCode, hook.body).toBe(201);
    const webhookId = hook.json().id;
    const accepted = await server.as(tenant, 'POST', '/api/v1/notify/', {
      device_ids: [await device('log-webhook-token-0001-abcdefgh')],
      title: 'Hooked',
    });
    expect(accepted.statusCode, accepted.body).toBe(202);
    const warnings = await waitFor(
      async () => {
        const found = entries().filter((e) => e.webhook_id === webhookId && e.level === LEVEL.warn);
        return found.length >= 2 ? found : undefined;
      },
      15_000,
      'two webhook warnings',
    );
    expect(warnings[0]).toMatchObject({
      msg: 'webhook delivery failed, will retry',
      client_id: tenant.clientId,
      attempt: 1,
      consecutive_failures: 1,
      error: expect.any(String),
    });
    expect(warnings[1]).toMatchObject({
      msg: 'webhook endpoint disabled after too many consecutive failed deliveries',
      consecutive_failures: 2,
    });
  });
});

describe('the log format', () => {
  it('is LOG_FORMAT when set, else pretty on a terminal outside production, else JSON', () => {
    expect(resolveLogFormat(undefined, { isTTY: true, production: false })).toBe('pretty');
    expect(resolveLogFormat(undefined, { isTTY: false, production: false })).toBe('json');
    expect(resolveLogFormat(undefined, { isTTY: true, production: true })).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true, production: false })).toBe('json');
    expect(resolveLogFormat('pretty', { isTTY: false, production: true })).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({}).logFormat).toBeUndefined();
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT/);
  });

  it('pretty: one readable line with the local time, the level and the fields, secrets still redacted', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const logger = createLogger('info', prettyStream(out));
    logger.info(
      { route: '/api/v1/notify', status: 202, token: 'push-token-secret-value' },
      'POST /api/v1/notify 202 3ms',
    );
    await waitFor(async () => (text.includes('\n') ? true : undefined));
    const time = new Date();
    const hh = String(time.getHours()).padStart(2, '0');
    expect(text).toMatch(
      new RegExp(`^\\[${hh}:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: POST /api/v1/notify 202 3ms `),
    );
    expect(text).toContain('"status":202');
    expect(text).not.toContain('push-token-secret-value');
    expect(text.trimEnd().split('\n')).toHaveLength(1);
  });
});
