/** SQL for schedules: scheduled and recurring sends, and the scheduler's claim on the ones that are due. */
import { and, asc, eq, lte, type SQL } from 'drizzle-orm';
import { type Executor, isUniqueViolation } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { type ScheduleRecurrence, type ScheduleStatus, schedules } from './schema.ts';

export type ScheduleRow = typeof schedules.$inferSelect;

export async function insertSchedule(ex: Executor, row: typeof schedules.$inferInsert): Promise<ScheduleRow> {
  const [created] = await ex.insert(schedules).values(row).returning();
  return created!;
}

/** One schedule of the tenant; `lock` holds it (FOR UPDATE) until the transaction ends. */
export async function findSchedule(
  ex: Executor,
  tenantId: string,
  id: string,
  options: { lock?: boolean } = {},
): Promise<ScheduleRow | undefined> {
  const select = ex
    .select()
    .from(schedules)
    .where(and(eq(schedules.apiClientId, tenantId), eq(schedules.id, id)));
  const [row] = options.lock ? await select.for('update') : await select;
  return row;
}

export interface ScheduleFilter {
  status?: ScheduleStatus | undefined;
  recurrence?: ScheduleRecurrence | undefined;
}

/** Oldest first (ids are UUIDv7). */
export async function listSchedules(
  ex: Executor,
  tenantId: string,
  filter: ScheduleFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<ScheduleRow>> {
  const conditions: (SQL | undefined)[] = [
    eq(schedules.apiClientId, tenantId),
    afterCursor(schedules.id, cursor, false),
  ];
  if (filter.status) conditions.push(eq(schedules.status, filter.status));
  if (filter.recurrence) conditions.push(eq(schedules.recurrence, filter.recurrence));
  const rows = await ex
    .select()
    .from(schedules)
    .where(and(...conditions))
    .orderBy(asc(schedules.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

export type ScheduleChanges = Partial<
  Pick<ScheduleRow, 'status' | 'nextRunAt' | 'occurrenceCount' | 'lastRunAt' | 'lastNotificationId'>
>;

export async function updateSchedule(
  ex: Executor,
  id: string,
  changes: ScheduleChanges,
): Promise<ScheduleRow> {
  const [row] = await ex
    .update(schedules)
    .set({ ...changes, updatedAt: new Date() })
    .where(eq(schedules.id, id))
    .returning();
  return row!;
}

/**
 * Claims the active schedules due at `now`, earliest first, locked until the transaction ends. SKIP LOCKED lets
 * several schedulers run at once: each takes rows the others are not holding, and a row another scheduler
 * advanced is re-checked against next_run_at before it is returned.
 */
export async function claimDueSchedules(ex: Executor, now: Date, limit: number): Promise<ScheduleRow[]> {
  return ex
    .select()
    .from(schedules)
    .where(and(eq(schedules.status, 'active'), lte(schedules.nextRunAt, now)))
    .orderBy(asc(schedules.nextRunAt))
    .limit(limit)
    .for('update', { skipLocked: true });
}

/** Whether an insert failed because the occurrence already has its notification (one per occurrence). */
export function isOccurrenceTaken(error: unknown): boolean {
  return isUniqueViolation(error, 'notifications_occurrence_idx');
}
