/**
 * SQL for frequency caps: the tenant's caps (CRUD), the caps that apply to one notification, and the fragment of
 * the fan-out insert that decides, set-based, which devices of a page a cap withholds the notification from.
 */
import { and, asc, eq, type SQL, sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { type FrequencyCapScope, frequencyCaps } from './schema.ts';

export type FrequencyCapRow = typeof frequencyCaps.$inferSelect;

const ofTenant = (tenantId: string, id: string) =>
  and(eq(frequencyCaps.apiClientId, tenantId), eq(frequencyCaps.id, id));

export async function insertFrequencyCap(
  ex: Executor,
  row: typeof frequencyCaps.$inferInsert,
): Promise<FrequencyCapRow> {
  const [created] = await ex.insert(frequencyCaps).values(row).returning();
  return created!;
}

export async function findFrequencyCap(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<FrequencyCapRow | undefined> {
  const [row] = await ex.select().from(frequencyCaps).where(ofTenant(tenantId, id));
  return row;
}

export async function listFrequencyCaps(
  ex: Executor,
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<Page<FrequencyCapRow>> {
  const rows = await ex
    .select()
    .from(frequencyCaps)
    .where(and(eq(frequencyCaps.apiClientId, tenantId), afterCursor(frequencyCaps.id, cursor, false)))
    .orderBy(asc(frequencyCaps.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

export async function updateFrequencyCap(
  ex: Executor,
  tenantId: string,
  id: string,
  values: Partial<typeof frequencyCaps.$inferInsert>,
): Promise<FrequencyCapRow | undefined> {
  const [row] = await ex
    .update(frequencyCaps)
    .set({ ...values, updatedAt: new Date() })
    .where(ofTenant(tenantId, id))
    .returning();
  return row;
}

export async function deleteFrequencyCap(ex: Executor, tenantId: string, id: string): Promise<boolean> {
  const rows = await ex
    .delete(frequencyCaps)
    .where(ofTenant(tenantId, id))
    .returning({ id: frequencyCaps.id });
  return rows.length > 0;
}

/** A cap as the fan-out applies it: topic and template resolved to the notification's own ids. */
export interface AppliedCap {
  max: number;
  perSeconds: number;
  scope: FrequencyCapScope;
  /** Count only notifications to this topic / with this template (the notification's own), when set. */
  topicId: string | null;
  templateId: string | null;
}

/**
 * The tenant's caps that apply to a notification: the unscoped ones, those naming its topic, and those naming
 * its template (a cap naming both needs both). One indexed read per fan-out; none apply to most tenants.
 */
export async function capsForNotification(
  ex: Executor,
  tenantId: string,
  notification: { topicId: string | null; templateId: string | null },
): Promise<AppliedCap[]> {
  const rows = await query<{
    max: number;
    per_seconds: number;
    scope: FrequencyCapScope;
    topic_id: string | null;
    template_id: string | null;
  }>(
    ex,
    sql`select c.max, c.per_seconds, c.scope, t.id as topic_id, tp.id as template_id
      from frequency_caps c
      left join topics t on c.topic is not null and t.api_client_id = c.api_client_id and t.name = c.topic
      left join templates tp on c.template is not null and tp.api_client_id = c.api_client_id
        and tp.name = c.template
      where c.api_client_id = ${tenantId}
        and (c.topic is null or t.id = ${notification.topicId}::uuid)
        and (c.template is null or tp.id = ${notification.templateId}::uuid)`,
  );
  return rows.map((r) => ({
    max: r.max,
    perSeconds: r.per_seconds,
    scope: r.scope,
    topicId: r.topic_id,
    templateId: r.template_id,
  }));
}

/**
 * Serializes the capped fan-out pages of one tenant (until the transaction ends), so two sends fanned out at
 * once to the same profile cannot both count the window before the other's deliveries exist. Only taken when
 * caps apply; a send without caps never waits for it.
 */
export async function lockTenantCaps(ex: Executor, tenantId: string): Promise<void> {
  await query(ex, sql`select pg_advisory_xact_lock(hashtext('frequency_caps:' || ${tenantId}))::text`);
  // The capped insert's cost estimate (a lookup per device) passes the JIT thresholds, and compiling it costs
  // more than running it: measured ~1 s of JIT per 5,000-device page on PostgreSQL 15.
  await query(ex, sql`select set_config('jit', 'off', true)`);
}

/**
 * The fan-out's frequency-cap CTE, `capped(id)`: the devices of the page (`page`, with id and profile_id) for
 * which some cap has already been reached. A cap counts the distinct notifications the profile (every active
 * device of it; a device without a profile counts alone) or the device received in the rolling window ending
 * at `now` (the injected clock): deliveries sent, delivered or read, and those still on their way (pending,
 * waiting, retrying), which an earlier send has admitted but not sent yet; failed, skipped, expired and
 * cancelled ones do not count, nor do transactional sends (bypass_frequency_cap). A delivery's time is when the
 * fan-out made it (created_at, from the same injected clock), a few seconds before it is sent. The notification
 * being fanned out does not count against itself: its earlier pages reach the profile's other devices.
 */
export function cappedDevices(caps: AppliedCap[], tenantId: string, notificationId: string, now: Date): SQL {
  const payload = JSON.stringify(
    caps.map((c, i) => ({
      no: i,
      max: c.max,
      secs: c.perSeconds,
      scope: c.scope,
      topic_id: c.topicId,
      template_id: c.templateId,
    })),
  );
  const since = sql`${now.toISOString()}::timestamptz - make_interval(secs => c.secs)`;
  // The distinct notifications each counter (a profile of the page, or a device of the page) received under
  // each cap. A profile is counted once however many of its devices the page holds: counting it per device
  // would read a 20,000-device profile's deliveries 20,000 times a page.
  const received = (counter: SQL, reached: SQL, where: SQL) => sql`
      select c.no, ${counter} as counter, count(distinct dl.notification_id) as n
      from caps c ${reached}
      -- offset 0 keeps this a per-device index lookup (deliveries_device_idx): the planner must not turn it
      -- around into a scan of every notification of the tenant in the window for each device.
      cross join lateral (
        select dl.notification_id from deliveries dl
        where dl.device_id = r.device_id and dl.api_client_id = ${tenantId}
          and dl.notification_id <> ${notificationId}
          and dl.status in ('pending', 'waiting', 'retrying', 'sent', 'delivered', 'read')
          and dl.created_at > ${since}
        offset 0
      ) dl
      join notifications n on n.id = dl.notification_id
      where ${where} and not n.bypass_frequency_cap
        and (c.topic_id is null or n.topic_id = c.topic_id)
        and (c.template_id is null or n.template_id = c.template_id)
      group by c.no, ${counter}`;
  return sql`caps as (
      select * from jsonb_to_recordset(${payload}::jsonb)
        as c(no int, max int, secs int, scope text, topic_id uuid, template_id uuid)
    ), by_profile as materialized (${received(
      sql`r.profile_id`,
      sql`cross join (
          select o.profile_id, o.id as device_id from devices o
          where o.api_client_id = ${tenantId} and o.is_active
            and o.profile_id in (select profile_id from page where profile_id is not null)
        ) r`,
      sql`c.scope = 'profile'`,
    )}), by_device as materialized (${received(
      sql`r.device_id`,
      sql`join (select p.id as device_id, p.profile_id from page p) r
          on c.scope = 'device' or r.profile_id is null`,
      sql`true`,
    )}), capped as materialized (
      select p.id from page p where exists (
        select 1 from caps c
        where (c.scope = 'profile' and p.profile_id is not null and exists (
            select 1 from by_profile b where b.no = c.no and b.counter = p.profile_id and b.n >= c.max))
          or ((c.scope = 'device' or p.profile_id is null) and exists (
            select 1 from by_device b where b.no = c.no and b.counter = p.id and b.n >= c.max))))`;
}
