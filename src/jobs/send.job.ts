/**
 * The send job: one batch (at most one FCM batch of 500) of a notification's deliveries, as a pipeline:
 * claim → triage → render → send → classify → record. FCM is called outside any transaction; every outcome is
 * recorded in one. Idempotent: a job run twice finds its deliveries no longer open for its attempt.
 */
import type { Executor } from '../db/client.ts';
import {
  type DeliveryOutcome,
  type DeliveryToSend,
  loadOpenDeliveries,
  recordOutcomes,
} from '../db/deliveries.repository.ts';
import { deactivateDevices } from '../db/devices.repository.ts';
import {
  addOutcomeCounts,
  findNotificationToSend,
  markSending,
  type NotificationRow,
} from '../db/notifications.repository.ts';
import { raiseThrottle } from '../db/send-throttles.repository.ts';
import type { NotificationContent } from '../domain/content.ts';
import type { FcmMessage, SendOutcome, ServiceAccount } from '../push/push-provider.ts';
import { renderMessage } from '../push/render.ts';
import { QUEUES, type SendJob, sendPayload } from '../queue/contract.ts';
import { completedEvent, logCompleted, receiptData, settledEvents } from '../services/delivery.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { deviceDeactivated, emitEvents, type NewEvent } from '../services/events.ts';
import { accountForSend } from '../services/firebase-projects.service.ts';
import { pickVariant } from '../templates/engine.ts';
import { runJob } from './job-runner.ts';
import { classify, expiresAt, type SendRules, unsendable } from './send-outcome.ts';

/** Rescheduled batches (throttle, open circuit) come back spread over this much, not all at one instant. */
const RESCHEDULE_SPREAD_MS = 1000;

/** What a batch works on, read once when it is claimed. */
interface Batch {
  notification: NotificationRow;
  /** Its deliveries still open for this attempt. */
  open: DeliveryToSend[];
  /** The tenant's Firebase service account; undefined when its project was removed. */
  account: ServiceAccount | undefined;
  /** When FCM's 429 pause on the project ends, if one was in force when the batch was claimed. */
  throttledUntil: Date | undefined;
  rules: SendRules;
}

/** FCM's answers for a batch, classified, and what they mean beyond each delivery. */
interface Answers {
  outcomes: DeliveryOutcome[];
  /** Devices whose token FCM declared dead, with the error code as the reason. */
  deadTokens: { deviceId: string; reason: string }[];
  /** The deliveries to try again, in one retry job that starts at `retryAt`: the latest of their next attempts. */
  retryIds: string[];
  retryAt: number;
  /** For the circuit breaker: answers from FCM, and failures to get one. */
  answered: number;
  failing: number;
  /** QUOTA_EXCEEDED: the project holds back until then (epoch ms), 0 when FCM did not say so. */
  throttleUntil: number;
}

/** Nothing asked of FCM yet (or at all, when every delivery was settled by triage). */
function noAnswers(): Answers {
  return {
    outcomes: [],
    deadTokens: [],
    retryIds: [],
    retryAt: 0,
    answered: 0,
    failing: 0,
    throttleUntil: 0,
  };
}

/**
 * Sends one batch and records every outcome. Deliveries past SEND_MAX_AGE_SECONDS end dead (EXPIRED) without a
 * call; a throttled project or an open circuit reschedules the whole batch without counting an attempt.
 */
export async function sendBatch(deps: ServiceDeps, job: SendJob): Promise<void> {
  const batch = await claim(deps, job);
  if (!batch) return;
  // The worker's logger already carries request_id, job_id and notification_id.
  const log = deps.logger.child({ attempt: job.attempt });
  const { settled, toSend } = triage(batch, deps.clock.now().getTime());
  let answers = noAnswers();
  if (batch.account && toSend.length > 0) {
    const project = batch.account.project_id;
    const wait = waitBeforeSending(deps, project, batch.throttledUntil);
    if (wait !== undefined) {
      await reschedule(deps, job, wait);
      log.debug({ firebase_project: project, until: new Date(wait).toISOString() }, 'send batch deferred');
      return;
    }
    const results = await deps.push.send(batch.account, render(deps, batch, toSend));
    answers = classifyAnswers(toSend, results, batch.rules, deps.clock.now().getTime());
    await reportToProject(deps, log, project, answers);
  }
  const outcomes = answers.outcomes.length > 0 ? [...settled, ...answers.outcomes] : settled;
  const { changed: applied, finished } = await record(deps, job, batch, outcomes, answers);
  deps.metrics.sendBatchRecorded(batch.open, outcomes, applied);
  logAnswers(log, job, outcomes, answers);
  if (finished) logCompleted(deps.logger, finished);
  log.debug(
    {
      deliveries: batch.open.length,
      retrying: answers.retryIds.length,
      deactivated: answers.deadTokens.length,
    },
    'send batch recorded',
  );
}

/**
 * Claim: the notification (with its project's credentials and 429 pause, in one query) and the job's deliveries
 * still open for this attempt; undefined when none is.
 */
async function claim(deps: ServiceDeps, job: SendJob): Promise<Batch | undefined> {
  const found = await findNotificationToSend(
    deps.db,
    job.notificationId,
    deps.defaultAccount?.project_id ?? null,
  );
  if (!found) return undefined;
  const { notification } = found;
  const open = await loadOpenDeliveries(deps.db, job.deliveryIds, job.attempt, notification.createdAt);
  if (open.length === 0) return undefined;
  if (notification.status === 'queued') await markSending(deps.db, notification.id);
  const account = accountForSend(
    deps.cipher,
    notification.firebaseProjectId,
    found.credentialsCiphertext,
    deps.defaultAccount,
  );
  const { maxAttempts, maxAgeSeconds, throttleDefaultMs, retryBaseMs, retryMaxMs } = deps.config.send;
  const rules: SendRules = {
    attempt: job.attempt,
    maxAttempts,
    expiry: expiresAt(notification.createdAt, job.since, maxAgeSeconds),
    maxAgeSeconds,
    sendExpiry: notification.expiresAt?.getTime(),
    throttleDefaultMs,
    backoff: { baseMs: retryBaseMs, maxMs: retryMaxMs, jitter: 'full' },
  };
  return { notification, open, account, throttledUntil: found.throttledUntil, rules };
}

/**
 * Triage: settles the deliveries not to be sent (cancelled, past expires_at, inactive device, no credentials,
 * too old); returns the rest.
 */
function triage(batch: Batch, now: number): { settled: DeliveryOutcome[]; toSend: DeliveryToSend[] } {
  const { sendExpiry } = batch.rules;
  const context = {
    hasAccount: batch.account !== undefined,
    expired: now >= batch.rules.expiry,
    maxAgeSeconds: batch.rules.maxAgeSeconds,
    sendExpiredAt: sendExpiry !== undefined && now >= sendExpiry ? sendExpiry : undefined,
    cancelled: batch.notification.cancelledAt !== null,
  };
  const settled: DeliveryOutcome[] = [];
  const toSend: DeliveryToSend[] = [];
  for (const d of batch.open) {
    const outcome = unsendable(d, context);
    if (outcome) settled.push(outcome);
    else toSend.push(d);
  }
  return { settled, toSend };
}

/**
 * Whether the batch may call FCM now: not while FCM has the project throttled (a 429, shared by every worker
 * through send_throttles, read when the batch was claimed) nor while the project's circuit is open. Returns
 * when to come back otherwise.
 */
function waitBeforeSending(
  deps: ServiceDeps,
  project: string,
  throttledUntil: Date | undefined,
): number | undefined {
  if (throttledUntil) return throttledUntil.getTime();
  const gate = deps.circuit.acquire(project);
  return gate.allowed ? undefined : gate.retryAt;
}

/** The same job again, later: it is not an attempt, the deliveries stay as they are. */
async function reschedule(deps: ServiceDeps, job: SendJob, at: number): Promise<void> {
  const startAfter = new Date(at + Math.floor(Math.random() * RESCHEDULE_SPREAD_MS));
  await deps.queue.enqueue(deps.db, QUEUES.send, job, { startAfter });
}

/** Render: each delivery's message for its platform, in its locale's variant, carrying its receipt keys. */
function render(deps: ServiceDeps, batch: Batch, toSend: DeliveryToSend[]): FcmMessage[] {
  const { notification } = batch;
  const contents = {
    ...(notification.variants as Record<string, NotificationContent> | null),
    default: notification.content as unknown as NotificationContent,
  };
  return toSend.map((d) =>
    renderMessage(
      pickVariant((d.contents as Record<string, NotificationContent> | null) ?? contents, d.locale),
      { platform: d.platform, token: deps.cipher.decrypt(d.tokenCiphertext) },
      receiptData(d.id, deps.cipher.receiptToken(d.id)),
    ),
  );
}

/** Classify: every answer (in the order of the messages sent), folded into what the batch records. */
function classifyAnswers(
  toSend: DeliveryToSend[],
  results: SendOutcome[],
  rules: SendRules,
  now: number,
): Answers {
  const answers = noAnswers();
  toSend.forEach((d, i) => {
    const { outcome, circuit, deactivate, throttleUntil } = classify(d.id, results[i]!, rules, now);
    answers.outcomes.push(outcome);
    if (circuit === 'answered') answers.answered++;
    else if (circuit === 'failing') answers.failing++;
    if (deactivate) answers.deadTokens.push({ deviceId: d.deviceId, reason: deactivate });
    if (throttleUntil) answers.throttleUntil = Math.max(answers.throttleUntil, throttleUntil);
    if (outcome.nextAttemptAt) {
      answers.retryIds.push(outcome.id);
      answers.retryAt = Math.max(answers.retryAt, outcome.nextAttemptAt.getTime());
    }
  });
  return answers;
}

/** Tells the project's circuit breaker how FCM did, and pauses the project for every worker after a 429. */
async function reportToProject(
  deps: ServiceDeps,
  log: ServiceDeps['logger'],
  project: string,
  answers: Answers,
): Promise<void> {
  deps.circuit.record(project, { successes: answers.answered, failures: answers.failing });
  if (answers.throttleUntil === 0) return;
  // Before recording the outcomes, so every other worker holds back as soon as possible.
  await raiseThrottle(deps.db, project, new Date(answers.throttleUntil));
  log.warn(
    { firebase_project: project, until: new Date(answers.throttleUntil).toISOString() },
    'FCM quota exceeded: project paused',
  );
}

/**
 * Record, in one transaction: the outcomes (one multi-row update), the notification's counters, the dead
 * tokens' devices deactivated, the events, and the retry job. Returns the deliveries that changed (a re-run
 * changes none) and the notification when this batch finished it.
 */
async function record(
  deps: ServiceDeps,
  job: SendJob,
  batch: Batch,
  outcomes: DeliveryOutcome[],
  answers: Answers,
): Promise<{ changed: Set<string>; finished: NotificationRow | undefined }> {
  const { notification } = batch;
  return deps.db.transaction(async (tx) => {
    const counts = await recordOutcomes(tx, job.attempt, outcomes, notification.createdAt);
    const finished = await addOutcomeCounts(tx, notification.id, counts);
    await emitEvents(tx, [
      ...settledEvents(notification, batch.open, outcomes, counts.changed, job.requestId),
      ...(await deactivateDeadTokens(tx, notification, answers.deadTokens, job.requestId)),
      ...(finished ? [completedEvent(finished, job.requestId)] : []),
    ]);
    if (answers.retryIds.length > 0) {
      const retry: SendJob = {
        notificationId: notification.id,
        deliveryIds: answers.retryIds,
        attempt: job.attempt + 1,
        requestId: job.requestId,
        ...(job.since ? { since: job.since } : {}),
      };
      await deps.queue.enqueue(tx, QUEUES.send, retry, { startAfter: new Date(answers.retryAt) });
    }
    return { changed: counts.changed, finished };
  });
}

/** How many items have each key: `{"UNAVAILABLE": 2}`. */
function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Retries and token deactivations at info: what a person watching a send wants to see happen. */
function logAnswers(
  log: ServiceDeps['logger'],
  job: SendJob,
  outcomes: DeliveryOutcome[],
  answers: Answers,
): void {
  if (answers.retryIds.length > 0) {
    log.info(
      {
        retrying: answers.retryIds.length,
        errors: countBy(
          outcomes.filter((o) => o.status === 'retrying'),
          (o) => o.errorCode ?? 'UNKNOWN',
        ),
        next_attempt: job.attempt + 1,
        retry_at: new Date(answers.retryAt).toISOString(),
      },
      'FCM send failed, will retry',
    );
  }
  if (answers.deadTokens.length > 0) {
    log.info(
      { deactivated: answers.deadTokens.length, reasons: countBy(answers.deadTokens, (t) => t.reason) },
      'devices deactivated: FCM says their tokens are dead',
    );
  }
}

/** Deactivates the devices of dead tokens (one statement per reason); a device.deactivated event per reason. */
async function deactivateDeadTokens(
  tx: Executor,
  notification: NotificationRow,
  deadTokens: Answers['deadTokens'],
  requestId: string | undefined,
): Promise<NewEvent[]> {
  const events: NewEvent[] = [];
  for (const reason of new Set(deadTokens.map((t) => t.reason))) {
    const ids = deadTokens.filter((t) => t.reason === reason).map((t) => t.deviceId);
    const changed = await deactivateDevices(tx, notification.apiClientId, ids, reason);
    if (changed.length > 0) {
      const deviceIds = changed.map((d) => d.id);
      events.push({ ...deviceDeactivated(notification.apiClientId, deviceIds, reason), requestId });
    }
  }
  return events;
}

/** Consumes the send queue: jobs are validated here, since a job can outlive the code that enqueued it. */
export async function startSendJob(deps: ServiceDeps): Promise<void> {
  await deps.queue.work(
    QUEUES.send,
    {
      concurrency: deps.config.send.concurrency,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 1,
      // Two jobs per fetch, one after the other, fetching again at once while fetches come back full.
      batch: { size: 2, parallel: false },
    },
    (job) => runJob(deps, QUEUES.send, job, (jobDeps) => sendBatch(jobDeps, sendPayload.parse(job.data))),
  );
}
