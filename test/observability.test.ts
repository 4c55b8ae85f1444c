/**
 * Observability through the real server: /metrics moving as a send progresses, JSON logs that carry the request
 * id into the jobs and never a secret, errors reported to a (fake) Sentry, and liveness/readiness with their
 * dependencies up, degraded and down.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { createLogger } from '../src/logger.ts';
import { metricsAccess, serveMetrics } from '../src/observability/metrics-server.ts';
import { startTestServer, type Tenant, type TestServer, waitFor, waitForNotification } from './helpers.ts';

/** Series of a Prometheus text exposition: `name{a="b"} 1` → name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of every series of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** A stand-in for Sentry's ingest: records the events of every envelope it receives. */
async function fakeSentry(): Promise<{
  dsn: string;
  events: Record<string, unknown>[];
  raw: string[];
  close(): Promise<void>;
}> {
  const events: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const text = body.toString('utf8');
      raw.push(text);
      // An envelope: a header line, then item header / item payload pairs.
      const lines = text.split('\n').filter((line) => line.trim() !== '');
      for (let i = 1; i + 1 < lines.length; i += 2) {
        const item = JSON.parse(lines[i]!) as { type?: string };
        if (item.type === 'event') events.push(JSON.parse(lines[i + 1]!));
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://publickey@127.0.0.1:${port}/1`,
    events,
    raw,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Redis is optional for the suite: the readiness check of a real Redis runs when one answers. */
const redisUrl = inject('redisUrl');
let server: TestServer;
let tenant: Tenant;
let sentry: Awaited<ReturnType<typeof fakeSentry>>;
const logLines: string[] = [];

beforeAll(async () => {
  sentry = await fakeSentry();
  const logger = createLogger('debug', { write: (line: string) => logLines.push(line) });
  server = await startTestServer(
    { SENTRY_DSN: sentry.dsn, FCM_EMULATOR: 'true', ...(redisUrl ? { REDIS_URL: redisUrl } : {}) },
    { logger },
  );
  tenant = await server.tenant('observed');
});
afterAll(async () => {
  await server?.close();
  await sentry?.close();
});

const scrape = async () => {
  const response = await server.app.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  return parseMetrics(response.body);
};

const registerDevice = (token: string, phone: string, headers = tenant.headers) =>
  server.app.inject({
    method: 'POST',
    url: '/api/v1/devices/',
    headers,
    payload: { platform: 'android', token, phone_number: phone },
  });

describe('GET /metrics', () => {
  it('moves the delivery, FCM, acceptance and HTTP counters as a send progresses', async () => {
    const phone = '+255713000001';
    const tokens = ['android', 'ios', 'web'].map((p) => `${p}-metrics-${Date.now()}`);
    for (const [i, platform] of (['android', 'ios', 'web'] as const).entries()) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/devices/',
        headers: tenant.headers,
        payload: { platform, token: tokens[i], phone_number: phone },
      });
      expect(response.statusCode).toBe(201);
    }
    const before = await scrape();

    const accepted = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: tenant.headers,
      payload: { phone_number: phone, title: 'Hello', body: 'metrics' },
    });
    expect(accepted.statusCode).toBe(202);
    const notification = await waitForNotification(server, tenant, accepted.json().notification_id);
    expect(notification.counts).toMatchObject({ total: 3, sent: 3 });

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      total(after, name, labels) - total(before, name, labels);
    expect(delta('fcms_deliveries_total', { status: 'sent' })).toBe(3);
    for (const platform of ['android', 'ios', 'web']) {
      expect(delta('fcms_deliveries_total', { status: 'sent', platform })).toBe(1);
    }
    expect(delta('fcms_fcm_request_duration_seconds_count')).toBe(3);
    expect(delta('fcms_fcm_request_duration_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(delta('fcms_notifications_accepted_total', { kind: 'profile', status: 'queued' })).toBe(1);
    expect(
      delta('fcms_http_requests_total', { method: 'POST', route: '/api/v1/notify', status_class: '2xx' }),
    ).toBe(1);
    expect(
      delta('fcms_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/notify' }),
    ).toBe(1);
    expect(delta('fcms_http_requests_total', { route: '/api/v1/notifications/:id' })).toBeGreaterThan(0);
  });

  it('counts FCM error codes and failed deliveries', async () => {
    const phone = '+255713000002';
    expect((await registerDevice(`unregistered-${Date.now()}`, phone)).statusCode).toBe(201);
    const before = await scrape();
    const accepted = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: tenant.headers,
      payload: { phone_number: phone, title: 'Gone' },
    });
    await waitForNotification(server, tenant, accepted.json().notification_id);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    expect(delta('fcms_fcm_errors_total', { code: 'UNREGISTERED' })).toBe(1);
    expect(delta('fcms_deliveries_total', { status: 'failed', platform: 'android' })).toBe(1);
  });

  it('labels HTTP metrics with route patterns, never raw URLs, and reads the queue gauges', async () => {
    await server.app.inject({ method: 'GET', url: '/no/such/route/12345' });
    const response = await server.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).not.toMatch(/route="[^"]*[0-9a-f]{8}-[0-9a-f]{4}/);
    expect(response.body).not.toContain('12345');
    const samples = parseMetrics(response.body);
    expect(
      total(samples, 'fcms_http_requests_total', { route: 'unmatched', status_class: '4xx' }),
    ).toBeGreaterThan(0);
    for (const queue of ['fanout', 'send']) {
      expect(samples.some((s) => s.name === 'fcms_queue_jobs' && s.labels.queue === queue)).toBe(true);
      expect(
        samples.find((s) => s.name === 'fcms_queue_oldest_job_age_seconds' && s.labels.queue === queue)
          ?.value,
      ).toBeGreaterThanOrEqual(0);
    }
    expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
  });

  it('is served to loopback callers only, unless METRICS_TOKEN is set', async () => {
    const remote = await server.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' });
    expect(remote.statusCode).toBe(403);
    expect(remote.json().error.code).toBe('forbidden');

    const token = 'metrics-token-0123456789';
    expect(metricsAccess('203.0.113.9', `Bearer ${token}`, token)).toBe('allowed');
    expect(metricsAccess('127.0.0.1', undefined, token)).toBe('unauthorized');
    expect(metricsAccess('127.0.0.1', 'Bearer wrong', token)).toBe('unauthorized');

    // METRICS_PORT's listener (how a worker process is scraped), with a token.
    const listener = await serveMetrics(server.runtime.deps.metrics, { host: '127.0.0.1', port: 0, token });
    try {
      expect((await fetch(listener.url)).status).toBe(401);
      const scraped = await fetch(listener.url, { headers: { authorization: `Bearer ${token}` } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('fcms_deliveries_total{status="sent",platform="android"}');
    } finally {
      await listener.close();
    }
  });
});

describe('logs', () => {
  it('carry the request id into the jobs and webhooks of a send and never contain a secret', async () => {
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = await server.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks/',
      headers: tenant.headers,
      payload: {
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        event_types: ['notification.completed'],
      },
    });
    expect(hook.statusCode, hook.body).toBe(201);
    const pushToken = `android-logged-${Date.now()}-secret-push-token`;
    const phone = '+255713000003';
    const bearer = { authorization: `Bearer ${tenant.token}`, 'client-id': tenant.clientId };
    expect((await registerDevice(pushToken, phone, bearer)).statusCode).toBe(201);
    const requestId = `obs-${Date.now()}`;
    const accepted = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: { ...tenant.headers, 'x-request-id': requestId },
      payload: { phone_number: phone, title: 'Traced', data: { token: 'data-token-value-abc' } },
    });
    expect(accepted.headers['x-request-id']).toBe(requestId);
    const notificationId = accepted.json().notification_id;
    await waitForNotification(server, tenant, notificationId);

    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const http = entries.filter((e) => e.request_id === requestId && e.job_id === undefined);
    expect(http).toContainEqual(
      expect.objectContaining({
        method: 'POST',
        route: '/api/v1/notify',
        status: 202,
        client_id: tenant.clientId,
      }),
    );
    const jobs = await waitFor(async () => {
      const found = logLines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((e) => e.request_id === requestId && e.job_id !== undefined);
      return found.some((e) => e.queue === 'send') ? found : undefined;
    });
    // A send to a person is fanned out in the request that accepts it: its jobs are send jobs only.
    expect(new Set(jobs.map((e) => e.queue))).toEqual(new Set(['send']));
    for (const entry of jobs) expect(entry.notification_id).toBe(notificationId);
    expect(jobs.map((e) => e.msg)).toContain('send batch recorded');
    const webhook = await waitFor(async () =>
      logLines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((e) => e.msg === 'webhook delivered' && e.request_id === requestId),
    );
    expect(webhook).toMatchObject({ webhook_id: hook.json().id });
    receiver.close();
    await server.app.inject({
      method: 'DELETE',
      url: `/api/v1/webhooks/${hook.json().id}/`,
      headers: tenant.headers,
    });

    const everything = logLines.join('\n');
    for (const secret of [
      tenant.token,
      pushToken,
      'data-token-value-abc',
      tenant.account.private_key.split('\n')[1]!,
      tenant.account.private_key_id!,
      hook.json().secret,
    ]) {
      expect(everything).not.toContain(secret);
    }
  });

  it('redacts sensitive fields at any depth, whatever their case', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => lines.push(line) });
    logger.child({ token: 'bound-token-1' }).info(
      {
        endpoint: { url: 'https://hooks.example.com', secret: 'whsec_abcdef0123456789' },
        headers: { Authorization: 'Bearer abc.def', 'Client-Token': 'client-token-2' },
        service_account: { private_key: '-----BEGIN PRIVATE KEY-----' },
        devices: [{ id: 'd1', token: 'push-token-3' }],
        kept: 'visible',
      },
      'redaction',
    );
    const text = lines.join('');
    for (const secret of [
      'bound-token-1',
      'whsec_',
      'abc.def',
      'client-token-2',
      'BEGIN PRIVATE',
      'push-token-3',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(JSON.parse(text)).toMatchObject({
      kept: 'visible',
      endpoint: { url: 'https://hooks.example.com', secret: '[redacted]' },
      devices: [{ id: 'd1', token: '[redacted]' }],
    });
  });
});

describe('Sentry', () => {
  it('reports an unexpected API error with the request id and tenant, and no token', async () => {
    // A second app over the same dependencies, with a route that fails as a bug would.
    const app = await buildApp(server.runtime.deps);
    app.get('/boom', { config: { scope: 'read' }, schema: { hide: true } }, async () => {
      throw new Error(`upstream refused token=${tenant.token}`);
    });
    await app.ready();
    try {
      const response = await app.inject({
        method: 'GET',
        url: '/boom?token=query-secret-value',
        headers: { ...tenant.headers, 'x-request-id': 'sentry-req-1', cookie: 'session=cookie-secret' },
      });
      expect(response.statusCode).toBe(500);
      expect(response.json().error).toMatchObject({ code: 'internal_error', request_id: 'sentry-req-1' });
      expect(response.body).not.toContain(tenant.token);
    } finally {
      await app.close();
    }
    await server.runtime.deps.errors.flush();
    const event = await waitFor(async () =>
      sentry.events.find(
        (e) => (e.tags as Record<string, string> | undefined)?.request_id === 'sentry-req-1',
      ),
    );
    expect(event.tags).toMatchObject({
      request_id: 'sentry-req-1',
      tenant_id: tenant.clientId,
      route: '/boom',
      method: 'GET',
    });
    const envelopes = sentry.raw.join('\n');
    for (const secret of [tenant.token, 'query-secret-value', 'cookie-secret']) {
      expect(envelopes).not.toContain(secret);
    }
    // The log line of that 500 quotes the error, censored the same way.
    const logged = logLines.filter((line) => line.includes('sentry-req-1')).join('\n');
    expect(logged).toContain('upstream refused token=[redacted]');
    expect(logged).not.toContain(tenant.token);
  });

  it('reports a failing job with its queue, job id and request id', async () => {
    await server.runtime.queue.boss.send('send', {
      notificationId: 'not-a-uuid',
      deliveryIds: [],
      attempt: 1,
      requestId: 'sentry-job-req-1',
    });
    const event = await waitFor(async () => {
      await server.runtime.deps.errors.flush();
      return sentry.events.find(
        (e) => (e.tags as Record<string, string> | undefined)?.request_id === 'sentry-job-req-1',
      );
    });
    expect(event.tags).toMatchObject({ queue: 'send', request_id: 'sentry-job-req-1' });
    expect((event.tags as Record<string, string>).job_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is off without SENTRY_DSN: the reporter does nothing', async () => {
    const { createErrorReporter, disabledReporter } = await import('../src/observability/error-reporter.ts');
    const { loadConfig } = await import('../src/config/index.ts');
    const reporter = await createErrorReporter(loadConfig({ NODE_ENV: 'test' }), createLogger('silent'));
    expect(reporter).toBe(disabledReporter);
    expect(reporter.enabled).toBe(false);
  });
});

describe('health', () => {
  it('liveness answers without touching a dependency; readiness checks each one', async () => {
    const live = await server.app.inject({ method: 'GET', url: '/api/v1/health/' });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ status: 'ok', uptime_seconds: expect.any(Number) });

    const ready = await server.app.inject({ method: 'GET', url: '/api/v1/health/ready/' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ok',
      checks: {
        database: { status: 'ok', latency_ms: expect.any(Number) },
        queue: { status: 'ok', waiting: expect.any(Number), oldest_job_age_seconds: expect.any(Number) },
        ...(redisUrl ? { redis: { status: 'ok' } } : {}),
        fcm: { status: 'ok' },
      },
    });
    const again = await server.app.inject({ method: 'GET', url: '/api/v1/health/ready/' });
    expect(again.json().checks.fcm).toMatchObject({ status: 'ok', cached: true });
  });

  describe('with dependencies failing', () => {
    let broken: TestServer;
    beforeAll(async () => {
      broken = await startTestServer({ FCM_EMULATOR: 'true', REDIS_URL: 'redis://127.0.0.1:1' });
    });
    afterAll(() => broken?.close());

    it('is degraded (200) when only FCM and Redis are down', async () => {
      await broken.emulator.close();
      const ready = await broken.app.inject({ method: 'GET', url: '/api/v1/health/ready/' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({
        status: 'degraded',
        checks: {
          database: { status: 'ok' },
          queue: { status: 'ok' },
          redis: { status: 'down', error: expect.any(String) },
          fcm: { status: 'down', error: expect.any(String), cached: false },
        },
      });
    });

    it('is down (503) when the database is, while liveness still answers 200', async () => {
      await broken.runtime.database.close();
      const ready = await broken.app.inject({ method: 'GET', url: '/api/v1/health/ready/' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({
        status: 'down',
        checks: { database: { status: 'down' }, queue: { status: 'down' } },
      });
      const live = await broken.app.inject({ method: 'GET', url: '/api/v1/health/' });
      expect(live.statusCode).toBe(200);
    });
  });
});
