/** SQL for send_throttles: a Firebase project FCM told to slow down (429), shared by every worker process. */
import { sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';

/** The time before which nothing may be sent to the project, when that is still in the future. */
export async function findThrottle(ex: Executor, projectKey: string): Promise<Date | undefined> {
  const [row] = await query<{ not_before: Date | string }>(
    ex,
    sql`select not_before from send_throttles where project_key = ${projectKey} and not_before > now()`,
  );
  return row ? new Date(row.not_before) : undefined;
}

/** Pauses the project until `notBefore`, never shortening a pause already set (the later time wins). */
export async function raiseThrottle(ex: Executor, projectKey: string, notBefore: Date): Promise<void> {
  await ex.execute(sql`insert into send_throttles (project_key, not_before, updated_at)
    values (${projectKey}, ${notBefore.toISOString()}, now())
    on conflict (project_key) do update
      set not_before = greatest(send_throttles.not_before, excluded.not_before), updated_at = now()`);
}
