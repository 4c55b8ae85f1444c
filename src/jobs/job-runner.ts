/** The frame every job handler runs in: a logger with the job's ids, and failures reported before a retry. */
import { findNotificationById } from '../db/notifications.repository.ts';
import type { QueuedJob, QueueName } from '../queue/contract.ts';
import type { ServiceDeps } from '../services/deps.ts';

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
export async function runJob(
  deps: ServiceDeps,
  queue: QueueName,
  job: QueuedJob,
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
