/** SQL for notifications: the request as accepted, its status and counters. */
import { and, desc, eq, gte, lte, type SQL, sql } from 'drizzle-orm';
import type { Executor } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { firebaseProjects, type NotificationStatus, notifications, sendThrottles } from './schema.ts';

export type NotificationRow = typeof notifications.$inferSelect;

/** A notification to insert; its Firebase project may be a subquery (defaultFirebaseProjectId). */
export type NotificationInsert = Omit<typeof notifications.$inferInsert, 'firebaseProjectId'> & {
  firebaseProjectId: string | null | SQL<string | null>;
};

export async function insertNotification(ex: Executor, row: NotificationInsert): Promise<NotificationRow> {
  const [created] = await ex.insert(notifications).values(row).returning();
  return created!;
}

/** A tenant's notification; with `lock`, its row is locked for a change of its state (cancel). */
export async function findNotification(
  ex: Executor,
  tenantId: string,
  id: string,
  options: { lock?: boolean } = {},
): Promise<NotificationRow | undefined> {
  const query = ex
    .select()
    .from(notifications)
    .where(and(eq(notifications.apiClientId, tenantId), eq(notifications.id, id)));
  const [row] = options.lock ? await query.for('no key update') : await query;
  return row;
}

/** For jobs, which carry the id only (the tenant is read from the row). */
export async function findNotificationById(ex: Executor, id: string): Promise<NotificationRow | undefined> {
  const [row] = await ex.select().from(notifications).where(eq(notifications.id, id));
  return row;
}

/** A notification as its send job claims it, with what sending it needs from other tables. */
export interface NotificationToSend {
  notification: NotificationRow;
  /** Its Firebase project's encrypted service account; null when it has none (server default) or it was removed. */
  credentialsCiphertext: string | null;
  /** When FCM's 429 pause on its Firebase project ends, while one is in force. */
  throttledUntil: Date | undefined;
}

/**
 * For the send job, in one round trip: the notification, its Firebase project's credentials, and that project's
 * 429 pause (by the project's id, or `defaultProjectKey` for a notification sent with the server's account).
 */
export async function findNotificationToSend(
  ex: Executor,
  id: string,
  defaultProjectKey: string | null,
): Promise<NotificationToSend | undefined> {
  const [row] = await ex
    .select({
      notification: notifications,
      credentialsCiphertext: firebaseProjects.credentialsCiphertext,
      throttledUntil: sendThrottles.notBefore,
    })
    .from(notifications)
    .leftJoin(
      firebaseProjects,
      and(
        eq(firebaseProjects.id, notifications.firebaseProjectId),
        eq(firebaseProjects.apiClientId, notifications.apiClientId),
      ),
    )
    .leftJoin(
      sendThrottles,
      and(
        eq(
          sendThrottles.projectKey,
          sql`coalesce(${firebaseProjects.projectId}, ${defaultProjectKey}::text)`,
        ),
        sql`${sendThrottles.notBefore} > now()`,
      ),
    )
    .where(eq(notifications.id, id));
  if (!row) return undefined;
  return {
    notification: row.notification,
    credentialsCiphertext: row.credentialsCiphertext,
    throttledUntil: row.throttledUntil ?? undefined,
  };
}

export interface NotificationFilter {
  status?: NotificationStatus | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
  topicId?: string | undefined;
  templateId?: string | undefined;
  scheduleId?: string | undefined;
}

/** Newest first. */
export async function listNotifications(
  ex: Executor,
  tenantId: string,
  filter: NotificationFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<NotificationRow>> {
  const conditions: (SQL | undefined)[] = [
    eq(notifications.apiClientId, tenantId),
    afterCursor(notifications.id, cursor, true),
  ];
  if (filter.status) conditions.push(eq(notifications.status, filter.status));
  if (filter.createdFrom) conditions.push(gte(notifications.createdAt, filter.createdFrom));
  if (filter.createdTo) conditions.push(lte(notifications.createdAt, filter.createdTo));
  if (filter.topicId) conditions.push(eq(notifications.topicId, filter.topicId));
  if (filter.templateId) conditions.push(eq(notifications.templateId, filter.templateId));
  if (filter.scheduleId) conditions.push(eq(notifications.scheduleId, filter.scheduleId));
  const rows = await ex
    .select()
    .from(notifications)
    .where(and(...conditions))
    .orderBy(desc(notifications.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

/** Deliveries that reached an end: sent (and beyond), failed for good, or withheld by a delivery control. */
const settledCount = sql`(sent_count + failed_count + skipped_count + expired_count + cancelled_count)`;

/**
 * The status a notification ends in, as SQL over its (already updated) counters: sending while deliveries are
 * open; then cancelled after a cancel; failed when nothing was sent and something failed (or there was no
 * device); expired when nothing was sent because it expired; completed when nothing failed (skipped and expired
 * deliveries are the sender's rules at work, not failures); partially_failed otherwise.
 */
const settledStatus = sql`case
    when not fanout_done then (case when status = 'queued' then 'queued' else 'sending' end)
    when ${settledCount} < total_count then 'sending'
    when cancelled_at is not null then 'cancelled'
    when total_count = 0 then 'failed'
    when sent_count = 0 and failed_count > 0 then 'failed'
    when sent_count = 0 and expired_count > 0 then 'expired'
    when failed_count = 0 then 'completed'
    else 'partially_failed' end`;

/** Moves queued → sending when the first send job starts. */
export async function markSending(ex: Executor, id: string): Promise<void> {
  await ex.execute(sql`update notifications set status = 'sending', updated_at = now()
    where id = ${id} and status = 'queued'`);
}

/** Records fan-out progress: the keyset cursor and the number of deliveries created by this page. */
export async function advanceFanout(ex: Executor, id: string, cursor: string, added: number): Promise<void> {
  await ex.execute(sql`update notifications
    set fanout_cursor = ${cursor}, total_count = total_count + ${added}, status = 'sending', updated_at = now()
    where id = ${id}`);
}

/**
 * Fan-out finished: from now on the counters decide the final status. `last` is the last page's progress (as
 * advanceFanout records it, and the deliveries it skipped), written in the same statement. `uncommitted`: the
 * notification was inserted by this very transaction (a send fanned out as it is accepted), so no other can
 * have settled it.
 */
export async function finishFanout(
  ex: Executor,
  id: string,
  errorCode: string | null,
  last?: { cursor: string; added: number; skipped: number },
  uncommitted = false,
): Promise<NotificationRow | undefined> {
  await ex.execute(sql`update notifications set fanout_done = true, error_code = coalesce(${errorCode}, error_code),
      fanout_cursor = coalesce(${last?.cursor ?? null}::text, fanout_cursor),
      total_count = total_count + ${last?.added ?? 0}, skipped_count = skipped_count + ${last?.skipped ?? 0},
      updated_at = now()
    where id = ${id}`);
  return settle(ex, id, uncommitted);
}

/** How many deliveries a step moved to each end (cancelled may be negative: a cancelled delivery found sent). */
export interface OutcomeCounts {
  sent: number;
  failed: number;
  skipped?: number;
  expired?: number;
  cancelled?: number;
}

/** Adds send outcomes to the counters and settles the status when nothing is left open. */
export async function addOutcomeCounts(
  ex: Executor,
  id: string,
  counts: OutcomeCounts,
): Promise<NotificationRow | undefined> {
  const { sent, failed, skipped = 0, expired = 0, cancelled = 0 } = counts;
  if (sent === 0 && failed === 0 && skipped === 0 && expired === 0 && cancelled === 0) return undefined;
  await ex.execute(sql`update notifications
    set sent_count = sent_count + ${sent}, failed_count = failed_count + ${failed},
      skipped_count = skipped_count + ${skipped}, expired_count = expired_count + ${expired},
      cancelled_count = cancelled_count + ${cancelled}, updated_at = now()
    where id = ${id}`);
  return settle(ex, id);
}

/** A cancel, under the notification's lock: no more fan-out pages, and every send job from now on stands down. */
export async function markCancelled(ex: Executor, id: string, at: Date): Promise<void> {
  await ex.execute(sql`update notifications
    set cancelled_at = coalesce(cancelled_at, ${at.toISOString()}::timestamptz), fanout_done = true,
      updated_at = now()
    where id = ${id}`);
}

/**
 * Recomputes the status from the counters. Returns the notification when this call is the one that finished it
 * (completed_at went from null to set), so exactly one caller emits notification.completed. `uncommitted`: the
 * row was inserted by this transaction and is not finished yet, so there is no earlier state to read.
 */
export async function settle(
  ex: Executor,
  id: string,
  uncommitted = false,
): Promise<NotificationRow | undefined> {
  // NO KEY UPDATE, not UPDATE: a fan-out page in progress holds KEY SHARE on the row (its new deliveries' foreign
  // key), which FOR UPDATE would wait for, and deadlock with once the page updates the row itself.
  const [before] = uncommitted
    ? [{ completedAt: null }]
    : await ex
        .select({ completedAt: notifications.completedAt })
        .from(notifications)
        .where(eq(notifications.id, id))
        .for('no key update');
  const [after] = await ex
    .update(notifications)
    .set({
      status: sql`${settledStatus}`,
      completedAt: sql`case when fanout_done and ${settledCount} >= total_count then coalesce(completed_at, now()) end`,
    })
    .where(eq(notifications.id, id))
    .returning();
  return before && before.completedAt === null && after?.completedAt ? after : undefined;
}

export async function addReceiptCounts(
  ex: Executor,
  id: string,
  delivered: number,
  read: number,
): Promise<void> {
  if (delivered === 0 && read === 0) return;
  await ex.execute(sql`update notifications
    set delivered_count = delivered_count + ${delivered}, read_count = read_count + ${read}, updated_at = now()
    where id = ${id}`);
}

/** The advisory-lock class of fan-out pages (two-key form, so it cannot meet single-key advisory locks). */
const FANOUT_LOCK_CLASS = 7361030;

/**
 * Serializes what makes or stops a notification's fan-out pages (the pages themselves, a cancel) without
 * locking its row: a page takes seconds to write thousands of deliveries, and the send jobs recording outcomes
 * on the same notification's counters must not wait for it. Held until the transaction ends.
 */
export async function lockFanout(ex: Executor, id: string): Promise<void> {
  await ex.execute(sql`select pg_advisory_xact_lock(${FANOUT_LOCK_CLASS}, hashtext(${id}))::text`);
}

/**
 * Requeued dead letters: their notifications count them as failed no longer and go back to sending until they
 * settle again (which emits notification.completed once more, with the new counts).
 */
export async function reopenNotifications(
  ex: Executor,
  tenantId: string,
  requeued: { id: string; count: number }[],
): Promise<void> {
  if (requeued.length === 0) return;
  await ex.execute(sql`update notifications n
    set failed_count = greatest(n.failed_count - u.count, 0), status = 'sending', completed_at = null,
      updated_at = now()
    from jsonb_to_recordset(${JSON.stringify(requeued)}::jsonb) as u(id uuid, count int)
    where n.id = u.id and n.api_client_id = ${tenantId}`);
}
