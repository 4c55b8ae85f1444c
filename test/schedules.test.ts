/**
 * Scheduled and recurring sends through the API, with the scheduler ticking every 100 ms: a one-off fires once
 * at its time, a recurring one fires until max_occurrences, pause/resume/cancel, missed occurrences per misfire
 * policy, several schedulers never firing an occurrence twice, bad input refused with nothing written, and
 * tenant isolation.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { startScheduler } from '../src/jobs/schedule.job.ts';
import { runDueSchedules } from '../src/services/schedules.service.ts';
import {
  errorOf,
  startTestServer,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

let server: TestServer;
let tenant: Tenant;
let profileId: string;
let deviceId: string;
const token = `sched-token-${Date.now()}`;

const post = (url: string, payload?: unknown, headers: Record<string, string> = tenant.headers) =>
  server.app.inject({
    method: 'POST',
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
const get = (url: string, headers: Record<string, string> = tenant.headers) =>
  server.app.inject({ method: 'GET', url, headers });

interface ScheduleView {
  id: string;
  status: string;
  next_run_at: string | null;
  occurrence_count: number;
  last_notification_id: string | null;
  [key: string]: unknown;
}

beforeAll(async () => {
  server = await startTestServer({ SCHEDULER_INTERVAL_MS: '100' });
  tenant = await server.tenant('scheduling');
  const device = await post('/api/v1/devices/', { platform: 'android', token, external_id: 'sched-user' });
  expect(device.statusCode).toBe(201);
  deviceId = device.json().id;
  profileId = device.json().profile_id;
});
afterAll(() => server?.close());

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

async function schedule(body: Record<string, unknown>): Promise<ScheduleView> {
  const response = await post('/api/v1/notify/schedule/', body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

const scheduleOf = async (id: string): Promise<ScheduleView> =>
  (await get(`/api/v1/schedules/${id}/`)).json();

/** Waits until the schedule satisfies the check and returns it. */
const waitForSchedule = (id: string, check: (s: ScheduleView) => boolean, what = 'schedule') =>
  waitFor(
    async () => {
      const current = await scheduleOf(id);
      return check(current) ? current : undefined;
    },
    15_000,
    what,
  );

async function notificationsOf(scheduleId: string): Promise<{ id: string; occurrence_at: string }[]> {
  const response = await get(`/api/v1/notifications/?schedule_id=${scheduleId}&limit=200`);
  expect(response.statusCode).toBe(200);
  return (response.json().items as { id: string; occurrence_at: string }[]).sort((x, y) =>
    x.occurrence_at.localeCompare(y.occurrence_at),
  );
}

const titlesReceived = (title: string) =>
  server.emulator
    .received({ projectId: tenant.account.project_id })
    .filter((r) => (r.message.notification as { title?: string } | undefined)?.title === title);

async function count(table: 'schedules' | 'notifications'): Promise<number> {
  const [row] = await query<{ n: number }>(
    server.runtime.deps.db,
    sql`select count(*)::int as n from ${sql.identifier(table)}`,
  );
  return row!.n;
}

describe('a one-off schedule', () => {
  it('is stored with its send and first run, fires once at its time, then completes', async () => {
    const at = inMs(1_200);
    const created = await schedule({
      device_ids: [deviceId],
      title: 'One-off',
      data: { kind: 'reminder' },
      scheduled_at: at,
      name: 'reminder',
    });
    expect(created).toMatchObject({
      name: 'reminder',
      status: 'active',
      recurrence: 'none',
      timezone: 'UTC',
      misfire_policy: 'fire_once',
      scheduled_at: at,
      next_run_at: at,
      occurrence_count: 0,
      last_run_at: null,
      last_notification_id: null,
      request: { device_ids: [deviceId], title: 'One-off', data: { kind: 'reminder' } },
    });
    expect(titlesReceived('One-off')).toHaveLength(0);

    const done = await waitForSchedule(created.id, (s) => s.status === 'completed', 'one-off to fire');
    expect(done).toMatchObject({ occurrence_count: 1, next_run_at: null });
    expect(Date.parse(done.last_run_at as string)).toBeGreaterThanOrEqual(Date.parse(at));
    const [notification, ...others] = await notificationsOf(created.id);
    expect(others).toHaveLength(0);
    expect(notification).toMatchObject({ id: done.last_notification_id, occurrence_at: at });
    expect(await waitForNotification(server, tenant, notification!.id)).toMatchObject({
      status: 'completed',
      schedule_id: created.id,
      request_id: `schedule:${created.id}`,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(titlesReceived('One-off')).toHaveLength(1);
    expect(titlesReceived('One-off')[0]!.message).toMatchObject({ token, data: { kind: 'reminder' } });
  });

  it('replays the reply to a repeated Idempotency-Key instead of scheduling twice', async () => {
    const headers = { ...tenant.headers, 'idempotency-key': `schedule-${Date.now()}` };
    const body = { profile_id: profileId, title: 'Once only', scheduled_at: inMs(3_600_000) };
    const first = await post('/api/v1/notify/schedule/', body, headers);
    const again = await post('/api/v1/notify/schedule/', body, headers);
    expect(first.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
    expect(first.headers.location).toBe(`/api/v1/schedules/${first.json().id}/`);
    await post(`/api/v1/schedules/${first.json().id}/cancel/`);
  });
});

describe('a recurring schedule', () => {
  it('fires every second until max_occurrences, each occurrence its own notification, then completes', async () => {
    const created = await schedule({
      profile_id: profileId,
      title: 'Tick',
      recurrence: 'cron',
      cron: '*/1 * * * * *',
      max_occurrences: 2,
    });
    expect(created.next_run_at).not.toBeNull();
    const done = await waitForSchedule(created.id, (s) => s.status === 'completed', 'cron to complete');
    expect(done).toMatchObject({ occurrence_count: 2, next_run_at: null });
    const fired = await notificationsOf(created.id);
    expect(fired).toHaveLength(2);
    expect(Date.parse(fired[1]!.occurrence_at) - Date.parse(fired[0]!.occurrence_at)).toBe(1_000);
    for (const n of fired) await waitForNotification(server, tenant, n.id);
    expect(titlesReceived('Tick')).toHaveLength(2);
  });

  it('skips an occurrence whose send is refused at fire time and carries on', async () => {
    const device = await post('/api/v1/devices/', {
      platform: 'web',
      token: `gone-${Date.now()}`,
      external_id: 'gone',
    });
    const created = await schedule({
      external_id: 'gone',
      title: 'To a deleted profile',
      scheduled_at: inMs(1_000),
    });
    const deleted = await server.app.inject({
      method: 'DELETE',
      url: `/api/v1/profiles/${device.json().profile_id}/`,
      headers: tenant.headers,
    });
    expect(deleted.statusCode).toBe(204);
    const done = await waitForSchedule(created.id, (s) => s.status === 'completed', 'refused one-off to end');
    expect(done).toMatchObject({ occurrence_count: 0, last_notification_id: null });
    expect(await notificationsOf(created.id)).toHaveLength(0);
  });
});

describe('pause, resume and cancel', () => {
  it('a paused schedule does not fire; resume and cancel move it on; a cancelled one stays cancelled', async () => {
    const created = await schedule({
      profile_id: profileId,
      title: 'Pausable',
      recurrence: 'cron',
      cron: '* * * * * *',
    });
    await waitForSchedule(created.id, (s) => s.occurrence_count >= 1, 'first tick');
    const paused = await post(`/api/v1/schedules/${created.id}/pause/`);
    expect(paused.statusCode).toBe(200);
    expect(paused.json().status).toBe('paused');
    const pausedCount = paused.json().occurrence_count;
    expect((await post(`/api/v1/schedules/${created.id}/pause/`)).json().status).toBe('paused');

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await scheduleOf(created.id)).occurrence_count).toBe(pausedCount);
    expect(await notificationsOf(created.id)).toHaveLength(pausedCount);

    // fire_once: the occurrences missed while paused become one notification, then it ticks on.
    const resumed = await post(`/api/v1/schedules/${created.id}/resume/`);
    expect(resumed.json()).toMatchObject({ status: 'active' });
    await waitForSchedule(created.id, (s) => s.occurrence_count >= pausedCount + 2, 'ticks after resume');

    const cancelled = await post(`/api/v1/schedules/${created.id}/cancel/`);
    expect(cancelled.json().status).toBe('cancelled');
    const settled = cancelled.json().occurrence_count;
    for (const action of ['resume', 'pause']) {
      const refused = await post(`/api/v1/schedules/${created.id}/${action}/`);
      expect(refused.statusCode).toBe(409);
      expect(errorOf(refused).code).toBe('invalid_state');
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await scheduleOf(created.id)).toMatchObject({ status: 'cancelled', occurrence_count: settled });
  });

  it('lists by status and recurrence with cursor pagination', async () => {
    const first = await get('/api/v1/schedules/?limit=1');
    expect(first.json().items).toHaveLength(1);
    const second = await get(`/api/v1/schedules/?limit=1&cursor=${first.json().next_cursor}`);
    expect(second.json().items[0].id > first.json().items[0].id).toBe(true);
    const cancelled = (await get('/api/v1/schedules/?status=cancelled')).json().items as ScheduleView[];
    expect(cancelled.length).toBeGreaterThan(0);
    expect(cancelled.every((s) => s.status === 'cancelled')).toBe(true);
    const crons = (await get('/api/v1/schedules/?recurrence=cron')).json().items as ScheduleView[];
    expect(crons.every((s) => s.recurrence === 'cron')).toBe(true);
    expect((await get('/api/v1/schedules/?status=nope')).statusCode).toBe(400);
  });
});

describe('missed occurrences', () => {
  it('catch_up fires each, fire_once fires one, skip fires none (or only the one on time)', async () => {
    const policies = { catch_up: 4, fire_once: 1, skip: 0, skip_on_time: 1 } as const;
    const ids: Record<string, string> = {};
    for (const key of Object.keys(policies)) {
      const policy = key === 'skip_on_time' ? 'skip' : key;
      ids[key] = (
        await schedule({
          profile_id: profileId,
          title: `Missed ${key}`,
          recurrence: 'daily',
          misfire_policy: policy,
          scheduled_at: inMs(3_600_000),
        })
      ).id;
    }
    // Daily at a time that has passed four times (3 days and 10 minutes ago); the last is beyond the grace.
    const day = 86_400_000;
    const now = Date.now();
    const start = (key: string) =>
      new Date(key === 'skip_on_time' ? now - 2 * day - 20_000 : now - 3 * day - 600_000);
    for (const key of Object.keys(policies)) {
      const at = start(key).toISOString();
      await server.runtime.deps.db.execute(
        sql`update schedules set scheduled_at = ${at}::timestamptz, next_run_at = ${at}::timestamptz where id = ${ids[key]}`,
      );
    }
    for (const [key, expected] of Object.entries(policies)) {
      const settled = await waitForSchedule(
        ids[key]!,
        (s) => s.next_run_at !== null && Date.parse(s.next_run_at) > Date.now(),
        `${key} to settle`,
      );
      const fired = await notificationsOf(ids[key]!);
      expect(fired, key).toHaveLength(expected);
      expect(settled, key).toMatchObject({ status: 'active', occurrence_count: expected });
      const lastDue = start(key).getTime() + (key === 'skip_on_time' ? 2 : 3) * day;
      expect(Date.parse(settled.next_run_at!), key).toBe(lastDue + day);
      if (key === 'fire_once' || key === 'skip_on_time') {
        expect(Date.parse(fired[0]!.occurrence_at), key).toBe(lastDue);
      }
    }
    for (const id of Object.values(ids)) await post(`/api/v1/schedules/${id}/cancel/`);
  });
});

describe('several schedulers over one database', () => {
  it('fire each occurrence exactly once', async () => {
    const second = startScheduler(server.runtime.deps);
    const third = startScheduler(server.runtime.deps);
    try {
      const at = inMs(800);
      const oneOffs = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          schedule({ profile_id: profileId, title: `Race ${i}`, scheduled_at: at }),
        ),
      );
      const cron = await schedule({
        profile_id: profileId,
        title: 'Race cron',
        recurrence: 'cron',
        cron: '* * * * * *',
        max_occurrences: 3,
      });
      // And ticks forced at once for the same instant, on top of the three running schedulers.
      await new Promise((resolve) => setTimeout(resolve, 900));
      await Promise.all(Array.from({ length: 3 }, () => runDueSchedules(server.runtime.deps, { batch: 10 })));

      for (const s of [...oneOffs, cron]) {
        await waitForSchedule(s.id, (v) => v.status === 'completed', 'raced schedule to complete');
      }
      const rows = await query<{ schedule_id: string; occurrence_at: string; n: number }>(
        server.runtime.deps.db,
        sql`select schedule_id, occurrence_at, count(*)::int as n from notifications
            where schedule_id in (${sql.join(
              [...oneOffs, cron].map((s) => sql`${s.id}::uuid`),
              sql`, `,
            )}) group by schedule_id, occurrence_at`,
      );
      expect(rows).toHaveLength(5 + 3);
      expect(rows.every((r) => r.n === 1)).toBe(true);
      for (const s of oneOffs) expect((await scheduleOf(s.id)).occurrence_count).toBe(1);
      expect((await scheduleOf(cron.id)).occurrence_count).toBe(3);
    } finally {
      await Promise.all([second.stop(), third.stop()]);
    }
  });
});

describe('bad input is refused and nothing is written', () => {
  it('422 for a bad schedule or send, 404 for an unknown target', async () => {
    const template = await post('/api/v1/templates/', { name: 'sched_greet', title: 'Hello {{name}}' });
    expect(template.statusCode, template.body).toBe(201);
    const schedulesBefore = await count('schedules');
    const notificationsBefore = await count('notifications');
    const base = { profile_id: profileId, title: 'Bad', scheduled_at: inMs(3_600_000) };
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['invalid cron', { ...base, recurrence: 'cron', cron: '61 * * * *' }, 422, 'cron'],
      ['seven-field cron', { ...base, recurrence: 'cron', cron: '* * * * * * *' }, 422, 'cron'],
      ['cron without recurrence cron', { ...base, cron: '* * * * *' }, 422, 'recurrence'],
      ['past date', { ...base, scheduled_at: inMs(-60_000) }, 422, 'scheduled_at'],
      ['date without offset', { ...base, scheduled_at: '2030-01-01T09:00:00' }, 422, 'body.scheduled_at'],
      ['missing date', { ...base, scheduled_at: undefined }, 422, 'scheduled_at'],
      ['bad timezone', { ...base, recurrence: 'daily', timezone: 'Mars/Olympus' }, 422, 'timezone'],
      ['ends before it starts', { ...base, recurrence: 'daily', ends_at: inMs(60_000) }, 422, 'ends_at'],
      ['zero occurrences', { ...base, recurrence: 'daily', max_occurrences: 0 }, 422, 'body.max_occurrences'],
      ['unknown field', { ...base, sechduled_at: inMs(1_000) }, 422, 'body'],
      ['two targets', { ...base, external_id: 'sched-user' }, 422, 'body.external_id'],
      [
        'missing template variable',
        { ...base, title: undefined, template: 'sched_greet' },
        422,
        'variables.name',
      ],
      ['unknown profile', { ...base, profile_id: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc' }, 404, ''],
      ['unknown topic', { ...base, profile_id: undefined, topic: 'no-such-topic' }, 404, ''],
    ];
    for (const [what, body, status, field] of cases) {
      const response = await post('/api/v1/notify/schedule/', body);
      expect(response.statusCode, `${what}: ${response.body}`).toBe(status);
      if (field) expect(JSON.stringify(errorOf(response).details), what).toContain(field);
    }
    expect(await count('schedules')).toBe(schedulesBefore);
    expect(await count('notifications')).toBe(notificationsBefore);
  });
});

describe('tenant isolation', () => {
  it("another tenant can neither see nor change a schedule, nor schedule to this tenant's profile", async () => {
    const other = await server.tenant('other');
    const mine = await schedule({ profile_id: profileId, title: 'Mine', scheduled_at: inMs(3_600_000) });
    expect((await get(`/api/v1/schedules/${mine.id}/`, other.headers)).statusCode).toBe(404);
    for (const action of ['pause', 'resume', 'cancel']) {
      expect(
        (await post(`/api/v1/schedules/${mine.id}/${action}/`, undefined, other.headers)).statusCode,
      ).toBe(404);
    }
    expect((await get('/api/v1/schedules/', other.headers)).json().items).toEqual([]);
    const stolen = await post(
      '/api/v1/notify/schedule/',
      { profile_id: profileId, title: 'Theirs', scheduled_at: inMs(3_600_000) },
      other.headers,
    );
    expect(stolen.statusCode).toBe(404);
    expect((await scheduleOf(mine.id)).status).toBe('active');
    await post(`/api/v1/schedules/${mine.id}/cancel/`);
  });
});
