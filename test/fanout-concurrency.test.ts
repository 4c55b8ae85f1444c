/**
 * A fan-out page and the send jobs of its earlier pages write the same notification row: the page its cursor
 * and total (last, just before it commits), the send jobs its counters. A page holds a KEY SHARE lock on the row
 * from the moment it inserts deliveries (their foreign key). A send job recording outcomes must not wait for
 * that, or the two deadlock as soon as the page updates the row (PostgreSQL found such deadlocks about once in 20
 * batches in the 100,000-device send benchmark when the counters' settle step locked the row FOR UPDATE).
 * On PostgreSQL, where the two run on separate connections.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOutcomeCounts } from '../src/db/notifications.repository.ts';
import {
  seedDevices,
  startTestServer,
  storageMode,
  type Tenant,
  type TestServer,
  waitForNotification,
} from './helpers.ts';

describe.skipIf(storageMode() !== 'postgres')('a fan-out page and the counters', () => {
  let server: TestServer;
  let tenant: Tenant;

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_ENABLED: 'false' });
    tenant = await server.tenant('fanout-concurrency');
    await seedDevices(server, tenant, 'fc', 3);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('records outcomes while a page holds its key-share lock on the notification', async () => {
    const accepted = await server.as(tenant, 'POST', '/api/v1/notify/', {
      all_devices: true,
      title: 'Pages and counters',
    });
    expect(accepted.statusCode).toBe(202);
    const id: string = accepted.json().notification_id;
    await waitForNotification(server, tenant, id);
    const { db } = server.runtime.deps;

    let pageHolds!: () => void;
    const held = new Promise<void>((resolve) => {
      pageHolds = resolve;
    });
    let releasePage!: () => void;
    const pageMayEnd = new Promise<void>((resolve) => {
      releasePage = resolve;
    });
    // What a page's delivery inserts take on the row, held until the "page" is told to end.
    const page = db.transaction(async (tx) => {
      await tx.execute(sql`select id from notifications where id = ${id} for key share`);
      pageHolds();
      await pageMayEnd;
    });
    await held;
    try {
      // A send job's record step, on another connection: it must not wait for the page.
      const recorded = await db.transaction(async (tx) => {
        await tx.execute(sql`set local lock_timeout = '2s'`);
        await addOutcomeCounts(tx, id, { sent: 0, failed: 0, skipped: 1 });
        return true;
      });
      expect(recorded).toBe(true);
    } finally {
      releasePage();
      await page;
    }
  });
});
