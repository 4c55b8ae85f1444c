/**
 * Housekeeping run by the hourly maintenance jobs (src/jobs/maintenance.job.ts), and callable directly: the
 * stale-device sweep, the weekly partitions ahead, and retention. Deletes work in bounded batches, each its own
 * short statement; the partitioned tables lose whole weeks (a DROP of the partition) instead.
 */
import type { Executor } from '../db/client.ts';
import {
  deactivateStaleDevices as deactivateStaleBatch,
  deleteExpiredIdempotencyKeys,
  deleteOldAuditLogs,
  deleteOldDeliveries,
  deleteOldEvents,
  deleteOldNotifications,
  deleteOldRecipients,
  deleteOldWebhookDeliveries,
} from '../db/maintenance.repository.ts';
import {
  createWeekPartition,
  dropPartition,
  listPartitions,
  PARTITIONED_TABLES,
  type Partition,
  type PartitionedTable,
  partitionHasKeeper,
  WEEK_MS,
  weekStart,
} from '../db/partitions.repository.ts';
import type { ServiceDeps } from './deps.ts';
import { deviceDeactivated, emitEvents } from './events.ts';

const DAY_MS = 86_400_000;

export interface MaintenanceOptions {
  /** The clock (tests pass one). */
  now?: Date;
  /** Rows per statement. */
  batchSize?: number;
  /** Statements per table per run, so one run stays short; the next run continues. */
  maxBatches?: number;
}

const defaults = (options: MaintenanceOptions) => ({
  now: options.now ?? new Date(),
  batchSize: options.batchSize ?? 5000,
  maxBatches: options.maxBatches ?? 200,
});

/** Repeats a bounded delete until a batch comes back short (or the run's batch budget is spent). */
async function drain(run: () => Promise<number>, batchSize: number, maxBatches: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await run();
    total += n;
    if (n < batchSize) break;
  }
  return total;
}

/**
 * Deactivates devices not seen for STALE_DEVICE_DAYS with reason "stale", emitting device.deactivated (one
 * event per tenant per batch) in the same transaction. Returns how many were deactivated.
 */
export async function deactivateStaleDevices(
  deps: ServiceDeps,
  options: MaintenanceOptions = {},
): Promise<number> {
  const days = deps.config.devices.staleDays;
  if (days === 0) return 0;
  const { now, batchSize, maxBatches } = defaults({ batchSize: 1000, now: deps.clock.now(), ...options });
  const cutoff = new Date(now.getTime() - days * DAY_MS);
  return drain(
    () =>
      deps.db.transaction(async (tx: Executor) => {
        const rows = await deactivateStaleBatch(tx, cutoff, batchSize);
        const byTenant = new Map<string, string[]>();
        for (const row of rows)
          byTenant.set(row.api_client_id, [...(byTenant.get(row.api_client_id) ?? []), row.id]);
        await emitEvents(
          tx,
          [...byTenant].map(([tenantId, ids]) => deviceDeactivated(tenantId, ids, 'stale')),
        );
        return rows.length;
      }),
    batchSize,
    maxBatches,
  );
}

/** Weekly partitions kept ready ahead of now, so rows never land in the DEFAULT partition. */
export const PARTITION_WEEKS_AHEAD = 4;

/**
 * Creates the weekly partitions of deliveries, events and webhook_deliveries for the current week and the
 * PARTITION_WEEKS_AHEAD after it, where missing (moving any of their rows out of the DEFAULT partition).
 * Returns the partitions created.
 */
export async function ensurePartitions(
  deps: Pick<ServiceDeps, 'db'>,
  options: { now?: Date; weeksAhead?: number } = {},
): Promise<string[]> {
  const first = weekStart(options.now ?? new Date()).getTime();
  const created: string[] = [];
  for (const table of PARTITIONED_TABLES) {
    const existing = await listPartitions(deps.db, table);
    for (let week = 0; week <= (options.weeksAhead ?? PARTITION_WEEKS_AHEAD); week++) {
      const name = await createWeekPartition(deps.db, table, new Date(first + week * WEEK_MS), existing);
      if (name) created.push(name);
    }
  }
  return created;
}

export interface RetentionReport {
  /** Rows deleted one by one (from the default and legacy partitions of the partitioned tables). */
  deliveries: number;
  notification_recipients: number;
  notifications: number;
  idempotency_keys: number;
  audit_logs: number;
  webhook_deliveries: number;
  events: number;
  /** Whole partitions dropped because their week is past the retention window. */
  dropped_partitions: string[];
}

/**
 * Drops the partitions of a table whose whole range ends before `cutoff`, except one that still holds a row
 * retention must keep (a delivery of a notification in flight, an undispatched event): it goes on a later run.
 * Returns what was dropped and the partitions left to trim row by row (the default and a legacy one).
 */
async function dropExpiredPartitions(
  deps: Pick<ServiceDeps, 'db' | 'logger'>,
  table: PartitionedTable,
  cutoff: Date,
): Promise<{ dropped: string[]; rowByRow: string[] }> {
  const dropped: string[] = [];
  const rowByRow: string[] = [];
  const expired = (p: Partition) => p.range !== null && p.range.to <= cutoff;
  for (const partition of await listPartitions(deps.db, table)) {
    if (expired(partition) && !(await partitionHasKeeper(deps.db, table, partition.name))) {
      await dropPartition(deps.db, table, partition.name);
      dropped.push(partition.name);
    } else if (expired(partition)) {
      deps.logger.warn(
        { partition: partition.name },
        'expired partition kept: it still holds rows in flight',
      );
    } else if (partition.range === null || partition.range.from === null) {
      rowByRow.push(partition.name);
    }
  }
  return { dropped, rowByRow };
}

/**
 * Removes what is past its retention. Deliveries (RETENTION_DELIVERIES_DAYS), webhook attempts
 * (RETENTION_WEBHOOK_DAYS) and events (RETENTION_EVENTS_DAYS) are partitioned by week: a week whose end is past
 * the window is dropped whole (so a row lives up to a week longer than its window), and only the DEFAULT and
 * legacy partitions are trimmed row by row, with the old rules (deliveries of finished notifications,
 * dispatched events). Then the finished notifications whose deliveries are gone (with their bulk recipients);
 * expired idempotency keys; audit log entries. A setting of 0 keeps that data forever.
 */
export async function runRetention(
  deps: ServiceDeps,
  options: MaintenanceOptions = {},
): Promise<RetentionReport> {
  const { now, batchSize, maxBatches } = defaults(options);
  const { deliveriesDays, auditDays, webhookDays, eventsDays } = deps.config.retention;
  const before = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const sweep = (days: number, remove: (cutoff: Date) => Promise<number>) =>
    days === 0 ? Promise.resolve(0) : drain(() => remove(before(days)), batchSize, maxBatches);
  const { db } = deps;
  const droppedPartitions: string[] = [];
  /** Drops the expired weeks of a table, then trims its default and legacy partitions with `remove`. */
  const partitioned = async (
    table: PartitionedTable,
    days: number,
    remove: (partition: string, cutoff: Date) => Promise<number>,
  ) => {
    if (days === 0) return 0;
    const { dropped, rowByRow } = await dropExpiredPartitions(deps, table, before(days));
    droppedPartitions.push(...dropped);
    let total = 0;
    for (const partition of rowByRow) total += await sweep(days, (c) => remove(partition, c));
    return total;
  };

  // Children first, so deleting a notification never cascades into a large unbounded delete.
  const deliveries = await partitioned('deliveries', deliveriesDays, (p, c) =>
    deleteOldDeliveries(db, p, c, batchSize),
  );
  const recipients = await sweep(deliveriesDays, (c) => deleteOldRecipients(db, c, batchSize));
  const notifications = await sweep(deliveriesDays, (c) => deleteOldNotifications(db, c, batchSize));
  return {
    deliveries,
    notification_recipients: recipients,
    notifications,
    idempotency_keys: await drain(
      () => deleteExpiredIdempotencyKeys(db, now, batchSize),
      batchSize,
      maxBatches,
    ),
    audit_logs: await sweep(auditDays, (c) => deleteOldAuditLogs(db, c, batchSize)),
    webhook_deliveries: await partitioned('webhook_deliveries', webhookDays, (p, c) =>
      deleteOldWebhookDeliveries(db, p, c, batchSize),
    ),
    events: await partitioned('events', eventsDays, (p, c) => deleteOldEvents(db, c, batchSize, p)),
    dropped_partitions: droppedPartitions,
  };
}
