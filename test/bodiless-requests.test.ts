/**
 * Bodiless requests with the README's headers: every operation of the OpenAPI document that takes no body
 * (and those whose body is optional) answers its documented success status when the client still sends
 * `Content-Type: application/json` and an empty body, as `curl -H "Content-Type: application/json" -X DELETE`
 * does. An empty body means "no body"; malformed JSON stays a 400 in our format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/services/clients.service.ts';
import { errorOf, type Method, startTestServer, type Tenant, type TestServer } from './helpers.ts';
import { readApi } from './openapi-tools.ts';

let server: TestServer;
let tenant: Tenant;
/** A second tenant, whose Firebase project can be made default and deleted without touching the first one's. */
let other: Tenant;
let adminHeaders: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('bodiless');
  other = await server.tenant('bodiless-other');
  const admin = await createClient(server.runtime.deps, { name: 'ops', scopes: ['admin'] });
  adminHeaders = { authorization: `Bearer ${admin.clientToken}` };
});
afterAll(() => server?.close());

/** What a client sends on a bodiless call: the JSON content type, and nothing. */
const bodiless = (headers: Record<string, string>, method: Method, url: string) =>
  server.app.inject({
    method,
    url,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: '',
  });

async function create(url: string, payload: unknown, headers = tenant.headers): Promise<string> {
  const response = await server.app.inject({ method: 'POST', url, headers, payload: payload as object });
  expect(response.statusCode, `${url}: ${response.body}`).toBe(201);
  return response.json().id;
}

/**
 * Each bodiless operation, in an order that makes every one of them succeed (delete before restore, pause
 * before resume): the operation's key as in the OpenAPI document, who calls it, and the concrete URL.
 */
async function plan(): Promise<{ key: string; headers: Record<string, string>; url: string }[]> {
  const v1 = '/api/v1';
  const device = await create(`${v1}/devices/`, { platform: 'android', token: 'bodiless-device-token-1' });
  const profile = await create(`${v1}/profiles/`, { external_id: 'bodiless-user' });
  const template = await create(`${v1}/templates/`, { name: 'bodiless', title: 'Hello' });
  const topic = await create(`${v1}/topics/`, { name: 'bodiless-news' });
  const cap = await create(`${v1}/frequency-caps/`, { max: 3, per: '24h' });
  const webhook = await create(`${v1}/webhooks/`, { url: 'http://127.0.0.1:9/bodiless' });
  const schedule = await create(`${v1}/notify/schedule/`, {
    device_ids: [device],
    title: 'Later',
    scheduled_at: new Date(Date.now() + 86_400_000).toISOString(),
  });
  const client = await create(`${v1}/admin/clients`, { name: 'bodiless-app' }, adminHeaders);
  const sent = await server.app.inject({
    method: 'POST',
    url: `${v1}/notify/`,
    headers: tenant.headers,
    payload: { device_ids: [device], title: 'Sent, then cancelled' },
  });
  expect(sent.statusCode, sent.body).toBe(202);
  const notification: string = sent.json().notification_id;
  const t = tenant.headers;
  return [
    { key: 'POST /api/v1/schedules/{id}/pause', headers: t, url: `${v1}/schedules/${schedule}/pause/` },
    { key: 'POST /api/v1/schedules/{id}/resume', headers: t, url: `${v1}/schedules/${schedule}/resume/` },
    { key: 'POST /api/v1/schedules/{id}/cancel', headers: t, url: `${v1}/schedules/${schedule}/cancel/` },
    {
      key: 'POST /api/v1/notifications/{id}/cancel',
      headers: t,
      url: `${v1}/notifications/${notification}/cancel/`,
    },
    { key: 'POST /api/v1/webhooks/{id}/test', headers: t, url: `${v1}/webhooks/${webhook}/test/` },
    {
      key: 'POST /api/v1/webhooks/{id}/rotate-secret',
      headers: t,
      url: `${v1}/webhooks/${webhook}/rotate-secret/`,
    },
    { key: 'DELETE /api/v1/webhooks/{id}', headers: t, url: `${v1}/webhooks/${webhook}/` },
    { key: 'POST /api/v1/devices/{id}/seen', headers: t, url: `${v1}/devices/${device}/seen/` },
    { key: 'DELETE /api/v1/devices/{id}', headers: t, url: `${v1}/devices/${device}/` },
    { key: 'POST /api/v1/devices/{id}/restore', headers: t, url: `${v1}/devices/${device}/restore/` },
    { key: 'DELETE /api/v1/profiles/{id}', headers: t, url: `${v1}/profiles/${profile}/` },
    { key: 'POST /api/v1/profiles/{id}/restore', headers: t, url: `${v1}/profiles/${profile}/restore/` },
    { key: 'DELETE /api/v1/templates/{id}', headers: t, url: `${v1}/templates/${template}/` },
    { key: 'DELETE /api/v1/topics/{id}', headers: t, url: `${v1}/topics/${topic}/` },
    { key: 'DELETE /api/v1/frequency-caps/{id}', headers: t, url: `${v1}/frequency-caps/${cap}/` },
    {
      key: 'POST /api/v1/firebase-projects/{id}/default',
      headers: other.headers,
      url: `${v1}/firebase-projects/${other.firebaseProjectId}/default/`,
    },
    {
      key: 'DELETE /api/v1/firebase-projects/{id}',
      headers: other.headers,
      url: `${v1}/firebase-projects/${other.firebaseProjectId}/`,
    },
    { key: 'POST /api/v1/clients/me/rotate', headers: other.headers, url: `${v1}/clients/me/rotate/` },
    {
      key: 'POST /api/v1/admin/clients/{id}/rotate',
      headers: adminHeaders,
      url: `${v1}/admin/clients/${client}/rotate`,
    },
    {
      key: 'POST /api/v1/admin/clients/{id}/revoke',
      headers: adminHeaders,
      url: `${v1}/admin/clients/${client}/revoke`,
    },
  ];
}

describe('a JSON content type with an empty body', () => {
  it('is "no body" on every bodiless operation and every optional body: the documented success status', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const api = await readApi(server.app);
    const steps = await plan();
    const planned = new Set(steps.map((s) => s.key));
    // A new bodiless operation must be added to the plan above, or this fails.
    const bodilessOps = api.operations
      .filter((op) => op.method !== 'GET' && !op.bodySchema)
      .map((op) => `${op.method} ${op.path}`);
    expect(bodilessOps.filter((key) => !planned.has(key))).toEqual([]);

    for (const step of steps) {
      const [method, path] = step.key.split(' ') as [Method, string];
      const documented = Object.keys(doc.paths[path]?.[method.toLowerCase()]?.responses ?? {});
      const success = documented.filter((status) => status.startsWith('2'));
      expect(success, step.key).toHaveLength(1);
      const response = await bodiless(step.headers, method, step.url);
      expect(response.statusCode, `${step.key}: ${response.body}`).toBe(Number(success[0]));
    }
  });

  it('does not hide malformed JSON: still a 400 malformed_json, and a body that is only spaces too', async () => {
    for (const payload of ['{"title": ', '   ', 'null x']) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/notify/',
        headers: { ...tenant.headers, 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode, payload).toBe(400);
      expect(errorOf(response).code).toBe('malformed_json');
    }
  });

  it('leaves a required body required: 422 validation_error, not a silent default', async () => {
    const response = await bodiless(tenant.headers, 'POST', '/api/v1/notify/');
    expect(response.statusCode).toBe(422);
    expect(errorOf(response).code).toBe('validation_error');
  });

  it('also holds without a content type at all, and on reads', async () => {
    const read = await bodiless(tenant.headers, 'GET', '/api/v1/devices/');
    expect(read.statusCode).toBe(200);
    const topic = await create('/api/v1/topics/', { name: 'no-content-type' });
    const deleted = await server.app.inject({
      method: 'DELETE',
      url: `/api/v1/topics/${topic}/`,
      headers: tenant.headers,
    });
    expect(deleted.statusCode).toBe(204);
  });
});
