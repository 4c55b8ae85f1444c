/** Reading notifications back: details, lists, delivery status; and the device receipts that move deliveries forward. */
import {
  applyReceipt,
  countDeliveries,
  type DeliveryView,
  listDeliveries,
} from '../db/deliveries.repository.ts';
import {
  addReceiptCounts,
  findNotification,
  listNotifications,
  type NotificationFilter,
  type NotificationRow,
} from '../db/notifications.repository.ts';
import type { DeliveryStatus, NotificationStatus } from '../db/schema.ts';
import { AppError, notFound } from '../lib/errors.ts';
import type { ServiceDeps } from './deps.ts';
import { emitEvents, type NewEvent } from './events.ts';
import { isoOrNull, type PageView, pageView } from './views.ts';

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
  counts: { total: number; sent: number; failed: number; delivered: number; read: number };
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
    },
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
  deliveries: (Omit<
    DeliveryView,
    'sent_at' | 'delivered_at' | 'read_at' | 'failed_at' | 'next_attempt_at'
  > & {
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
  if (options.cursor !== undefined && !/^[1-9]\d{0,18}$/.test(options.cursor)) {
    throw new AppError(
      'invalid_cursor',
      400,
      'cursor is not valid: pass back the next_cursor of a previous page',
    );
  }
  const counts = await countDeliveries(deps.db, tenantId, id);
  const byStatus: Record<string, number> = {};
  const byPlatform: Record<string, Record<string, number>> = {};
  for (const c of counts) {
    byStatus[c.status] = (byStatus[c.status] ?? 0) + c.count;
    const platform = byPlatform[c.platform] ?? {};
    platform[c.status] = (platform[c.status] ?? 0) + c.count;
    byPlatform[c.platform] = platform;
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
    deliveries: page.items.map((d) => ({
      ...d,
      sent_at: isoOrNull(d.sent_at),
      delivered_at: isoOrNull(d.delivered_at),
      read_at: isoOrNull(d.read_at),
      failed_at: isoOrNull(d.failed_at),
      next_attempt_at: isoOrNull(d.next_attempt_at),
    })),
    next_cursor: page.nextCursor,
  };
}

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
    if (result.status === 'failed' || result.status === 'dead') {
      throw new AppError('delivery_failed', 409, 'this delivery failed: it cannot have been delivered');
    }
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
