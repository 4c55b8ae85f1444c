/**
 * The job queue: pg-boss on the same database as everything else, so a notification and its job commit
 * together. On PostgreSQL pg-boss has its own pool; on PGlite it runs on the same instance through its adapter.
 * Only the runtime imports this module; everything else sees the `JobQueue` of src/queue/contract.ts.
 */
import { sql } from 'drizzle-orm';
import {
  type DrizzleTransactionLike,
  fromDrizzle,
  fromPglite,
  type JobResult,
  PgBoss,
  type Queue,
} from 'pg-boss';
import type { DatabaseHandle, Executor } from '../db/client.ts';
import { oldestReadyJobAges } from '../db/queue-stats.repository.ts';
import {
  type JobHandler,
  type JobQueue,
  QUEUES,
  type QueueDepth,
  type QueuedJob,
  type QueueName,
} from './contract.ts';

/** The queue and, for tests and tools that inspect schedules or plant a raw job, pg-boss itself. */
export interface PgBossQueue extends JobQueue {
  readonly boss: PgBoss;
}

/**
 * A queue that code fills and workers drain: retried by pg-boss (with exponential backoff up to 5 minutes) only
 * when its handler threw, i.e. the database was unavailable; delivery failures are retried by the handlers
 * themselves with their own backoff. `notify` wakes a worker on insert instead of at its next poll.
 */
const workQueue = (expireInSeconds: number, retryDelay: number): Omit<Queue, 'name'> => ({
  expireInSeconds,
  heartbeatSeconds: 10,
  retryLimit: 10,
  retryDelay,
  retryBackoff: true,
  retryDelayMax: 300,
  notify: true,
});

/**
 * Per-queue settings. A running job's worker sends a heartbeat every 5 s; a job whose worker was killed misses it
 * and goes back to the queue within `heartbeatSeconds` plus one supervise pass (instead of waiting out
 * `expireInSeconds`, the hard limit for a job that hangs). Handlers are idempotent, so the retry is safe.
 */
const queueOptions: Record<QueueName, Omit<Queue, 'name'>> = {
  [QUEUES.fanout]: workQueue(300, 1),
  [QUEUES.send]: workQueue(120, 1),
  [QUEUES.webhook]: workQueue(180, 5),
  // Cron jobs: at most one queued and one running (a slow run does not pile up the next ticks).
  [QUEUES.analytics]: {
    policy: 'stately',
    expireInSeconds: 1800,
    heartbeatSeconds: 10,
    retryLimit: 2,
    retryDelay: 60,
  },
  [QUEUES.purge]: {
    policy: 'stately',
    expireInSeconds: 3600,
    heartbeatSeconds: 10,
    retryLimit: 2,
    retryDelay: 300,
  },
  // Hourly cron jobs: one queued-or-active run at a time, so a slow run never piles up behind itself.
  [QUEUES.staleDevices]: { policy: 'exclusive', expireInSeconds: 3600, retryLimit: 2, retryDelay: 60 },
  [QUEUES.retention]: { policy: 'exclusive', expireInSeconds: 3600, retryLimit: 2, retryDelay: 60 },
};

/** pg-boss's view of a transaction of ours, so that a job is inserted by the statement's own connection. */
const inTransaction = (tx: Executor) => fromDrizzle(tx as unknown as DrizzleTransactionLike, sql);

/** Runs one job of a fetched batch and settles it on its own: one failed job does not fail the others. */
async function settle(job: QueuedJob, handler: JobHandler): Promise<JobResult> {
  try {
    await handler(job);
    return { id: job.id, status: 'completed' };
  } catch (error) {
    return {
      id: job.id,
      status: 'failed',
      output: { message: error instanceof Error ? error.message : String(error) },
    };
  }
}

export async function startQueue(
  handle: DatabaseHandle,
  options: { onError?: (error: Error) => void; supervise?: boolean } = {},
): Promise<PgBossQueue> {
  const common = {
    schema: 'pgboss',
    useListenNotify: true,
    supervise: options.supervise ?? true,
    schedule: options.supervise ?? true,
    // How often a supervising process looks for jobs whose worker stopped sending heartbeats (default 60 s).
    superviseIntervalSeconds: 10,
    // How often it refreshes the queue counts that depths() reads (default 60 s): the metrics and the
    // readiness check lag the queue by at most this much.
    monitorIntervalSeconds: 10,
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
  const names = Object.values(QUEUES);
  return {
    boss,
    async enqueue(tx, queue, data, opts) {
      await boss.send(queue, data, {
        db: inTransaction(tx),
        ...(opts?.startAfter ? { startAfter: opts.startAfter } : {}),
      });
    },
    async enqueueMany(tx, queue, jobs) {
      if (jobs.length === 0) return;
      await boss.insert(
        queue,
        jobs.map((data) => ({ data })),
        { db: inTransaction(tx) },
      );
    },
    async work(queue, opts, handler) {
      const polling = {
        localConcurrency: opts.concurrency,
        pollingIntervalSeconds: opts.pollingIntervalSeconds,
        ...(opts.notifyPollingIntervalSeconds === undefined
          ? {}
          : { notifyPollingIntervalSeconds: opts.notifyPollingIntervalSeconds }),
      };
      const { batch } = opts;
      if (!batch) {
        await boss.work(queue, polling, async ([job]) => {
          if (job) await handler(job);
        });
        return;
      }
      await boss.work(
        queue,
        { ...polling, batchSize: batch.size, burstWhenBatchFull: true, perJobResults: true },
        async (jobs) => {
          if (batch.parallel) return Promise.all(jobs.map((job) => settle(job, handler)));
          const results: JobResult[] = [];
          for (const job of jobs) results.push(await settle(job, handler));
          return results;
        },
      );
    },
    async stopWork(queue) {
      await boss.offWork(queue, { wait: true });
    },
    async schedule(queue, cron) {
      await boss.schedule(queue, cron, null, { tz: 'UTC' });
    },
    async depths(): Promise<QueueDepth[]> {
      const [stats, oldest] = await Promise.all([
        Promise.all(names.map((name) => boss.getQueueStats(name))),
        oldestReadyJobAges(handle.db),
      ]);
      return names.map((queue, i) => {
        // Without persistQueueStats pg-boss answers with one snapshot: the counts of its last monitor pass.
        const s = stats[i]![0];
        return {
          queue,
          ready: s?.readyCount ?? 0,
          deferred: s?.deferredCount ?? 0,
          active: s?.activeCount ?? 0,
          oldestReadySeconds: oldest.get(queue) ?? 0,
        };
      });
    },
    async stop(opts) {
      await boss.stop({ graceful: opts?.graceful ?? true, timeout: opts?.timeoutMs ?? 20_000, close: true });
    },
  };
}
