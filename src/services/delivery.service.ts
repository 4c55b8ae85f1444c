/**
 * The two job steps of a send: fan-out (target → delivery rows → send jobs of at most one FCM batch) and
 * send (one batch → FCM concurrently → all outcomes recorded in one transaction). Both are idempotent.
 */
import {
  type DeliveryOutcome,
  type DeliveryToSend,
  insertDeliveryPage,
  loadOpenDeliveries,
  recordOutcomes,
} from '../db/deliveries.repository.ts';
import { deactivateDevices } from '../db/devices.repository.ts';
import {
  addOutcomeCounts,
  advanceFanout,
  findNotificationById,
  finishFanout,
  lockNotification,
  markSending,
  type NotificationRow,
} from '../db/notifications.repository.ts';
import { findThrottle, raiseThrottle } from '../db/send-throttles.repository.ts';
import type { NotificationContent } from '../domain/content.ts';
import { type FanoutJob, QUEUES, type SendJob } from '../jobs/queue.ts';
import type { SendOutcome } from '../push/push-provider.ts';
import { renderMessage } from '../push/render.ts';
import { pickVariant } from '../templates/engine.ts';
import { deviceFilters, type StoredTarget, sourceOf } from './audience.ts';
import type { ServiceDeps } from './deps.ts';
import { deviceDeactivated, emitEvents, type NewEvent } from './events.ts';
import { loadAccount } from './firebase-projects.service.ts';

/** The data keys every push carries so the app can report delivered/read (see docs/receipts.md). */
export function receiptData(deliveryId: string, receiptToken: string): Record<string, string> {
  return { fcms_delivery_id: deliveryId, fcms_receipt: receiptToken };
}

/** Rows per fan-out transaction: several send jobs' worth, to keep round trips few. */
const FANOUT_PAGE_BATCHES = 10;

/**
 * Creates the deliveries page by page (keyset over device ids), each page in one transaction with its send
 * jobs and the saved cursor, so a fan-out killed halfway resumes where it stopped and enqueues nothing twice.
 */
export async function fanOut(deps: ServiceDeps, job: FanoutJob): Promise<void> {
  const batchSize = deps.config.send.batchSize;
  for (;;) {
    const done = await deps.db.transaction(async (tx) => {
      const notification = await lockNotification(tx, job.notificationId);
      if (!notification || notification.fanoutDone) return true;
      const target = notification.target as unknown as StoredTarget;
      const page = await insertDeliveryPage(tx, {
        notificationId: notification.id,
        tenantId: notification.apiClientId,
        source: sourceOf(target),
        filters: deviceFilters(target.filters),
        after: notification.fanoutCursor,
        limit: batchSize * FANOUT_PAGE_BATCHES,
      });
      if (page.cursor === null) {
        const finished = await finishFanout(
          tx,
          notification.id,
          notification.totalCount === 0 ? 'no_active_devices' : null,
        );
        if (finished) await emitEvents(tx, [completedEvent(finished, job.requestId)]);
        return true;
      }
      await advanceFanout(tx, notification.id, page.cursor, page.deliveryIds.length);
      const jobs: SendJob[] = [];
      for (let i = 0; i < page.deliveryIds.length; i += batchSize) {
        jobs.push({
          notificationId: notification.id,
          deliveryIds: page.deliveryIds.slice(i, i + batchSize),
          attempt: 1,
          requestId: job.requestId,
        });
      }
      await deps.queue.enqueueMany(tx, QUEUES.send, jobs);
      return false;
    });
    if (done) return;
  }
}

/** notification.sent / notification.failed for the deliveries this batch settled: one event each, not one per delivery. */
function outcomeEvents(
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
      },
      completed_at: notification.completedAt?.toISOString() ?? null,
    },
    requestId,
  };
}

/** Exponential backoff with full jitter, never earlier than FCM's Retry-After. */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  settings: { retryBaseMs: number; retryMaxMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** (attempt - 1));
  return Math.max(retryAfterMs ?? 0, Math.round(random() * ceiling));
}

/** Rescheduled batches (throttle, open circuit) come back spread over this much, not all at one instant. */
const RESCHEDULE_SPREAD_MS = 1000;

/** When the deliveries of this job stop being worth sending: SEND_MAX_AGE_SECONDS after the notification (or its requeue). */
export function expiresAt(createdAt: Date, since: string | undefined, maxAgeSeconds: number): number {
  const start = Math.max(createdAt.getTime(), since ? Date.parse(since) || 0 : 0);
  return start + maxAgeSeconds * 1000;
}

/**
 * Whether the batch may call FCM now: not while FCM has the project throttled (a 429, shared by every worker
 * through send_throttles) nor while the project's circuit is open. Returns when to come back otherwise.
 */
async function waitBeforeSending(deps: ServiceDeps, project: string): Promise<number | undefined> {
  const throttledUntil = await findThrottle(deps.db, project);
  if (throttledUntil) return throttledUntil.getTime();
  const gate = deps.circuit.acquire(project);
  return gate.allowed ? undefined : gate.retryAt;
}

/** The same job again, later: it is not an attempt, the deliveries stay as they are. */
async function reschedule(deps: ServiceDeps, job: SendJob, at: number): Promise<void> {
  const startAfter = new Date(at + Math.floor(Math.random() * RESCHEDULE_SPREAD_MS));
  await deps.queue.enqueue(deps.db, QUEUES.send, job, { startAfter });
}

/**
 * Sends one batch and records every outcome; FCM is called outside any transaction. Deliveries past
 * SEND_MAX_AGE_SECONDS end dead (EXPIRED) without a call; a throttled project or an open circuit reschedules
 * the whole batch without counting an attempt.
 */
export async function sendBatch(deps: ServiceDeps, job: SendJob): Promise<void> {
  const notification = await findNotificationById(deps.db, job.notificationId);
  if (!notification) return;
  const open = await loadOpenDeliveries(deps.db, job.deliveryIds, job.attempt);
  if (open.length === 0) return;
  if (notification.status === 'queued') await markSending(deps.db, notification.id);

  // The worker's logger already carries request_id, job_id and notification_id.
  const log = deps.logger.child({ attempt: job.attempt });
  const contents = {
    ...(notification.variants as Record<string, NotificationContent> | null),
    default: notification.content as unknown as NotificationContent,
  };
  const account = await loadAccount(
    deps.db,
    deps.cipher,
    notification.apiClientId,
    notification.firebaseProjectId,
    deps.defaultAccount,
  );
  const { maxAttempts, maxAgeSeconds, throttleDefaultMs } = deps.config.send;
  const expiry = expiresAt(notification.createdAt, job.since, maxAgeSeconds);
  const expired = (lastError?: string) =>
    `not sent within SEND_MAX_AGE_SECONDS (${maxAgeSeconds} s)${lastError ? `; last error: ${lastError}` : ''}`;

  const outcomes: DeliveryOutcome[] = [];
  const toSend: DeliveryToSend[] = [];
  const startedAt = Date.now();
  for (const d of open) {
    if (!d.deviceActive) outcomes.push({ id: d.id, status: 'failed', errorCode: 'DEVICE_INACTIVE' });
    else if (!account) {
      outcomes.push({
        id: d.id,
        status: 'failed',
        errorCode: 'NO_CREDENTIALS',
        errorMessage: 'Firebase project removed',
      });
    } else if (startedAt >= expiry) {
      outcomes.push({ id: d.id, status: 'dead', errorCode: 'EXPIRED', errorMessage: expired() });
    } else toSend.push(d);
  }

  const deadTokens: { deviceId: string; reason: string }[] = [];
  let retryAt = 0;
  if (account && toSend.length > 0) {
    const project = account.project_id;
    const wait = await waitBeforeSending(deps, project);
    if (wait !== undefined) {
      await reschedule(deps, job, wait);
      log.debug({ firebase_project: project, until: new Date(wait).toISOString() }, 'send batch deferred');
      return;
    }
    const messages = toSend.map((d) =>
      renderMessage(
        pickVariant((d.contents as Record<string, NotificationContent> | null) ?? contents, d.locale),
        { platform: d.platform, token: deps.cipher.decrypt(d.tokenCiphertext) },
        receiptData(d.id, deps.cipher.receiptToken(d.id)),
      ),
    );
    const results: SendOutcome[] = await deps.push.send(account, messages);
    const now = Date.now();
    let answered = 0;
    let failing = 0;
    let throttleUntil = 0;
    toSend.forEach((d, i) => {
      const result = results[i]!;
      if (result.kind === 'sent') {
        answered++;
        outcomes.push({ id: d.id, status: 'sent', messageId: result.messageId });
        return;
      }
      if (result.kind === 'permanent') {
        answered++;
        outcomes.push({
          id: d.id,
          status: 'failed',
          errorCode: result.errorCode,
          errorMessage: result.message,
        });
        if (result.tokenInvalid) deadTokens.push({ deviceId: d.deviceId, reason: result.errorCode });
        return;
      }
      let retryAfterMs = result.retryAfterMs;
      if (result.errorCode === 'QUOTA_EXCEEDED') {
        retryAfterMs ??= throttleDefaultMs;
        throttleUntil = Math.max(throttleUntil, now + retryAfterMs);
      } else {
        failing++;
      }
      if (job.attempt >= maxAttempts) {
        outcomes.push({
          id: d.id,
          status: 'dead',
          errorCode: result.errorCode,
          errorMessage: result.message,
        });
        return;
      }
      const next = now + retryDelayMs(job.attempt, retryAfterMs, deps.config.send);
      if (next >= expiry) {
        outcomes.push({
          id: d.id,
          status: 'dead',
          errorCode: 'EXPIRED',
          errorMessage: expired(`${result.errorCode}: ${result.message}`),
        });
        return;
      }
      retryAt = Math.max(retryAt, next);
      outcomes.push({
        id: d.id,
        status: 'retrying',
        errorCode: result.errorCode,
        errorMessage: result.message,
        nextAttemptAt: new Date(next),
      });
    });
    deps.circuit.record(project, { successes: answered, failures: failing });
    if (throttleUntil > 0) {
      // Before recording the outcomes, so every other worker holds back as soon as possible.
      await raiseThrottle(deps.db, project, new Date(throttleUntil));
      log.warn(
        { firebase_project: project, until: new Date(throttleUntil).toISOString() },
        'FCM quota exceeded: project paused',
      );
    }
  }

  const retryIds = outcomes.filter((o) => o.status === 'retrying').map((o) => o.id);
  const applied = await deps.db.transaction(async (tx) => {
    const counts = await recordOutcomes(tx, job.attempt, outcomes);
    const finished = await addOutcomeCounts(tx, notification.id, counts.sent, counts.failed);
    const events: NewEvent[] = outcomeEvents(notification, open, outcomes, counts.changed, job.requestId);
    for (const reason of new Set(deadTokens.map((t) => t.reason))) {
      const ids = deadTokens.filter((t) => t.reason === reason).map((t) => t.deviceId);
      const changed = await deactivateDevices(tx, notification.apiClientId, ids, reason);
      if (changed.length > 0) {
        const deviceIds = changed.map((d) => d.id);
        events.push({
          ...deviceDeactivated(notification.apiClientId, deviceIds, reason),
          requestId: job.requestId,
        });
      }
    }
    if (finished) events.push(completedEvent(finished, job.requestId));
    await emitEvents(tx, events);
    if (retryIds.length > 0) {
      const retry: SendJob = {
        notificationId: notification.id,
        deliveryIds: retryIds,
        attempt: job.attempt + 1,
        requestId: job.requestId,
        ...(job.since ? { since: job.since } : {}),
      };
      await deps.queue.enqueue(tx, QUEUES.send, retry, { startAfter: new Date(retryAt) });
    }
    return counts.changed;
  });
  deps.metrics.sendBatchRecorded(open, outcomes, applied);
  log.debug(
    { deliveries: open.length, retrying: retryIds.length, deactivated: deadTokens.length },
    'send batch recorded',
  );
}
