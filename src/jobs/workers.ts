/** Registers the job handlers. Payloads are validated at the handler: old jobs outlive code changes. */
import type { JobResult } from 'pg-boss';
import { z } from 'zod';
import { fanOut, sendBatch } from '../services/delivery.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { startAnalyticsJob } from './analytics.job.ts';
import { startMaintenance } from './maintenance.ts';
import { startPurgeJob } from './purge.job.ts';
import { QUEUES } from './queue.ts';
import { runJob } from './run-job.ts';

const fanoutPayload = z.object({ notificationId: z.uuid(), requestId: z.string().optional() });
const sendPayload = z.object({
  notificationId: z.uuid(),
  deliveryIds: z.array(z.string().regex(/^\d+$/)).min(1).max(500),
  attempt: z.number().int().min(1),
  requestId: z.string().optional(),
  since: z.iso.datetime({ offset: true }).optional(),
});

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
  await startMaintenance(deps);
  await startPurgeJob(deps);
}
