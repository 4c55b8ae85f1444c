/**
 * SQL for webhooks: the tenant's endpoints, the attempt log, and the dispatcher's claim on the event outbox.
 * Every statement on tenant rows is scoped to the tenant.
 */
import { and, asc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { webhookEndpoints } from './schema.ts';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;

const ofTenant = (tenantId: string) => eq(webhookEndpoints.apiClientId, tenantId);

export async function insertEndpoint(
  ex: Executor,
  row: Pick<EndpointRow, 'id' | 'apiClientId' | 'url' | 'description' | 'eventTypes' | 'secretCiphertext'>,
): Promise<EndpointRow> {
  const [created] = await ex.insert(webhookEndpoints).values(row).returning();
  return created!;
}

export async function findEndpoint(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  const [row] = await ex
    .select()
    .from(webhookEndpoints)
    .where(and(ofTenant(tenantId), eq(webhookEndpoints.id, id)));
  return row;
}

export async function listEndpoints(
  ex: Executor,
  tenantId: string,
  filter: { active?: boolean | undefined },
  limit: number,
  cursor: string | undefined,
): Promise<Page<EndpointRow>> {
  const conditions: (SQL | undefined)[] = [
    ofTenant(tenantId),
    afterCursor(webhookEndpoints.id, cursor, false),
  ];
  if (filter.active !== undefined) conditions.push(eq(webhookEndpoints.isActive, filter.active));
  const rows = await ex
    .select()
    .from(webhookEndpoints)
    .where(and(...conditions))
    .orderBy(asc(webhookEndpoints.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

/** The columns a client may change; undefined ones are kept. */
export type EndpointChanges = Partial<Pick<EndpointRow, 'url' | 'description' | 'eventTypes' | 'isActive'>>;

/**
 * Changes the given columns. Switching an endpoint on clears why it was off and, when it was off, its failure
 * count; switching it off records that the client did it.
 */
export async function updateEndpoint(
  ex: Executor,
  tenantId: string,
  id: string,
  changes: EndpointChanges,
): Promise<EndpointRow | undefined> {
  const w = webhookEndpoints;
  const set: Record<string, unknown> = { updatedAt: new Date() };
  if (changes.url !== undefined) set.url = changes.url;
  if (changes.description !== undefined) set.description = changes.description;
  if (changes.eventTypes !== undefined) set.eventTypes = changes.eventTypes;
  if (changes.isActive === true) {
    Object.assign(set, {
      isActive: true,
      consecutiveFailures: sql`case when ${w.isActive} then ${w.consecutiveFailures} else 0 end`,
      disabledReason: null,
      disabledAt: null,
    });
  }
  if (changes.isActive === false) {
    Object.assign(set, {
      isActive: false,
      disabledReason: sql`case when ${w.isActive} then 'disabled_by_client' else ${w.disabledReason} end`,
      disabledAt: sql`case when ${w.isActive} then now() else ${w.disabledAt} end`,
    });
  }
  const [row] = await ex
    .update(w)
    .set(set)
    .where(and(ofTenant(tenantId), eq(w.id, id)))
    .returning();
  return row;
}

/** Puts a new secret in place; the current one keeps signing until `previousExpiresAt` (null: dropped now). */
export async function rotateEndpointSecret(
  ex: Executor,
  tenantId: string,
  id: string,
  secretCiphertext: string,
  previousExpiresAt: Date | null,
): Promise<EndpointRow | undefined> {
  const w = webhookEndpoints;
  const [row] = await ex
    .update(w)
    .set({
      secretCiphertext,
      previousSecretCiphertext: previousExpiresAt ? sql`${w.secretCiphertext}` : null,
      previousSecretExpiresAt: previousExpiresAt,
      updatedAt: new Date(),
    })
    .where(and(ofTenant(tenantId), eq(w.id, id)))
    .returning();
  return row;
}

export async function deleteEndpoint(ex: Executor, tenantId: string, id: string): Promise<boolean> {
  const rows = await ex
    .delete(webhookEndpoints)
    .where(and(ofTenant(tenantId), eq(webhookEndpoints.id, id)))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

/** An event the dispatcher has taken from the outbox. */
export interface ClaimedEvent {
  id: string;
  event_id: string;
  api_client_id: string;
  type: string;
}

/**
 * Marks up to `limit` undispatched events as dispatched and returns them, oldest first. Rows another
 * dispatcher holds are skipped, so any number of workers can run this at once; the caller's transaction
 * makes the mark and the jobs it enqueues commit together.
 */
export async function claimUndispatchedEvents(ex: Executor, limit: number): Promise<ClaimedEvent[]> {
  const rows = await query<ClaimedEvent>(
    ex,
    sql`update events set dispatched_at = now()
      where id in (select id from events where dispatched_at is null order by id limit ${limit} for update skip locked)
      returning id::text as id, event_id, api_client_id::text as api_client_id, type`,
  );
  return rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

/** The active endpoints of these tenants with what they subscribe to. */
export async function activeEndpointsOf(
  ex: Executor,
  tenantIds: string[],
): Promise<{ id: string; apiClientId: string; eventTypes: string[] }[]> {
  if (tenantIds.length === 0) return [];
  return ex
    .select({
      id: webhookEndpoints.id,
      apiClientId: webhookEndpoints.apiClientId,
      eventTypes: webhookEndpoints.eventTypes,
    })
    .from(webhookEndpoints)
    .where(and(inArray(webhookEndpoints.apiClientId, tenantIds), eq(webhookEndpoints.isActive, true)));
}

/** Writes an event that the dispatcher must not fan out (a test event goes to one endpoint only). */
export async function insertDispatchedEvent(
  ex: Executor,
  event: { eventId: string; tenantId: string; type: string; payload: Record<string, unknown> },
): Promise<void> {
  await ex.execute(sql`insert into events (event_id, api_client_id, type, payload, dispatched_at)
    values (${event.eventId}, ${event.tenantId}, ${event.type}, ${JSON.stringify(event.payload)}::jsonb, now())`);
}

export interface EventForDelivery {
  event_id: string;
  type: string;
  payload: Record<string, unknown>;
  created_at: Date;
  /** The request that caused the event, so one id finds the whole story in the logs. */
  request_id: string | null;
}

export async function findEventForDelivery(
  ex: Executor,
  tenantId: string,
  eventId: string,
): Promise<EventForDelivery | undefined> {
  const [row] = await query<Omit<EventForDelivery, 'payload'> & { payload: unknown }>(
    ex,
    sql`select event_id, type, payload, created_at, request_id from events
      where event_id = ${eventId} and api_client_id = ${tenantId}`,
  );
  if (!row) return undefined;
  const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
  return { ...row, payload: payload as Record<string, unknown>, created_at: new Date(row.created_at) };
}

/** failed: another attempt follows; exhausted: none follows. */
export const ATTEMPT_STATUSES = ['succeeded', 'failed', 'exhausted'] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

export interface AttemptInsert {
  endpointId: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  status: AttemptStatus;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
  nextAttemptAt: Date | null;
}

export async function insertAttempt(ex: Executor, row: AttemptInsert): Promise<void> {
  await ex.execute(sql`insert into webhook_deliveries
      (endpoint_id, api_client_id, event_id, event_type, attempt, status, response_status, error, duration_ms,
       next_attempt_at)
    values (${row.endpointId}, ${row.tenantId}, ${row.eventId}, ${row.eventType}, ${row.attempt}, ${row.status},
      ${row.responseStatus}, ${row.error}, ${row.durationMs}, ${row.nextAttemptAt?.toISOString() ?? null})`);
}

/** Whether this attempt is already logged (a job run again after its worker died). */
export async function attemptLogged(
  ex: Executor,
  endpointId: string,
  eventId: string,
  attempt: number,
): Promise<boolean> {
  const rows = await query<{ one: number }>(
    ex,
    sql`select 1 as one from webhook_deliveries
      where endpoint_id = ${endpointId} and event_id = ${eventId} and attempt = ${attempt} limit 1`,
  );
  return rows.length > 0;
}

export interface AttemptRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  status: AttemptStatus;
  response_status: number | null;
  error: string | null;
  duration_ms: number | null;
  next_attempt_at: Date | null;
  created_at: Date;
}

/**
 * Attempts newest first, of one endpoint or of the events of one notification (or both); the cursor is the last
 * id of the previous page.
 */
export async function listAttempts(
  ex: Executor,
  tenantId: string,
  filter: { endpointId?: string; notificationId?: string; status?: AttemptStatus | undefined },
  limit: number,
  cursor: string | undefined,
): Promise<{ items: AttemptRow[]; nextCursor: string | null }> {
  const rows = await query<AttemptRow>(
    ex,
    sql`select id::text as id, endpoint_id, event_id, event_type, attempt, status, response_status, error,
        duration_ms, next_attempt_at, created_at
      from webhook_deliveries
      where api_client_id = ${tenantId}
        ${filter.endpointId ? sql`and endpoint_id = ${filter.endpointId}` : sql``}
        ${
          filter.notificationId
            ? sql`and event_id in (select event_id from events
                where notification_id = ${filter.notificationId} and api_client_id = ${tenantId})`
            : sql``
        }
        ${filter.status ? sql`and status = ${filter.status}` : sql``}
        ${cursor ? sql`and id < ${cursor}::bigint` : sql``}
      order by id desc limit ${limit + 1}`,
  );
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
}

/** A delivered attempt: the failure streak ends. */
export async function recordEndpointSuccess(ex: Executor, tenantId: string, id: string): Promise<void> {
  await ex
    .update(webhookEndpoints)
    .set({ consecutiveFailures: 0, lastSuccessAt: new Date() })
    .where(and(ofTenant(tenantId), eq(webhookEndpoints.id, id)));
}

/**
 * A failed attempt: one more in the streak; the endpoint is switched off when the streak reaches
 * `disableAfter`. `disabledNow` is true only for the attempt that switched it off; `active` is false also when
 * the client switched it off meanwhile.
 */
export async function recordEndpointFailure(
  ex: Executor,
  tenantId: string,
  id: string,
  disableAfter: number,
  reason: string,
): Promise<{ consecutiveFailures: number; active: boolean; disabledNow: boolean; url: string } | undefined> {
  const [row] = await query<{
    consecutive_failures: number;
    is_active: boolean;
    disabled_now: boolean;
    url: string;
  }>(
    ex,
    sql`with before as (
        select id, is_active from webhook_endpoints where id = ${id} and api_client_id = ${tenantId} for update
      )
      update webhook_endpoints w set
        consecutive_failures = w.consecutive_failures + 1,
        last_failure_at = now(),
        is_active = w.is_active and w.consecutive_failures + 1 < ${disableAfter},
        disabled_reason = case when w.is_active and w.consecutive_failures + 1 >= ${disableAfter}
          then ${reason} else w.disabled_reason end,
        disabled_at = case when w.is_active and w.consecutive_failures + 1 >= ${disableAfter}
          then now() else w.disabled_at end,
        updated_at = now()
      from before where w.id = before.id
      returning w.consecutive_failures, w.is_active, before.is_active and not w.is_active as disabled_now, w.url`,
  );
  return row
    ? {
        consecutiveFailures: row.consecutive_failures,
        active: row.is_active,
        disabledNow: row.disabled_now,
        url: row.url,
      }
    : undefined;
}
