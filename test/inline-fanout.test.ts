/**
 * A send to a person or to named devices makes its first page of deliveries (at most one send batch) in the
 * transaction that accepts it, so most such sends need no fan-out job at all; a topic or all devices, and the
 * devices past that first page, are the fan-out job's. Through the HTTP API on this run's database and the FCM
 * emulator, with the fan-out worker stopped to show which sends need it.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { startFanoutJob } from '../src/jobs/fanout.job.ts';
import { QUEUES } from '../src/queue/contract.ts';
import { startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  // Send batches of 5: a person with more devices than that needs the fan-out job for the rest.
  server = await startTestServer({ SEND_BATCH_SIZE: '5', RATE_LIMIT_ENABLED: 'false' });
  tenant = await server.tenant('inline');
});
afterAll(() => server?.close());

const post = (url: string, payload?: unknown) => server.as(tenant, 'POST', url, payload);

/** Registers `count` Android devices, of the person `externalId` when given; returns their ids. */
async function devices(prefix: string, count: number, externalId?: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await post('/api/v1/devices/', {
      platform: 'android',
      token: `${prefix}-${i}-token-0123456789`,
      ...(externalId ? { external_id: externalId } : {}),
    });
    expect(response.statusCode, response.body).toBe(201);
    ids.push(response.json().id);
  }
  return ids;
}

/** The notification's fan-out as stored, and the fan-out jobs enqueued for it. */
async function fanoutOf(id: string) {
  const [row] = await query<{ total: number; done: boolean; jobs: number }>(
    server.runtime.deps.db,
    sql`select total_count as total, fanout_done as done,
        (select count(*)::int from pgboss.job where name = ${QUEUES.fanout} and data->>'notificationId' = ${id}) as jobs
      from notifications where id = ${id}`,
  );
  return row;
}

/** Accepts a send and returns its id; the 202 still says queued (its send jobs are). */
async function send(body: Record<string, unknown>): Promise<string> {
  const response = await post('/api/v1/notify/', { title: 'Hello', ...body });
  expect(response.statusCode, response.body).toBe(202);
  expect(response.json().status).toBe('queued');
  return response.json().notification_id;
}

describe('fan-out in the accepting transaction', () => {
  it('a person, named devices, or nobody: done when the 202 comes, and sent with no fan-out worker', async () => {
    await devices('person', 3, 'user-1');
    const named = await devices('named', 2);
    await server.runtime.deps.queue.stopWork(QUEUES.fanout);
    try {
      const toPerson = await send({ external_id: 'user-1' });
      expect(await fanoutOf(toPerson)).toEqual({ total: 3, done: true, jobs: 0 });
      const toDevices = await send({ device_ids: named });
      expect(await fanoutOf(toDevices)).toEqual({ total: 2, done: true, jobs: 0 });
      expect((await waitForNotification(server, tenant, toPerson)).counts).toMatchObject({
        total: 3,
        sent: 3,
      });
      expect((await waitForNotification(server, tenant, toDevices)).counts).toMatchObject({
        total: 2,
        sent: 2,
      });

      // A person whose devices were all removed: failed at once, with the reason and its completion event.
      const [gone] = await devices('gone', 1, 'user-2');
      expect((await server.as(tenant, 'DELETE', `/api/v1/devices/${gone}/`)).statusCode).toBe(204);
      const toNobody = await send({ external_id: 'user-2' });
      expect(await fanoutOf(toNobody)).toEqual({ total: 0, done: true, jobs: 0 });
      const status = (await server.as(tenant, 'GET', `/api/v1/notifications/${toNobody}/`)).json();
      expect(status).toMatchObject({ status: 'failed', error_code: 'no_active_devices' });
      const events = await query<{ type: string }>(
        server.runtime.deps.db,
        sql`select type from events where notification_id = ${toNobody}`,
      );
      expect(events.map((e) => e.type)).toEqual(['notification.completed']);
    } finally {
      await startFanoutJob(server.runtime.deps);
    }
  });

  it('a person with more devices than a batch: the first batch at once, the rest by the fan-out job', async () => {
    await devices('many', 7, 'user-3');
    await server.runtime.deps.queue.stopWork(QUEUES.fanout);
    let id: string;
    try {
      id = await send({ external_id: 'user-3' });
      expect(await fanoutOf(id)).toEqual({ total: 5, done: false, jobs: 1 });
    } finally {
      await startFanoutJob(server.runtime.deps);
    }
    const done = await waitForNotification(server, tenant, id);
    expect(done).toMatchObject({ status: 'completed', counts: { total: 7, sent: 7 } });
    const deliveries = await query<{ devices: number; rows: number }>(
      server.runtime.deps.db,
      sql`select count(distinct device_id)::int as devices, count(*)::int as rows from deliveries
        where notification_id = ${id}`,
    );
    expect(deliveries).toEqual([{ devices: 7, rows: 7 }]);
  });

  it('a topic and all devices stay with the fan-out job: the reply never waits for their pages', async () => {
    const [subscriber] = await devices('topic', 1);
    const topic = await post('/api/v1/topics/', { name: 'inline.news' });
    expect(topic.statusCode, topic.body).toBe(201);
    const subscribed = await post(`/api/v1/topics/${topic.json().id}/subscribe`, {
      device_ids: [subscriber],
    });
    expect(subscribed.json()).toMatchObject({ subscribed: 1 });
    await server.runtime.deps.queue.stopWork(QUEUES.fanout);
    let ids: string[];
    try {
      ids = [await send({ topic: 'inline.news' }), await send({ all_devices: true })];
      for (const id of ids) expect(await fanoutOf(id)).toEqual({ total: 0, done: false, jobs: 1 });
    } finally {
      await startFanoutJob(server.runtime.deps);
    }
    expect((await waitForNotification(server, tenant, ids[0]!)).counts).toMatchObject({ total: 1, sent: 1 });
    expect((await waitForNotification(server, tenant, ids[1]!)).status).toBe('completed');
  });
});
