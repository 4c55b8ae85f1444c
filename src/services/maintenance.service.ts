/**
 * Housekeeping run by the hourly maintenance jobs (src/jobs/maintenance.job.ts), and callable directly: the
 * stale-device sweep and retention. Both work in bounded batches, each its own short statement.
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

export interface RetentionReport {
  deliveries: number;
  notification_recipients: number;
  notifications: number;
  idempotency_keys: number;
  audit_logs: number;
  webhook_deliveries: number;
  events: number;
}

/**
 * Deletes what is past its retention: deliveries of finished notifications older than RETENTION_DELIVERIES_DAYS,
 * then those notifications (with their bulk recipients); expired idempotency keys; audit log entries, webhook
 * attempts and dispatched events past their own retention. A setting of 0 keeps that data forever.
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

  // Children first, so deleting a notification never cascades into a large unbounded delete.
  const deliveries = await sweep(deliveriesDays, (c) => deleteOldDeliveries(db, c, batchSize));
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
    webhook_deliveries: await sweep(webhookDays, (c) => deleteOldWebhookDeliveries(db, c, batchSize)),
    events: await sweep(eventsDays, (c) => deleteOldEvents(db, c, batchSize)),
  };
}
