/**
 * Webhook delivery in two steps: the dispatcher turns outbox events into one job per subscribed endpoint, and
 * the delivery job POSTs one signed Standard Webhooks message, logs the attempt, and retries with backoff,
 * switching off an endpoint that keeps failing.
 */

import {
  activeEndpointsOf,
  attemptLogged,
  claimUndispatchedEvents,
  findEndpoint,
  findEventForDelivery,
  insertAttempt,
  recordEndpointFailure,
  recordEndpointSuccess,
} from '../db/webhooks.repository.ts';
import { backoffDelayMs } from '../lib/backoff.ts';
import { signatureHeader } from '../lib/standard-webhooks.ts';
import type { WebhookSender } from '../lib/webhook-sender.ts';
import type { WebhookOutcome } from '../observability/metrics.ts';
import { QUEUES, type WebhookJob } from '../queue/contract.ts';
import type { ServiceDeps } from './deps.ts';
import { emitEvents } from './events.ts';

/** Why an endpoint was switched off after too many failed deliveries in a row. */
export const DISABLED_FOR_FAILURES = 'consecutive_failures';

/**
 * Hands up to `limit` undispatched events to the endpoints subscribed to them: one delivery job per (endpoint,
 * event), enqueued in the transaction that marks the events dispatched. Returns how many events it took.
 */
export async function dispatchEvents(deps: ServiceDeps, limit: number): Promise<number> {
  return deps.db.transaction(async (tx) => {
    const events = await claimUndispatchedEvents(tx, limit);
    if (events.length === 0) return 0;
    const endpoints = await activeEndpointsOf(tx, [...new Set(events.map((e) => e.api_client_id))]);
    const byTenant = new Map<string, typeof endpoints>();
    for (const endpoint of endpoints) {
      byTenant.set(endpoint.apiClientId, [...(byTenant.get(endpoint.apiClientId) ?? []), endpoint]);
    }
    const jobs: WebhookJob[] = [];
    for (const event of events) {
      for (const endpoint of byTenant.get(event.api_client_id) ?? []) {
        if (endpoint.eventTypes.length > 0 && !endpoint.eventTypes.includes(event.type)) continue;
        jobs.push({
          tenantId: event.api_client_id,
          endpointId: endpoint.id,
          eventId: event.event_id,
          attempt: 1,
        });
      }
    }
    await deps.queue.enqueueMany(tx, QUEUES.webhook, jobs);
    return events.length;
  });
}

/**
 * One delivery attempt. Skips what is done or moot: an endpoint deleted or switched off, an event gone, or
 * (when pg-boss runs the job again after a crash) an attempt already logged.
 */
export async function deliverWebhook(
  deps: ServiceDeps,
  sender: WebhookSender,
  job: WebhookJob,
  options: { rerun: boolean } = { rerun: false },
): Promise<void> {
  const settings = deps.config.webhooks;
  const endpoint = await findEndpoint(deps.db, job.tenantId, job.endpointId);
  if (!endpoint?.isActive) return;
  if (options.rerun && (await attemptLogged(deps.db, job.endpointId, job.eventId, job.attempt))) return;
  const event = await findEventForDelivery(deps.db, job.tenantId, job.eventId);
  if (!event) return;

  const body = JSON.stringify({
    type: event.type,
    timestamp: event.created_at.toISOString(),
    data: event.payload,
  });
  const now = new Date();
  const secrets = [deps.cipher.decrypt(endpoint.secretCiphertext)];
  if (
    endpoint.previousSecretCiphertext &&
    endpoint.previousSecretExpiresAt &&
    endpoint.previousSecretExpiresAt > now
  ) {
    secrets.push(deps.cipher.decrypt(endpoint.previousSecretCiphertext));
  }
  const timestamp = Math.floor(now.getTime() / 1000);
  const response = await sender.post(
    endpoint.url,
    {
      'content-type': 'application/json',
      'webhook-id': event.event_id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(secrets, event.event_id, timestamp, body),
    },
    body,
  );

  const log = deps.logger.child({
    webhook_id: endpoint.id,
    client_id: job.tenantId,
    event_id: job.eventId,
    attempt: job.attempt,
    request_id: event.request_id ?? undefined,
  });
  const attempt = {
    endpointId: endpoint.id,
    tenantId: job.tenantId,
    eventId: event.event_id,
    eventType: event.type,
    attempt: job.attempt,
    responseStatus: response.status,
    durationMs: response.durationMs,
  };
  const outcome = await deps.db.transaction(async (tx): Promise<WebhookOutcome> => {
    if (response.error === null) {
      await recordEndpointSuccess(tx, job.tenantId, endpoint.id);
      await insertAttempt(tx, { ...attempt, status: 'succeeded', error: null, nextAttemptAt: null });
      log.debug({ status: response.status, duration_ms: response.durationMs }, 'webhook delivered');
      return 'delivered';
    }
    const streak = await recordEndpointFailure(
      tx,
      job.tenantId,
      endpoint.id,
      settings.disableAfterFailures,
      DISABLED_FOR_FAILURES,
    );
    if (!streak) return 'skipped';
    const retry = job.attempt < settings.maxAttempts && streak.active;
    const backoff = { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs, jitter: 'equal' } as const;
    const nextAttemptAt = retry ? new Date(Date.now() + backoffDelayMs(job.attempt, backoff)) : null;
    const error = streak.disabledNow
      ? `${response.error}; endpoint disabled after ${streak.consecutiveFailures} consecutive failures`
      : response.error;
    await insertAttempt(tx, { ...attempt, status: retry ? 'failed' : 'exhausted', error, nextAttemptAt });
    if (nextAttemptAt) {
      const next: WebhookJob = { ...job, attempt: job.attempt + 1 };
      await deps.queue.enqueue(tx, QUEUES.webhook, next, { startAfter: nextAttemptAt });
    }
    if (streak.disabledNow) {
      await emitEvents(tx, [
        {
          tenantId: job.tenantId,
          type: 'webhook.disabled',
          data: {
            webhook_id: endpoint.id,
            url: streak.url,
            reason: DISABLED_FOR_FAILURES,
            consecutive_failures: streak.consecutiveFailures,
            last_error: response.error,
          },
        },
      ]);
      log.warn(
        { consecutive_failures: streak.consecutiveFailures, error: response.error },
        'webhook endpoint disabled after too many consecutive failed deliveries',
      );
    } else {
      // warn: an endpoint failing is the tenant's to fix, and each failure brings it closer to being disabled.
      log.warn(
        {
          error: response.error,
          status: response.status,
          consecutive_failures: streak.consecutiveFailures,
          retry_at: nextAttemptAt,
        },
        nextAttemptAt ? 'webhook delivery failed, will retry' : 'webhook delivery failed, no attempts left',
      );
    }
    return nextAttemptAt ? 'retrying' : 'dead';
  });
  deps.metrics.webhookDelivery(outcome);
}
