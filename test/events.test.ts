/**
 * The event outbox: every state change of a send writes its event in the same transaction, batched per send
 * batch, with no push token in any payload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEventsAfter } from '../src/db/events.repository.ts';
import { startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('events');
});
afterAll(() => server?.close());

const post = (url: string, payload: unknown) =>
  server.app.inject({ method: 'POST', url, headers: tenant.headers, payload: payload as object });

describe('events', () => {
  it('records registration, sent/failed batches, deactivation, completion and receipts', async () => {
    const phone = '+255714000222';
    const tokens = ['evt-good-1', 'evt-good-2', `unregistered-evt-${Date.now()}`];
    for (const token of tokens) {
      expect(
        (await post('/api/v1/devices/', { platform: 'android', token, phone_number: phone })).statusCode,
      ).toBe(201);
    }
    const accepted = await post('/api/v1/notify/', { phone_number: phone, title: 'Hi' });
    const id = accepted.json().notification_id;
    await waitForNotification(server, tenant, id);

    const events = await listEventsAfter(server.runtime.deps.db, tenant.clientId, '0', 100);
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'device.registered')).toHaveLength(3);
    const sent = events.filter((e) => e.type === 'notification.sent');
    expect(sent.reduce((n, e) => n + (e.payload.count as number), 0)).toBe(2);
    const failed = events.find((e) => e.type === 'notification.failed')!;
    expect(failed.payload).toMatchObject({
      count: 1,
      deliveries: [{ status: 'failed', error_code: 'UNREGISTERED' }],
    });
    expect(events.find((e) => e.type === 'device.deactivated')!.payload).toMatchObject({
      reason: 'UNREGISTERED',
    });
    const completed = events.filter((e) => e.type === 'notification.completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]!.payload).toMatchObject({
      status: 'partially_failed',
      counts: { total: 3, sent: 2, failed: 1 },
    });
    for (const e of events) {
      expect(e.event_id).toMatch(/^evt_[0-9a-f]{32}$/);
      expect(e.request_id ?? '').not.toBe(undefined);
      for (const token of tokens) expect(JSON.stringify(e.payload)).not.toContain(token);
    }
    expect(sent[0]!.request_id).toBe(accepted.headers['x-request-id']);

    const message = server.emulator.received().find((r) => r.message.token === 'evt-good-1')!;
    const data = message.message.data as Record<string, string>;
    const receipt = await post('/api/v1/receipts/', {
      delivery_id: data.fcms_delivery_id,
      receipt_token: data.fcms_receipt,
      status: 'read',
    });
    expect(receipt.statusCode).toBe(200);
    const after = await listEventsAfter(server.runtime.deps.db, tenant.clientId, events.at(-1)!.id, 100);
    expect(after.map((e) => e.type)).toEqual(['notification.delivered', 'notification.read']);
    expect(after[0]!.notification_id).toBe(id);
  });
});
