/**
 * What a delivery tells the outside world: the receipt keys every push carries, and the events a send emits
 * (per batch the deliveries it sent or failed, and per notification its completion). The jobs that send are
 * in src/jobs (fanout.job.ts, send.job.ts).
 */
import type { Logger } from 'pino';
import type { DeliveryOutcome, DeliveryToSend, SkippedDelivery } from '../db/deliveries.repository.ts';
import type { NotificationRow } from '../db/notifications.repository.ts';
import type { NewEvent } from './events.ts';

/** The data keys every push carries so the app can report delivered/read (see docs/receipts.md). */
export function receiptData(deliveryId: string, receiptToken: string): Record<string, string> {
  return { fcms_delivery_id: deliveryId, fcms_receipt: receiptToken };
}

/**
 * notification.sent / notification.failed for the deliveries a batch settled (`changed`: the ones its record
 * step actually moved): one event each, not one per delivery.
 */
export function settledEvents(
  notification: NotificationRow,
  open: DeliveryToSend[],
  outcomes: DeliveryOutcome[],
  changed: Set<string>,
  requestId: string | undefined,
): NewEvent[] {
  const deviceOf = new Map(open.map((d) => [d.id, d]));
  const view = (o: DeliveryOutcome) => ({
    delivery_id: o.id,
    device_id: deviceOf.get(o.id)?.deviceId,
    platform: deviceOf.get(o.id)?.platform,
    status: o.status,
    ...(o.messageId ? { fcm_message_id: o.messageId } : {}),
    ...(o.errorCode ? { error_code: o.errorCode } : {}),
  });
  const settled = outcomes.filter((o) => changed.has(o.id));
  const events: NewEvent[] = [];
  for (const [type, statuses] of [
    ['notification.sent', ['sent']],
    ['notification.failed', ['failed', 'dead']],
    ['notification.expired', ['expired']],
  ] as const) {
    const deliveries = settled.filter((o) => (statuses as readonly string[]).includes(o.status)).map(view);
    if (deliveries.length === 0) continue;
    events.push({
      tenantId: notification.apiClientId,
      type,
      notificationId: notification.id,
      data: { notification_id: notification.id, count: deliveries.length, deliveries },
      requestId,
    });
  }
  return events;
}

/**
 * notification.skipped for the deliveries a fan-out page withheld as it made them (quiet hours with "drop", a frequency cap):
 * one event per page and reason, listing them as notification.sent lists its deliveries.
 */
export function skippedEvents(
  notification: NotificationRow,
  skipped: SkippedDelivery[],
  requestId: string | undefined,
): NewEvent[] {
  return [...new Set(skipped.map((d) => d.error_code))].map((reason) => {
    const deliveries = skipped.filter((d) => d.error_code === reason);
    return {
      tenantId: notification.apiClientId,
      type: 'notification.skipped' as const,
      notificationId: notification.id,
      data: { notification_id: notification.id, reason, count: deliveries.length, deliveries },
      requestId,
    };
  });
}

/**
 * The last line of a notification's story in the log: its status and counts, and how long it took from
 * acceptance. `logger` is the job's, which already carries notification_id and request_id.
 */
export function logCompleted(logger: Logger, notification: NotificationRow): void {
  logger.info(
    {
      status: notification.status,
      ...(notification.errorCode ? { error_code: notification.errorCode } : {}),
      total: notification.totalCount,
      sent: notification.sentCount,
      failed: notification.failedCount,
      duration_ms: (notification.completedAt ?? new Date()).getTime() - notification.createdAt.getTime(),
    },
    'notification completed',
  );
}

/** notification.completed: the final status and counters, once. */
export function completedEvent(notification: NotificationRow, requestId: string | undefined): NewEvent {
  return {
    tenantId: notification.apiClientId,
    type: 'notification.completed',
    notificationId: notification.id,
    data: {
      notification_id: notification.id,
      status: notification.status,
      error_code: notification.errorCode,
      counts: {
        total: notification.totalCount,
        sent: notification.sentCount,
        failed: notification.failedCount,
        delivered: notification.deliveredCount,
        read: notification.readCount,
        skipped: notification.skippedCount,
        expired: notification.expiredCount,
        cancelled: notification.cancelledCount,
      },
      completed_at: notification.completedAt?.toISOString() ?? null,
    },
    requestId,
  };
}
