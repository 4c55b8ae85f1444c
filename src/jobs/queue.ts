/**
 * The job queue: pg-boss on the same database as everything else, so a notification and its job commit
 * together. On PostgreSQL pg-boss has its own pool; on PGlite it runs on the same instance through its adapter.
 */
import { sql } from 'drizzle-orm';
import { type DrizzleTransactionLike, fromDrizzle, fromPglite, PgBoss, type Queue } from 'pg-boss';
import type { DatabaseHandle, Executor } from '../db/client.ts';

export const QUEUES = {
  fanout: 'fanout',
  send: 'send',
  analytics: 'analytics-rollup',
  webhook: 'webhook',
  /** Daily: hard-deletes profiles and devices deleted longer ago than SOFT_DELETE_RETENTION_DAYS. */
  purge: 'purge',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface FanoutJob {
  notificationId: string;
  requestId?: string | undefined;
}

export interface SendJob {
  notificationId: string;
  /** Delivery ids (bigints as strings), at most one FCM batch (500). */
  deliveryIds: string[];
  /** 1 for the first try; a retry job carries the next number, so an old job re-run sends nothing twice. */
  attempt: number;
  requestId?: string | undefined;
  /** ISO time SEND_MAX_AGE_SECONDS counts from instead of the notification's creation (a dead-letter requeue). */
  since?: string | undefined;
}

export interface WebhookJob {
  tenantId: string;
  endpointId: string;
  /** The event's public id (`evt_…`), the webhook-id of the message. */
  eventId: string;
  /** 1 for the first try; a retry job carries the next number. */
  attempt: number;
}

/**
 * Per-queue settings. A running job's worker sends a heartbeat every 5 s; a job whose worker was killed misses it
 * and goes back to the queue within `heartbeatSeconds` plus one supervise pass (instead of waiting out
 * `expireInSeconds`, the hard limit for a job that hangs). Handlers are idempotent, so the retry is safe.
 */
const queueOptions: Record<QueueName, Omit<Queue, 'name'>> = {
  fanout: {
    expireInSeconds: 300,
    heartbeatSeconds: 10,
    retryLimit: 10,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 300,
    notify: true,
  },
  send: {
    expireInSeconds: 120,
    heartbeatSeconds: 10,
    retryLimit: 10,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 300,
    notify: true,
  },
  // A cron job: at most one queued and one running (a slow run does not pile up the next ticks).
  'analytics-rollup': {
    policy: 'stately',
    expireInSeconds: 1800,
    heartbeatSeconds: 10,
    retryLimit: 2,
    retryDelay: 60,
  },
  // An HTTP failure is recorded and retried by the handler itself (its own backoff, attempt log); pg-boss
  // retries only a handler that threw (the database was unavailable).
  webhook: {
    expireInSeconds: 180,
    heartbeatSeconds: 10,
    retryLimit: 10,
    retryDelay: 5,
    retryBackoff: true,
    retryDelayMax: 300,
    notify: true,
  },
  // Daily cron job, like the roll-up: at most one queued and one running.
  purge: { policy: 'stately', expireInSeconds: 3600, heartbeatSeconds: 10, retryLimit: 2, retryDelay: 300 },
};

export interface JobQueue {
  boss: PgBoss;
  /** Enqueues inside the caller's transaction: the job exists if and only if the transaction commits. */
  enqueue(tx: Executor, name: QueueName, data: object, options?: { startAfter?: Date }): Promise<void>;
  /** Enqueues many jobs of one queue in one statement, inside the caller's transaction. */
  enqueueMany(tx: Executor, name: QueueName, jobs: object[]): Promise<void>;
  stop(options?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
}

export async function startQueue(
  handle: DatabaseHandle,
  options: { onError?: (error: Error) => void; supervise?: boolean } = {},
): Promise<JobQueue> {
  const common = {
    schema: 'pgboss',
    useListenNotify: true,
    supervise: options.supervise ?? true,
    schedule: options.supervise ?? true,
    // How often a supervising process looks for jobs whose worker stopped sending heartbeats (default 60 s).
    superviseIntervalSeconds: 10,
    migrate: true,
    registerInstance: false,
    openTelemetry: { enabled: false },
  };
  const boss =
    handle.kind === 'pglite'
      ? new PgBoss({ ...common, db: fromPglite(handle.pglite!), backend: 'pglite' })
      : new PgBoss({ ...common, connectionString: handle.url!, max: 10 });
  boss.on('error', (error) => options.onError?.(error));
  await boss.start();
  for (const [name, settings] of Object.entries(queueOptions)) {
    await boss.createQueue(name, settings);
  }
  return {
    boss,
    async enqueue(tx, name, data, opts) {
      await boss.send(name, data, {
        db: fromDrizzle(tx as unknown as DrizzleTransactionLike, sql),
        ...(opts?.startAfter ? { startAfter: opts.startAfter } : {}),
      });
    },
    async enqueueMany(tx, name, jobs) {
      if (jobs.length === 0) return;
      await boss.insert(
        name,
        jobs.map((data) => ({ data })),
        { db: fromDrizzle(tx as unknown as DrizzleTransactionLike, sql) },
      );
    },
    async stop(opts) {
      await boss.stop({ graceful: opts?.graceful ?? true, timeout: opts?.timeoutMs ?? 20_000, close: true });
    },
  };
}
