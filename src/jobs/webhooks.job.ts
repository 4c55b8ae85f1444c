/**
 * Webhook workers: the dispatcher loop (outbox events → one delivery job per subscribed endpoint) and the
 * delivery job handler. Runs in every worker process; any number of them can run at once.
 */
import { z } from 'zod';
import { createWebhookSender, type WebhookSender } from '../lib/webhook-sender.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { deliverWebhook, dispatchEvents } from '../services/webhook-delivery.service.ts';
import { QUEUES } from './queue.ts';

/** How often an idle dispatcher looks for new events, and how many it takes per transaction. */
const DISPATCH_INTERVAL_MS = 250;
const DISPATCH_BATCH = 200;
/** After a failed dispatch (database unavailable), wait this long rather than log every 250 ms. */
const DISPATCH_ERROR_PAUSE_MS = 5_000;
/** Deliveries fetched per pg-boss fetch and run concurrently, per local worker. */
const DELIVERY_BATCH = 8;

export const WEBHOOK_USER_AGENT = 'fcm-server-webhooks/1';

const webhookPayload = z.object({
  tenantId: z.uuid(),
  endpointId: z.uuid(),
  eventId: z.string().min(1).max(100),
  attempt: z.number().int().min(1),
});

export interface WebhookWorkers {
  /** Stops dispatching, waits for deliveries in flight, closes the HTTP client. */
  stop(): Promise<void>;
}

/** Starts the dispatcher loop; stop() waits for the round in progress. */
function startDispatcher(deps: ServiceDeps): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();
  const run = async () => {
    let pause = DISPATCH_INTERVAL_MS;
    try {
      // A full batch means more are waiting: take them at once.
      while (!stopped && (await dispatchEvents(deps, DISPATCH_BATCH)) === DISPATCH_BATCH) {}
    } catch (error) {
      deps.logger.error({ err: error }, 'webhook dispatch failed');
      pause = DISPATCH_ERROR_PAUSE_MS;
    }
    if (!stopped) timer = setTimeout(() => (round = run()), pause).unref();
  };
  round = run();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}

export async function startWebhookWorkers(
  deps: ServiceDeps,
  sender: WebhookSender = createWebhookSender({
    timeoutMs: deps.config.webhooks.timeoutMs,
    allowPrivateTargets: deps.config.webhooks.allowPrivateTargets,
    userAgent: WEBHOOK_USER_AGENT,
  }),
): Promise<WebhookWorkers> {
  const { boss } = deps.queue;
  await boss.work(
    QUEUES.webhook,
    {
      localConcurrency: 2,
      batchSize: DELIVERY_BATCH,
      burstWhenBatchFull: true,
      perJobResults: true,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
    },
    async (jobs) =>
      Promise.all(
        jobs.map(async (job) => {
          try {
            await deliverWebhook(deps, sender, webhookPayload.parse(job.data), { rerun: job.retryCount > 0 });
            return { id: job.id, status: 'completed' as const };
          } catch (error) {
            deps.logger.error({ err: error, job_id: job.id }, 'webhook delivery job failed');
            return {
              id: job.id,
              status: 'failed' as const,
              output: { message: error instanceof Error ? error.message : String(error) },
            };
          }
        }),
      ),
  );
  const dispatcher = startDispatcher(deps);
  return {
    async stop() {
      await dispatcher.stop();
      await boss.offWork(QUEUES.webhook, { wait: true });
      await sender.close();
    },
  };
}
