/**
 * Dead letters: deliveries that ended `dead` after their last attempt (or EXPIRED). A tenant lists them,
 * requeues them through the normal send path (attempts reset, counters kept right) or discards them.
 */
import {
  type DeadLetterFilter,
  type DeadLetterPick,
  type DeadLetterRow,
  discardDeadLetters,
  findDeadLetter,
  listDeadLetters,
  requeueDeadLetters,
} from '../db/dead-letters.repository.ts';
import { findNotification, reopenNotifications } from '../db/notifications.repository.ts';
import { AppError, notFound } from '../lib/errors.ts';
import { QUEUES, type SendJob } from '../queue/contract.ts';
import type { ServiceDeps } from './deps.ts';
import type { PageView } from './views.ts';

export type { DeadLetterFilter };

/** A dead letter as the API shows it: the row with its times as ISO 8601 text. */
export type DeadLetterView = Omit<DeadLetterRow, 'failed_at' | 'created_at'> & {
  failed_at: string | null;
  created_at: string;
};

const toView = (row: DeadLetterRow): DeadLetterView => ({
  ...row,
  failed_at: row.failed_at ? new Date(row.failed_at).toISOString() : null,
  created_at: new Date(row.created_at).toISOString(),
});

const DELIVERY_ID = /^[1-9]\d{0,18}$/;

/** Cursors are opaque: the last delivery id of the page, wrapped. */
function encodeCursor(id: string): string {
  return Buffer.from(`d1:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = decoded.startsWith('d1:') ? decoded.slice(3) : '';
  if (!DELIVERY_ID.test(id)) {
    throw new AppError(
      'invalid_cursor',
      400,
      'cursor is not valid: pass back the next_cursor of a previous page',
    );
  }
  return id;
}

export async function listDeadLetterPage(
  deps: ServiceDeps,
  tenantId: string,
  filter: DeadLetterFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<DeadLetterView>> {
  const before = cursor === undefined ? undefined : decodeCursor(cursor);
  const rows = await listDeadLetters(deps.db, tenantId, filter, limit, before);
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(toView),
    next_cursor: rows.length > limit && last ? encodeCursor(last.id) : null,
  };
}

export async function getDeadLetter(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
): Promise<DeadLetterView> {
  const row = DELIVERY_ID.test(id) ? await findDeadLetter(deps.db, tenantId, id) : undefined;
  if (!row) throw notFound('dead letter');
  return toView(row);
}

/** Which dead letters to act on: explicit ids (≤ 1000), all of one notification, or all matching filters. */
export type DeadLetterSelection =
  | { ids: string[] }
  | { notificationId: string }
  | { filter: DeadLetterFilter };

export interface RequeueResult {
  requeued: number;
  notifications: number;
  /** Requested ids that were not requeued: unknown, another tenant's, or not dead (any more). */
  skipped_ids: string[];
  /** More matched than one call requeues (REQUEUE_MAX_PER_CALL): call again. */
  has_more: boolean;
}

/** Rows per requeue transaction, and the most one call requeues (each chunk is one bounded transaction). */
const CHUNK = 1000;
const REQUEUE_MAX_PER_CALL = 50_000;

async function filterOf(
  deps: ServiceDeps,
  tenantId: string,
  selection: Exclude<DeadLetterSelection, { ids: string[] }>,
): Promise<DeadLetterFilter> {
  if ('filter' in selection) return selection.filter;
  if (!(await findNotification(deps.db, tenantId, selection.notificationId))) throw notFound('notification');
  return { notificationId: selection.notificationId };
}

/**
 * Requeues dead letters: each chunk, in one transaction, resets its deliveries to pending, takes them out of
 * their notifications' failed counts (the notification goes back to sending) and enqueues send jobs of at
 * most SEND_BATCH_SIZE. Their SEND_MAX_AGE_SECONDS counts from now, not from the notification's creation.
 */
export async function requeue(
  deps: ServiceDeps,
  tenantId: string,
  selection: DeadLetterSelection,
  requestId: string | undefined,
): Promise<RequeueResult> {
  const since = new Date().toISOString();
  const notifications = new Set<string>();
  const runChunk = (pick: DeadLetterPick) =>
    deps.db.transaction(async (tx) => {
      const groups = await requeueDeadLetters(tx, tenantId, pick);
      await reopenNotifications(
        tx,
        tenantId,
        groups.map((g) => ({ id: g.notificationId, count: g.ids.length })),
      );
      const jobs: SendJob[] = [];
      for (const group of groups) {
        notifications.add(group.notificationId);
        for (let i = 0; i < group.ids.length; i += deps.config.send.batchSize) {
          jobs.push({
            notificationId: group.notificationId,
            deliveryIds: group.ids.slice(i, i + deps.config.send.batchSize),
            attempt: 1,
            requestId,
            since,
          });
        }
      }
      await deps.queue.enqueueMany(tx, QUEUES.send, jobs);
      return groups.flatMap((g) => g.ids);
    });

  if ('ids' in selection) {
    const ids = [...new Set(selection.ids)];
    const done = new Set(await runChunk({ ids }));
    return {
      requeued: done.size,
      notifications: notifications.size,
      skipped_ids: ids.filter((id) => !done.has(id)),
      has_more: false,
    };
  }
  const filter = await filterOf(deps, tenantId, selection);
  let requeued = 0;
  let afterId: string | undefined;
  for (;;) {
    const limit = Math.min(CHUNK, REQUEUE_MAX_PER_CALL - requeued);
    const ids = await runChunk({ filter, afterId, limit });
    requeued += ids.length;
    if (ids.length < limit)
      return { requeued, notifications: notifications.size, skipped_ids: [], has_more: false };
    afterId = ids.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b));
    if (requeued >= REQUEUE_MAX_PER_CALL) {
      return { requeued, notifications: notifications.size, skipped_ids: [], has_more: true };
    }
  }
}

export interface DiscardResult {
  discarded: number;
  skipped_ids: string[];
}

/**
 * Discards dead letters: they become `failed` with their error kept, and leave the dead-letter list. The
 * notification's counters do not change (a dead delivery already counts as failed).
 */
export async function discard(
  deps: ServiceDeps,
  tenantId: string,
  selection: Exclude<DeadLetterSelection, { filter: DeadLetterFilter }>,
): Promise<DiscardResult> {
  if ('ids' in selection) {
    const ids = [...new Set(selection.ids)];
    const done = new Set(await discardDeadLetters(deps.db, tenantId, { ids }));
    return { discarded: done.size, skipped_ids: ids.filter((id) => !done.has(id)) };
  }
  const filter = await filterOf(deps, tenantId, selection);
  let discarded = 0;
  for (;;) {
    const ids = await discardDeadLetters(deps.db, tenantId, { filter, afterId: undefined, limit: CHUNK * 5 });
    discarded += ids.length;
    if (ids.length < CHUNK * 5) return { discarded, skipped_ids: [] };
  }
}
