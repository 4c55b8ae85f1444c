/** Registers the job handlers. Payloads are validated at the handler: old jobs outlive code changes. */
import type { JobResult } from 'pg-boss';
import { z } from 'zod';
import { findNotificationById } from '../db/notifications.repository.ts';
import { fanOut, sendBatch } from '../services/delivery.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { startAnalyticsJob } from './analytics.job.ts';
import { QUEUES } from './queue.ts';

const fanoutPayload = z.object({ notificationId: z.uuid(), requestId: z.string().optional() });
const sendPayload = z.object({
  notificationId: z.uuid(),
  deliveryIds: z.array(z.string().regex(/^\d+$/)).min(1).max(500),
  attempt: z.number().int().min(1),
  requestId: z.string().optional(),
});

/** The ids a job carries, read leniently so that even a payload that fails validation is logged with them. */
function idsOf(data: unknown): { requestId?: string; notificationId?: string } {
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  return {
    ...(typeof d.requestId === 'string' ? { requestId: d.requestId } : {}),
    ...(typeof d.notificationId === 'string' ? { notificationId: d.notificationId } : {}),
  };
}

/**
 * Runs one job with a logger that carries request_id, job_id and notification_id (handed down through
 * deps.logger), and reports a failure to the log and the error tracker before pg-boss retries it.
 */
async function runJob(
  deps: ServiceDeps,
  queue: string,
  job: { id: string; data: unknown },
  handle: (jobDeps: ServiceDeps) => Promise<void>,
): Promise<void> {
  const { requestId, notificationId } = idsOf(job.data);
  const logger = deps.logger.child({
    queue,
    job_id: job.id,
    ...(requestId ? { request_id: requestId } : {}),
    ...(notificationId ? { notification_id: notificationId } : {}),
  });
  const started = performance.now();
  try {
    await handle({ ...deps, logger });
    logger.debug({ duration_ms: Math.round(performance.now() - started) }, 'job done');
  } catch (error) {
    logger.error({ err: error }, 'job failed');
    if (deps.errors.enabled) {
      const tenantId = notificationId
        ? await findNotificationById(deps.db, notificationId).then(
            (n) => n?.apiClientId,
            () => undefined,
          )
        : undefined;
      deps.errors.capture(error, {
        queue,
        job_id: job.id,
        request_id: requestId,
        notification_id: notificationId,
        tenant_id: tenantId,
      });
    }
    throw error;
  }
}

export async function startWorkers(deps: ServiceDeps): Promise<void> {
  const { boss } = deps.queue;
  await boss.work(
    QUEUES.fanout,
    { localConcurrency: 2, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 1 },
    async ([job]) => {
      if (!job) return;
      await runJob(deps, QUEUES.fanout, job, (jobDeps) => fanOut(jobDeps, fanoutPayload.parse(job.data)));
    },
  );
  await boss.work(
    QUEUES.send,
    {
      localConcurrency: deps.config.send.concurrency,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 1,
      // Two jobs per fetch, and fetch again at once while fetches come back full: a backlog of send
      // jobs is drained back to back instead of one job per worker per polling interval.
      batchSize: 2,
      burstWhenBatchFull: true,
      perJobResults: true,
    },
    async (jobs) => {
      const results: JobResult[] = [];
      for (const job of jobs) {
        try {
          await runJob(deps, QUEUES.send, job, (jobDeps) => sendBatch(jobDeps, sendPayload.parse(job.data)));
          results.push({ id: job.id, status: 'completed' });
        } catch (error) {
          results.push({
            id: job.id,
            status: 'failed',
            output: { message: error instanceof Error ? error.message : String(error) },
          });
        }
      }
      return results;
    },
  );
  await startAnalyticsJob(deps);
}
