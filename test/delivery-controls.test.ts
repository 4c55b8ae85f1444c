/**
 * Delivery controls through the HTTP API, on this run's database with the FCM emulator and a clock the test
 * moves forward: a send's expires_at, and POST /notifications/{id}/cancel racing the fan-out and the sends.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { fanOut, startFanoutJob } from '../src/jobs/fanout.job.ts';
import { QUEUES } from '../src/queue/contract.ts';
import type { ServiceDeps } from '../src/services/deps.ts';
import {
  errorOf,
  ManualClock,
  seedDevices,
  startTestServer,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

const HOUR = 3_600_000;

let server: TestServer;
let tenant: Tenant;
const clock = new ManualClock();

beforeAll(async () => {
  // Small batches make a long fan-out (many pages), so a cancel can land in the middle of it.
  server = await startTestServer(
    { SEND_BATCH_SIZE: '5', SEND_MAX_ATTEMPTS: '10', RATE_LIMIT_ENABLED: 'false' },
    { clock },
  );
  tenant = await server.tenant('controls');
});
afterAll(() => server?.close());

const post = (url: string, payload?: unknown) => server.as(tenant, 'POST', url, payload);
const get = (url: string) => server.as(tenant, 'GET', url);

async function registerDevices(prefix: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const responses = await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, (_, i) =>
        post('/api/v1/devices/', { platform: 'android', token: `${prefix}-${start + i}-token-0123456789` }),
      ),
    );
    for (const response of responses) {
      expect(response.statusCode).toBe(201);
      ids.push(response.json().id);
    }
  }
  return ids;
}

/** Every delivery of a notification as stored. */
function deliveriesOf(notificationId: string) {
  return query<{ id: string; status: string; sent_at: Date | null; fcm_message_id: string | null }>(
    server.runtime.deps.db,
    sql`select id::text as id, status, sent_at, fcm_message_id from deliveries
      where notification_id = ${notificationId}`,
  );
}

/** The types of the events a notification wrote to the outbox (what webhooks and the event stream carry). */
async function eventTypesOf(notificationId: string): Promise<string[]> {
  const rows = await query<{ type: string }>(
    server.runtime.deps.db,
    sql`select type from events where notification_id = ${notificationId} order by id`,
  );
  return rows.map((r) => r.type);
}

describe('expires_at', () => {
  it('refuses an expires_at already past (by the server clock)', async () => {
    const [device] = await registerDevices('past', 1);
    const response = await post('/api/v1/notify/', {
      device_ids: [device],
      title: 'Too late',
      expires_at: new Date(clock.now().getTime() - 1000).toISOString(),
    });
    expect(response.statusCode).toBe(422);
    expect(errorOf(response).details).toEqual([{ field: 'expires_at', message: 'must be in the future' }]);
  });

  it('sends before expires_at, and a retry after it ends expired (reason expired), not dead', async () => {
    const [onTime, late] = await registerDevices('expiry', 2);
    const ok = await post('/api/v1/notify/', {
      device_ids: [onTime],
      title: 'In time',
      expires_at: new Date(clock.now().getTime() + HOUR).toISOString(),
    });
    expect(ok.statusCode).toBe(202);
    expect((await waitForNotification(server, tenant, ok.json().notification_id)).status).toBe('completed');

    server.emulator.setFaults({ tokens: { 'expiry-1-token-0123456789': 'UNAVAILABLE' } });
    const sent = await post('/api/v1/notify/', {
      device_ids: [late],
      title: 'Flash sale ends at noon',
      expires_at: new Date(clock.now().getTime() + HOUR).toISOString(),
    });
    const id = sent.json().notification_id;
    await waitFor(
      async () => ((await deliveriesOf(id))[0]?.status === 'retrying' ? true : undefined),
      15_000,
      'the first attempt to fail',
    );
    // FCM stays unavailable: whichever attempt comes next finds the send expired (in triage, or when its
    // retry would come after expires_at), and never dead.
    clock.advance(2 * HOUR);
    const done = await waitForNotification(server, tenant, id);
    server.emulator.setFaults({});
    expect(done.status).toBe('expired');
    expect(done.counts).toMatchObject({ total: 1, sent: 0, failed: 0, expired: 1 });
    const status = (await get(`/api/v1/notifications/${id}/status/`)).json();
    expect(status.by_status).toEqual({ expired: 1 });
    expect(status.deliveries[0]).toMatchObject({ status: 'expired', error_code: 'expired' });
    // Expired is the sender's rule, not a dead letter to requeue.
    expect((await get(`/api/v1/dead-letters/?notification_id=${id}`)).json().items).toEqual([]);
    expect(await eventTypesOf(id)).toContain('notification.expired');
  });
});

describe('cancel', () => {
  it('answers 404 for an unknown notification and cancelled: 0 for a finished one', async () => {
    const missing = await post('/api/v1/notifications/0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6/cancel');
    expect(missing.statusCode).toBe(404);
    const [device] = await registerDevices('finished', 1);
    const sent = await post('/api/v1/notify/', { device_ids: [device], title: 'Done already' });
    const id = sent.json().notification_id;
    await waitForNotification(server, tenant, id);
    const cancel = await post(`/api/v1/notifications/${id}/cancel`);
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toMatchObject({ cancelled: 0, notification: { status: 'completed' } });
  });

  it('mid-fan-out: no delivery is both cancelled and sent, and the counts add up', async () => {
    const devices = 500;
    await seedDevices(server, tenant, 'cancel', devices);
    const { deps } = server.runtime;
    // The fan-out stops after two pages, as when its worker dies: pages of 50 (SEND_BATCH_SIZE 5 × 10) commit
    // one by one, the third one's transaction fails. Its job stays queued until a fan-out worker runs again.
    await deps.queue.stopWork(QUEUES.fanout);
    // Slow answers keep batches in flight when the cancel comes: those come back sent. The emulator counts a
    // request when it arrives and records the message when it answers, 3 s later: the cancel goes between.
    server.emulator.setFaults({ latencyMs: 3000 });
    const before = server.emulator.received({ projectId: tenant.account.project_id }).length;
    const requestsBefore = server.emulator.stats().sendRequests;
    const sent = await post('/api/v1/notify/', { all_devices: true, title: 'Maybe not' });
    expect(sent.statusCode).toBe(202);
    const id = sent.json().notification_id;
    let pages = 0;
    const dying: ServiceDeps = {
      ...deps,
      queue: {
        ...deps.queue,
        enqueueMany: async (tx, queue, jobs) => {
          pages += 1;
          if (pages > 2) throw new Error('worker killed');
          await deps.queue.enqueueMany(tx, queue, jobs);
        },
      },
    };
    await expect(fanOut(dying, { notificationId: id })).rejects.toThrow('worker killed');
    expect((await get(`/api/v1/notifications/${id}/`)).json()).toMatchObject({
      status: 'sending',
      counts: { total: 100 },
    });
    await waitFor(
      async () => (server.emulator.stats().sendRequests > requestsBefore ? true : undefined),
      15_000,
      'the first message to reach FCM',
    );
    // Waiting for an answer instead raced the send job that records it, and lost on a fast enough machine.
    expect(server.emulator.received({ projectId: tenant.account.project_id }).length).toBe(before);

    const cancel = await post(`/api/v1/notifications/${id}/cancel`);
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json().cancelled).toBeGreaterThan(0);
    await startFanoutJob(deps);

    // Batches FCM had when the cancel came are recorded as what FCM made of them: wait until FCM has been
    // quiet for longer than its answers take, and every message it accepted shows as a sent delivery. A
    // delivery left cancelled although FCM accepted it would keep the counts apart until the timeout.
    const accepted = () =>
      server.emulator
        .received({ projectId: tenant.account.project_id })
        .slice(before)
        .filter((m) => m.status === 200 && !m.validateOnly);
    // Every request that reached the emulator since the send has been answered (none held in its latency).
    const unanswered = () =>
      server.emulator.stats().sendRequests -
      requestsBefore -
      server.emulator.received({ projectId: tenant.account.project_id }).slice(before).length;
    const done = await waitFor(
      async () => {
        const notification = (await get(`/api/v1/notifications/${id}/`)).json();
        const messages = accepted();
        const quiet = Date.now() - (messages.at(-1)?.receivedAt ?? 0) > 3_500;
        return notification.status === 'cancelled' &&
          unanswered() === 0 &&
          quiet &&
          notification.counts.sent === messages.length
          ? notification
          : undefined;
      },
      30_000,
      'what FCM accepted to be recorded sent',
    );
    server.emulator.setFaults({});
    expect(done.status).toBe('cancelled');
    expect(done.cancelled_at).not.toBeNull();
    // The fan-out resumed after the cancel made no more deliveries.
    expect(done.counts.total).toBe(100);

    const rows = await deliveriesOf(id);
    expect(rows.length).toBe(done.counts.total);
    expect(rows.filter((r) => r.status === 'cancelled' && (r.sent_at || r.fcm_message_id))).toEqual([]);
    const byStatus: Record<string, number> = {};
    for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    expect(byStatus.sent ?? 0).toBe(done.counts.sent);
    expect(byStatus.cancelled ?? 0).toBe(done.counts.cancelled);
    // Batches FCM had when the cancel came were counted cancelled by it, then recorded sent, as they were.
    expect(done.counts.sent).toBeGreaterThan(0);
    expect(done.counts.cancelled).toBeLessThan(cancel.json().cancelled);
    expect(done.counts.sent + done.counts.cancelled + done.counts.failed).toBe(done.counts.total);

    // FCM received exactly the deliveries recorded as sent: none counted cancelled went out.
    const received = accepted();
    const sentIds = new Set(rows.filter((r) => r.status === 'sent').map((r) => r.id));
    for (const message of received) {
      const data = (message.message as { data: Record<string, string> }).data;
      expect(sentIds.has(data.fcms_delivery_id!)).toBe(true);
    }

    const status = (await get(`/api/v1/notifications/${id}/status/?status=cancelled&limit=1`)).json();
    expect(status.by_status).toEqual(byStatus);
    expect(status.deliveries[0]).toMatchObject({ status: 'cancelled', error_code: 'cancelled' });

    expect(await eventTypesOf(id)).toContain('notification.cancelled');
    const again = await post(`/api/v1/notifications/${id}/cancel`);
    expect(again.json()).toMatchObject({ cancelled: 0, notification: { status: 'cancelled' } });
  }, 120_000);
});
