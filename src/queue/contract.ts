/**
 * The job queue as the rest of the code sees it: queue names, job payloads and the `JobQueue` interface.
 * A leaf module (zod and a database type only), so services that enqueue and jobs that consume both depend
 * on it and not on each other, and neither sees pg-boss (that is src/queue/pg-boss.ts).
 */
import { z } from 'zod';
import type { Executor } from '../db/client.ts';

export const QUEUES = {
  fanout: 'fanout',
  send: 'send',
  webhook: 'webhook',
  analytics: 'analytics-rollup',
  /** Daily: hard-deletes profiles and devices deleted longer ago than SOFT_DELETE_RETENTION_DAYS. */
  purge: 'purge',
  /** Hourly: deactivates devices not seen for STALE_DEVICE_DAYS. */
  staleDevices: 'maintenance-stale-devices',
  /** Hourly: deletes the rows older than their RETENTION_*_DAYS. */
  retention: 'maintenance-retention',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * Job payloads, validated again by the handler (a job enqueued by an older version can outlive the code
 * that wrote it). Payloads carry ids only; the handler re-reads the state.
 */
export const fanoutPayload = z.object({ notificationId: z.uuid(), requestId: z.string().optional() });

export const sendPayload = z.object({
  notificationId: z.uuid(),
  /** Delivery ids (bigints as strings), at most one FCM batch (500). */
  deliveryIds: z.array(z.string().regex(/^\d+$/)).min(1).max(500),
  /** 1 for the first try; a retry job carries the next number, so an old job re-run sends nothing twice. */
  attempt: z.number().int().min(1),
  requestId: z.string().optional(),
  /** ISO time SEND_MAX_AGE_SECONDS counts from instead of the notification's creation (a dead-letter requeue). */
  since: z.iso.datetime({ offset: true }).optional(),
});

export const webhookPayload = z.object({
  tenantId: z.uuid(),
  endpointId: z.uuid(),
  /** The event's public id (`evt_…`), the webhook-id of the message. */
  eventId: z.string().min(1).max(100),
  /** 1 for the first try; a retry job carries the next number. */
  attempt: z.number().int().min(1),
});

export type FanoutJob = z.infer<typeof fanoutPayload>;
export type SendJob = z.infer<typeof sendPayload>;
export type WebhookJob = z.infer<typeof webhookPayload>;

/** What each queue that code enqueues into carries (the cron queues are filled by their schedules). */
export interface JobPayloads {
  [QUEUES.fanout]: FanoutJob;
  [QUEUES.send]: SendJob;
  [QUEUES.webhook]: WebhookJob;
}

/** A job as its handler receives it: the payload is unknown until the handler has validated it. */
export interface QueuedJob {
  id: string;
  data: unknown;
  /** 0 on the first run; more when the queue runs the job again (its handler threw, or its worker died). */
  retryCount: number;
}

export interface WorkOptions {
  /** Handlers of this queue running at once in this process. */
  concurrency: number;
  /** How often an idle worker looks for jobs. */
  pollingIntervalSeconds: number;
  /** How often an idle worker looks when a LISTEN/NOTIFY wake-up is expected (queues with `notify`). */
  notifyPollingIntervalSeconds?: number;
  /**
   * Fetch this many jobs at once, and fetch again at once while fetches come back full, so that a backlog
   * drains back to back instead of one job per worker per polling interval. Each job completes or fails on its
   * own; `parallel` runs the jobs of one fetch together instead of one after the other.
   */
  batch?: { size: number; parallel: boolean };
}

/** Handles one job; a throw fails it, and the queue retries it with the queue's backoff. */
export type JobHandler = (job: QueuedJob) => Promise<void>;

/** Waiting and running jobs of one queue. */
export interface QueueDepth {
  queue: QueueName;
  /** Jobs that could run now. */
  ready: number;
  /** Jobs waiting for their start time (retries with backoff, delayed jobs). */
  deferred: number;
  active: number;
  /** Age of the oldest job that could run now, 0 when none waits. */
  oldestReadySeconds: number;
}

export interface JobQueue {
  /** Enqueues inside the caller's transaction: the job exists if and only if the transaction commits. */
  enqueue<Q extends keyof JobPayloads>(
    tx: Executor,
    queue: Q,
    data: JobPayloads[Q],
    options?: { startAfter?: Date },
  ): Promise<void>;
  /** Enqueues many jobs of one queue in one statement, inside the caller's transaction. */
  enqueueMany<Q extends keyof JobPayloads>(tx: Executor, queue: Q, jobs: JobPayloads[Q][]): Promise<void>;
  /** Starts consuming a queue in this process. */
  work(queue: QueueName, options: WorkOptions, handler: JobHandler): Promise<void>;
  /** Stops consuming a queue in this process, after the jobs in hand have finished. */
  stopWork(queue: QueueName): Promise<void>;
  /** Fires a job into the queue on a cron expression (UTC), once across all processes. */
  schedule(queue: QueueName, cron: string): Promise<void>;
  /** Every queue's depth, for the metrics and the readiness check. */
  depths(): Promise<QueueDepth[]>;
  stop(options?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
}
