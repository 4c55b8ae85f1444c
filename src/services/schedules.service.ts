/**
 * Scheduled and recurring sends: creating them (the send is checked now exactly as it will be at fire time),
 * reading, pausing, resuming and cancelling them, and firing the due ones (one scheduler tick).
 */
import type { Executor } from '../db/client.ts';
import {
  claimDueSchedules,
  findSchedule,
  insertSchedule,
  isOccurrenceTaken,
  listSchedules,
  type ScheduleFilter,
  type ScheduleRow,
  updateSchedule,
} from '../db/schedules.repository.ts';
import type { MisfirePolicy, ScheduleRecurrence, ScheduleStatus } from '../db/schema.ts';
import { AppError, invalid, notFound } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import {
  firstOccurrence,
  nextOccurrence,
  planDue,
  type RecurrenceRule,
  resumeNextRun,
  validateRule,
} from '../scheduling/recurrence.ts';
import type { ServiceDeps } from './deps.ts';
import { acceptSendIn, reportAccepted, type SendMeta } from './notify.service.ts';
import { type SendBody, storedSendSchema } from './send-request.ts';
import { type PageView, pageView } from './views.ts';

/** A scheduled_at this far in the past is still "now" (the client's clock runs a little behind ours). */
const CLOCK_SKEW_MS = 5_000;
/** Most occurrences one schedule fires in one tick (catch_up after a long outage); the rest follow next tick. */
export const MAX_OCCURRENCES_PER_TICK = 100;

export interface ScheduleView {
  id: string;
  name: string | null;
  status: ScheduleStatus;
  scheduled_at: string;
  recurrence: ScheduleRecurrence;
  cron: string | null;
  timezone: string;
  max_occurrences: number | null;
  ends_at: string | null;
  misfire_policy: MisfirePolicy;
  next_run_at: string | null;
  occurrence_count: number;
  last_run_at: string | null;
  last_notification_id: string | null;
  request: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export function toView(row: ScheduleRow): ScheduleView {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    scheduled_at: row.scheduledAt.toISOString(),
    recurrence: row.recurrence,
    cron: row.cron,
    timezone: row.timezone,
    max_occurrences: row.maxOccurrences,
    ends_at: row.endsAt?.toISOString() ?? null,
    misfire_policy: row.misfirePolicy,
    next_run_at: row.nextRunAt?.toISOString() ?? null,
    occurrence_count: row.occurrenceCount,
    last_run_at: row.lastRunAt?.toISOString() ?? null,
    last_notification_id: row.lastNotificationId,
    request: row.request,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The schedule fields of POST /notify/schedule; everything else in the body is the send. */
export interface ScheduleFields {
  scheduled_at?: string | undefined;
  recurrence: ScheduleRecurrence;
  cron?: string | undefined;
  timezone: string;
  max_occurrences?: number | undefined;
  ends_at?: string | undefined;
  misfire_policy: MisfirePolicy;
  name?: string | undefined;
}

export type ScheduleInput = SendBody & ScheduleFields;

/** Separates the send (stored as the schedule's request) from the fields that say when it fires. */
export function splitScheduleInput(input: ScheduleInput): { send: SendBody; fields: ScheduleFields } {
  const {
    scheduled_at,
    recurrence,
    cron,
    timezone,
    max_occurrences,
    ends_at,
    misfire_policy,
    name,
    ...send
  } = input;
  return {
    send,
    fields: { scheduled_at, recurrence, cron, timezone, max_occurrences, ends_at, misfire_policy, name },
  };
}

function ruleOf(row: ScheduleRow): RecurrenceRule {
  return {
    recurrence: row.recurrence,
    cron: row.cron,
    timezone: row.timezone,
    scheduledAt: row.scheduledAt,
    maxOccurrences: row.maxOccurrences,
    endsAt: row.endsAt,
    occurrenceCount: row.occurrenceCount,
  };
}

/** Thrown inside the dry run's savepoint to roll it back. */
class DryRunDone extends Error {}

/**
 * Runs the send exactly as the scheduler will (template rendered with the variables, target resolved, FCM
 * limits, Firebase project chosen) inside a savepoint that is then rolled back: a problem is the client's 4xx
 * now, and nothing is written or queued. The same code path as firing, so the two cannot disagree.
 */
async function checkSend(
  deps: ServiceDeps,
  tx: Executor,
  tenantId: string,
  send: SendBody,
  meta: SendMeta,
): Promise<void> {
  try {
    await tx.transaction(async (savepoint) => {
      await acceptSendIn(deps, savepoint, tenantId, send, meta);
      throw new DryRunDone();
    });
  } catch (error) {
    if (!(error instanceof DryRunDone)) throw error;
  }
}

export async function createSchedule(
  deps: ServiceDeps,
  tenantId: string,
  input: ScheduleInput,
  meta: { requestId?: string | undefined },
  now: Date = new Date(),
): Promise<ScheduleView> {
  const { send, fields } = splitScheduleInput(input);
  if (fields.scheduled_at === undefined && fields.recurrence !== 'cron') {
    throw invalid('scheduled_at is required (it may be left out only when recurrence is cron)', [
      { field: 'scheduled_at', message: 'required unless recurrence is cron' },
    ]);
  }
  const scheduledAt = fields.scheduled_at === undefined ? now : new Date(fields.scheduled_at);
  if (scheduledAt.getTime() < now.getTime() - CLOCK_SKEW_MS) {
    throw invalid('scheduled_at is in the past', [
      { field: 'scheduled_at', message: `must be in the future (now is ${now.toISOString()})` },
    ]);
  }
  const rule = {
    recurrence: fields.recurrence,
    cron: fields.cron ?? null,
    timezone: fields.timezone,
    scheduledAt,
    maxOccurrences: fields.max_occurrences ?? null,
    endsAt: fields.ends_at === undefined ? null : new Date(fields.ends_at),
  };
  const problems = validateRule(rule);
  if (problems.length > 0) throw invalid('the schedule is not valid', problems);
  const nextRunAt = firstOccurrence({ ...rule, occurrenceCount: 0 });
  const id = uuidv7();
  return deps.db.transaction(async (tx) => {
    await checkSend(deps, tx, tenantId, send, { requestId: meta.requestId, scheduleId: id });
    const row = await insertSchedule(tx, {
      id,
      apiClientId: tenantId,
      name: fields.name ?? null,
      request: send as Record<string, unknown>,
      ...rule,
      misfirePolicy: fields.misfire_policy,
      nextRunAt,
    });
    return toView(row);
  });
}

export async function getSchedule(deps: ServiceDeps, tenantId: string, id: string): Promise<ScheduleView> {
  const row = await findSchedule(deps.db, tenantId, id);
  if (!row) throw notFound('schedule');
  return toView(row);
}

export async function listSchedulePage(
  deps: ServiceDeps,
  tenantId: string,
  filter: ScheduleFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<ScheduleView>> {
  const page = await listSchedules(deps.db, tenantId, filter, limit, cursor);
  return pageView(page, toView);
}

export type ScheduleAction = 'pause' | 'resume' | 'cancel';

/** The states each action applies to; asking for the state a schedule is already in changes nothing. */
const ACTIONS: Record<ScheduleAction, { from: ScheduleStatus[]; to: ScheduleStatus; done: string }> = {
  pause: { from: ['active'], to: 'paused', done: 'paused' },
  resume: { from: ['paused'], to: 'active', done: 'resumed' },
  cancel: { from: ['active', 'paused'], to: 'cancelled', done: 'cancelled' },
};

/**
 * Pauses, resumes or cancels a schedule. The row is locked, so a change waits for a scheduler tick that is
 * firing the schedule and never interleaves with it. Resuming recomputes next_run_at per the misfire policy.
 */
export async function changeSchedule(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  action: ScheduleAction,
  now: Date = new Date(),
): Promise<ScheduleView> {
  const { from, to, done } = ACTIONS[action];
  return deps.db.transaction(async (tx) => {
    const row = await findSchedule(tx, tenantId, id, { lock: true });
    if (!row) throw notFound('schedule');
    if (row.status === to) return toView(row);
    if (!from.includes(row.status)) {
      throw new AppError('invalid_state', 409, `a ${row.status} schedule cannot be ${done}`, [
        { field: 'status', message: `is ${row.status}; ${action} applies to ${from.join(' or ')} schedules` },
      ]);
    }
    if (action !== 'resume') return toView(await updateSchedule(tx, row.id, { status: to }));
    const next = resumeNextRun(
      ruleOf(row),
      row.nextRunAt ?? now,
      now,
      row.misfirePolicy,
      deps.config.scheduler.misfireGraceMs,
    );
    return toView(
      await updateSchedule(tx, row.id, { status: next ? 'active' : 'completed', nextRunAt: next }),
    );
  });
}

export interface TickResult {
  /** Due schedules claimed by this tick. */
  schedules: number;
  /** Notifications created. */
  fired: number;
}

/**
 * One scheduler tick: claims the due schedules (rows other schedulers hold are skipped) and fires each in a
 * savepoint of its own, so one schedule's failure never undoes the others. A schedule that fails unexpectedly
 * (not a problem with its send) is left as it was and retried on the next tick.
 */
export async function runDueSchedules(
  deps: ServiceDeps,
  options: { batch: number; now?: Date },
): Promise<TickResult> {
  const now = options.now ?? new Date();
  return deps.db.transaction(async (tx) => {
    const due = await claimDueSchedules(tx, now, options.batch);
    let fired = 0;
    for (const row of due) {
      try {
        fired += await tx.transaction((savepoint) => fireSchedule(deps, savepoint, row, now));
      } catch (error) {
        deps.logger.error({ err: error, schedule_id: row.id }, 'schedule could not fire; retrying next tick');
      }
    }
    return { schedules: due.length, fired };
  });
}

/**
 * Fires what a due schedule owes at `now` per its misfire policy, each occurrence its own notification, and
 * moves the schedule on. An occurrence whose send is refused (its profile deleted, a template variable gone)
 * is skipped with a warning, so one bad occurrence never wedges the schedule. Returns the notifications made.
 */
async function fireSchedule(deps: ServiceDeps, tx: Executor, row: ScheduleRow, now: Date): Promise<number> {
  const log = deps.logger.child({ schedule_id: row.id });
  const rule = ruleOf(row);
  const plan = planDue(rule, row.nextRunAt ?? now, now, row.misfirePolicy, {
    graceMs: deps.config.scheduler.misfireGraceMs,
    limit: MAX_OCCURRENCES_PER_TICK,
  });
  if (plan.skipped) {
    log.warn(
      { first: plan.skipped.first, last: plan.skipped.last, misfire_policy: row.misfirePolicy },
      'missed occurrences skipped',
    );
  }
  let count = row.occurrenceCount;
  let lastRunAt = row.lastRunAt;
  let lastNotificationId = row.lastNotificationId;
  // The stored request is re-read with today's schema: it may predate a change to it.
  const parsed = storedSendSchema.safeParse(row.request);
  const send = parsed.success ? parsed.data : undefined;
  if (!send) {
    log.error(
      { issues: parsed.error?.issues },
      'stored request is no longer a valid send; occurrences skipped',
    );
  }
  for (const occurrenceAt of send ? plan.fire : []) {
    const meta = { scheduleId: row.id, occurrenceAt, requestId: `schedule:${row.id}` };
    try {
      const accepted = await tx.transaction((savepoint) =>
        acceptSendIn(deps, savepoint, row.apiClientId, send!, meta),
      );
      const { notification } = accepted;
      reportAccepted(deps, accepted);
      count += 1;
      lastRunAt = now;
      lastNotificationId = notification.id;
      log.info({ notification_id: notification.id, occurrence_at: occurrenceAt }, 'schedule fired');
    } catch (error) {
      if (error instanceof AppError && error.status < 500) {
        log.warn(
          { occurrence_at: occurrenceAt, code: error.code, reason: error.message, details: error.details },
          'occurrence skipped: its send was refused',
        );
      } else if (isOccurrenceTaken(error)) {
        log.warn({ occurrence_at: occurrenceAt }, 'occurrence already has its notification');
      } else {
        throw error;
      }
    }
  }
  const next = nextOccurrence({ ...rule, occurrenceCount: count }, plan.through);
  await updateSchedule(tx, row.id, {
    status: next ? 'active' : 'completed',
    nextRunAt: next,
    occurrenceCount: count,
    lastRunAt,
    lastNotificationId,
  });
  return count - row.occurrenceCount;
}
