/** Reading notifications back: details, lists, delivery status; and the device receipts that move deliveries forward. */
import {
  applyReceipt,
  cancelOpenDeliveries,
  countDeliveries,
  type DeliveryView,
  listDeliveries,
} from '../db/deliveries.repository.ts';
import {
  addOutcomeCounts,
  addReceiptCounts,
  findNotification,
  listNotifications,
  lockFanout,
  markCancelled,
  type NotificationFilter,
  type NotificationRow,
  settle,
} from '../db/notifications.repository.ts';
import type { DeliveryStatus, NotificationStatus } from '../db/schema.ts';
import { AppError, notFound } from '../lib/errors.ts';
import { completedEvent, logCompleted } from './delivery.service.ts';
import type { ServiceDeps } from './deps.ts';
import { deviceSeen } from './devices.service.ts';
import { emitEvents, type NewEvent } from './events.ts';
import { assertIdCursor, deliveryTimes, isoOrNull, type PageView, pageView } from './views.ts';

export interface NotificationView {
  id: string;
  status: NotificationStatus;
  target: Record<string, unknown>;
  content: Record<string, unknown>;
  /** Locale variants of a template send (locale → content); null when there are none. */
  variants: Record<string, Record<string, unknown>> | null;
  template_id: string | null;
  topic_id: string | null;
  schedule_id: string | null;
  occurrence_at: string | null;
  firebase_project_id: string | null;
  counts: {
    total: number;
    sent: number;
    failed: number;
    delivered: number;
    read: number;
    skipped: number;
    expired: number;
    cancelled: number;
  };
  expires_at: string | null;
  bypass_frequency_cap: boolean;
  cancelled_at: string | null;
  error_code: string | null;
  request_id: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

/** Stored content uses the renderer's names; the API speaks the request's snake_case names. */
const CONTENT_FIELDS: Record<string, string> = {
  imageUrl: 'image_url',
  ttlSeconds: 'ttl_seconds',
  collapseKey: 'collapse_key',
  androidChannelId: 'android_channel_id',
  clickAction: 'click_action',
  analyticsLabel: 'analytics_label',
  overrides: 'platform_overrides',
};

function contentView(content: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(content).map(([key, value]) => [CONTENT_FIELDS[key] ?? key, value]),
  );
}

export function toView(row: NotificationRow): NotificationView {
  return {
    id: row.id,
    status: row.status,
    target: row.target,
    content: contentView(row.content),
    variants: row.variants
      ? Object.fromEntries(Object.entries(row.variants).map(([locale, c]) => [locale, contentView(c)]))
      : null,
    template_id: row.templateId,
    topic_id: row.topicId,
    schedule_id: row.scheduleId,
    occurrence_at: row.occurrenceAt?.toISOString() ?? null,
    firebase_project_id: row.firebaseProjectId,
    counts: {
      total: row.totalCount,
      sent: row.sentCount,
      failed: row.failedCount,
      delivered: row.deliveredCount,
      read: row.readCount,
      skipped: row.skippedCount,
      expired: row.expiredCount,
      cancelled: row.cancelledCount,
    },
    expires_at: row.expiresAt?.toISOString() ?? null,
    bypass_frequency_cap: row.bypassFrequencyCap,
    cancelled_at: row.cancelledAt?.toISOString() ?? null,
    error_code: row.errorCode,
    request_id: row.requestId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    completed_at: row.completedAt?.toISOString() ?? null,
  };
}

export async function getNotification(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
): Promise<NotificationView> {
  const row = await findNotification(deps.db, tenantId, id);
  if (!row) throw notFound('notification');
  return toView(row);
}

export async function listNotificationPage(
  deps: ServiceDeps,
  tenantId: string,
  filter: NotificationFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<NotificationView>> {
  const page = await listNotifications(deps.db, tenantId, filter, limit, cursor);
  return pageView(page, toView);
}

export interface StatusReport {
  notification: NotificationView;
  by_status: Record<string, number>;
  by_platform: Record<string, Record<string, number>>;
  /** When the last timed delivery is due (local time, quiet hours, throttle), or null. */
  expected_completion_at: string | null;
  deliveries: (Omit<
    DeliveryView,
    'sent_at' | 'delivered_at' | 'read_at' | 'failed_at' | 'next_attempt_at' | 'not_before'
  > & {
    not_before: string | null;
    sent_at: string | null;
    delivered_at: string | null;
    read_at: string | null;
    failed_at: string | null;
    next_attempt_at: string | null;
  })[];
  next_cursor: string | null;
}

export async function getDeliveryStatus(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  options: { limit: number; cursor?: string | undefined; status?: DeliveryStatus | undefined },
): Promise<StatusReport> {
  const notification = await getNotification(deps, tenantId, id);
  assertIdCursor(options.cursor);
  const counts = await countDeliveries(deps.db, tenantId, id);
  const byStatus: Record<string, number> = {};
  const byPlatform: Record<string, Record<string, number>> = {};
  // The last release of any group: when the last timed delivery becomes sendable (one query for both).
  let lastRelease: Date | null = null;
  for (const c of counts) {
    byStatus[c.status] = (byStatus[c.status] ?? 0) + c.count;
    const platform = byPlatform[c.platform] ?? {};
    platform[c.status] = (platform[c.status] ?? 0) + c.count;
    byPlatform[c.platform] = platform;
    if (c.lastNotBefore && (!lastRelease || c.lastNotBefore > lastRelease)) lastRelease = c.lastNotBefore;
  }
  const page = await listDeliveries(
    deps.db,
    tenantId,
    id,
    { status: options.status },
    options.limit,
    options.cursor,
  );
  return {
    notification,
    by_status: byStatus,
    by_platform: byPlatform,
    expected_completion_at: isoOrNull(lastRelease),
    deliveries: page.items.map(deliveryTimes),
    next_cursor: page.nextCursor,
  };
}

export interface CancelView {
  /** Deliveries this call stopped (0 when an earlier cancel already stopped them all). */
  cancelled: number;
  notification: NotificationView;
}

/**
 * POST /notifications/{id}/cancel: stops what has not been sent (pending, waiting, retrying deliveries, and the
 * fan-out pages not made yet). A batch already handed to FCM cannot be called back: what FCM accepted is recorded as sent and leaves the
 * cancelled count (see recordOutcomes). Cancelling again, or cancelling a notification that already finished,
 * changes nothing and answers `cancelled: 0` (the status says which it was).
 */
export async function cancelNotification(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
): Promise<CancelView> {
  // First the flag, under the fan-out lock (so after any fan-out page in progress) and the row's: from its commit
  // on, no page is made and every send job that claims a batch settles it as cancelled instead of sending.
  const first = await deps.db.transaction(async (tx) => {
    // The tenant's own notification only: another tenant's id must not even wait on its fan-out.
    if (!(await findNotification(tx, tenantId, id))) throw notFound('notification');
    await lockFanout(tx, id);
    const row = await findNotification(tx, tenantId, id, { lock: true });
    if (!row) throw notFound('notification');
    // Finished before the cancel came: nothing is left to stop, and its status stays what it is.
    if (row.completedAt !== null && row.cancelledAt === null) return { row, stop: false };
    await markCancelled(tx, id, deps.clock.now());
    return { row, stop: true };
  });
  if (!first.stop) return { cancelled: 0, notification: toView(first.row) };
  // Then the deliveries, in the order a send job's record step locks (deliveries, then the notification).
  const outcome = await deps.db.transaction(async (tx) => {
    const cancelled = await cancelOpenDeliveries(tx, id);
    const finished =
      cancelled > 0
        ? await addOutcomeCounts(tx, id, { sent: 0, failed: 0, cancelled })
        : await settle(tx, id);
    const happened: NewEvent[] = [];
    if (first.row.cancelledAt === null || cancelled > 0) {
      happened.push({
        tenantId,
        type: 'notification.cancelled',
        notificationId: id,
        data: { notification_id: id, cancelled },
      });
    }
    if (finished) happened.push(completedEvent(finished, undefined));
    await emitEvents(tx, happened);
    const after = await findNotification(tx, tenantId, id);
    return { cancelled, after: after!, finished };
  });
  if (outcome.finished) logCompleted(deps.logger.child({ notification_id: id }), outcome.finished);
  return { cancelled: outcome.cancelled, notification: toView(outcome.after) };
}

/** Deliveries that never reached FCM (or FCM refused): a receipt for one is a conflict. */
const NEVER_SENT = new Set<DeliveryStatus>(['failed', 'dead', 'skipped', 'expired']);

/**
 * A device receipt: the app echoes `fcms_delivery_id` and `fcms_receipt` from the push it received. The receipt
 * token is an HMAC of the delivery id, so no API credentials live in the app and nobody can forge receipts.
 */
export async function recordReceipt(
  deps: ServiceDeps,
  input: { delivery_id: string; receipt_token: string; status: 'delivered' | 'read' },
): Promise<{ delivery_id: string; status: DeliveryStatus }> {
  const unknown = new AppError('not_found', 404, 'delivery not found, or the receipt token does not match');
  if (
    !/^[1-9]\d{0,18}$/.test(input.delivery_id) ||
    !deps.cipher.verifyReceiptToken(input.delivery_id, input.receipt_token)
  ) {
    throw unknown;
  }
  return deps.db.transaction(async (tx) => {
    const result = await applyReceipt(tx, input.delivery_id, input.status);
    if (!result) throw unknown;
    if (NEVER_SENT.has(result.status)) {
      throw new AppError('delivery_failed', 409, 'this delivery was not sent: it cannot have been delivered');
    }
    // A receipt is the device's sign of life (a write only when last_seen_at is 5 minutes old).
    await deviceSeen(deps, tx, result.tenantId, result.deviceId);
    await addReceiptCounts(
      tx,
      result.notificationId,
      result.newlyDelivered ? 1 : 0,
      result.newlyRead ? 1 : 0,
    );
    const data = {
      notification_id: result.notificationId,
      delivery_id: input.delivery_id,
      status: result.status,
    };
    const happened: NewEvent[] = [];
    if (result.newlyDelivered)
      happened.push({ tenantId: result.tenantId, type: 'notification.delivered', data });
    if (result.newlyRead) happened.push({ tenantId: result.tenantId, type: 'notification.read', data });
    await emitEvents(
      tx,
      happened.map((e) => ({ ...e, notificationId: result.notificationId })),
    );
    return { delivery_id: input.delivery_id, status: result.status };
  });
}
