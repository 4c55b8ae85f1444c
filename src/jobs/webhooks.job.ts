/**
 * Webhook workers: the dispatcher loop (outbox events → one delivery job per subscribed endpoint) and the
 * delivery job handler. Runs in every worker process; any number of them can run at once.
 */
import { type PollLoop, startPollLoop } from '../lib/poll-loop.ts';
import { createWebhookSender, type WebhookSender } from '../lib/webhook-sender.ts';
import { QUEUES, webhookPayload } from '../queue/contract.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { deliverWebhook, dispatchEvents } from '../services/webhook-delivery.service.ts';

/** How often an idle dispatcher looks for new events, and how many it takes per transaction. */
const DISPATCH_INTERVAL_MS = 250;
const DISPATCH_BATCH = 200;
/** After a failed dispatch (database unavailable), wait this long rather than log every 250 ms. */
const DISPATCH_ERROR_PAUSE_MS = 5_000;
/** Deliveries fetched per pg-boss fetch and run concurrently, per local worker. */
const DELIVERY_BATCH = 8;

export const WEBHOOK_USER_AGENT = 'fcm-server-webhooks/1';

export interface WebhookWorkers {
  /** Stops dispatching, waits for deliveries in flight, closes the HTTP client. */
  stop(): Promise<void>;
}

/** Starts the dispatcher loop; stop() waits for the round in progress. */
function startDispatcher(deps: ServiceDeps): PollLoop {
  return startPollLoop(async (stopped) => {
    try {
      // A full batch means more are waiting: take them at once.
      while (!stopped() && (await dispatchEvents(deps, DISPATCH_BATCH)) === DISPATCH_BATCH) {}
      return DISPATCH_INTERVAL_MS;
    } catch (error) {
      deps.logger.error({ err: error }, 'webhook dispatch failed');
      return DISPATCH_ERROR_PAUSE_MS;
    }
  });
}

export async function startWebhookWorkers(
  deps: ServiceDeps,
  sender: WebhookSender = createWebhookSender({
    timeoutMs: deps.config.webhooks.timeoutMs,
    allowPrivateTargets: deps.config.webhooks.allowPrivateTargets,
    userAgent: WEBHOOK_USER_AGENT,
  }),
): Promise<WebhookWorkers> {
  await deps.queue.work(
    QUEUES.webhook,
    {
      concurrency: 2,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
      batch: { size: DELIVERY_BATCH, parallel: true },
    },
    async (job) => {
      try {
        // Validated here: a job can outlive the code that enqueued it.
        await deliverWebhook(deps, sender, webhookPayload.parse(job.data), { rerun: job.retryCount > 0 });
      } catch (error) {
        deps.logger.error({ err: error, job_id: job.id }, 'webhook delivery job failed');
        throw error;
      }
    },
  );
  const dispatcher = startDispatcher(deps);
  return {
    async stop() {
      await dispatcher.stop();
      await deps.queue.stopWork(QUEUES.webhook);
      await sender.close();
    },
  };
}
