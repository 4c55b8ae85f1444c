/** SQL for the event outbox: events are written in the transaction of the change that caused them. */
import { sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';

export interface EventInsert {
  eventId: string;
  tenantId: string;
  type: string;
  notificationId: string | null;
  payload: Record<string, unknown>;
  requestId: string | null;
}

export interface EventRow {
  id: string;
  event_id: string;
  api_client_id: string;
  type: string;
  notification_id: string | null;
  payload: Record<string, unknown>;
  request_id: string | null;
  created_at: Date;
}

/**
 * The PostgreSQL channel on which every event-writing transaction announces its rows. PostgreSQL delivers a
 * NOTIFY only when (and if) its transaction commits, in commit order, to every session that LISTENs, in any
 * process: the live event stream of every API process hears each committed event exactly once.
 */
export const EVENTS_CHANNEL = 'fcms_events';

/** Ids per announcement: 200 ids of up to 19 digits stay well under PostgreSQL's 8,000-byte payload limit. */
const IDS_PER_NOTICE = 200;

/** What one announcement on EVENTS_CHANNEL says: these outbox rows of this tenant committed. */
export interface EventNotice {
  tenantId: string;
  /** Outbox ids (`events.id`, as text). */
  ids: string[];
}

/** Reads an announcement (`<tenant uuid>:<id>,<id>,…`); undefined for anything else. */
export function parseEventNotice(payload: string): EventNotice | undefined {
  const match = /^([0-9a-f-]{36}):(\d+(?:,\d+)*)$/.exec(payload);
  return match ? { tenantId: match[1]!, ids: match[2]!.split(',') } : undefined;
}

/** Appends events in one multi-row statement and announces them on EVENTS_CHANNEL (heard at commit). */
export async function insertEvents(ex: Executor, rows: EventInsert[]): Promise<void> {
  if (rows.length === 0) return;
  const payload = JSON.stringify(
    rows.map((r) => ({
      event_id: r.eventId,
      api_client_id: r.tenantId,
      type: r.type,
      notification_id: r.notificationId,
      payload: r.payload,
      request_id: r.requestId,
    })),
  );
  await ex.execute(sql`with inserted as (
      insert into events (event_id, api_client_id, type, notification_id, payload, request_id)
      select event_id, api_client_id, type, notification_id, payload, request_id
      from jsonb_to_recordset(${payload}::jsonb)
        as e(event_id text, api_client_id uuid, type text, notification_id uuid, payload jsonb, request_id text)
      returning id, api_client_id
    ), numbered as (
      select id, api_client_id,
        (row_number() over (partition by api_client_id order by id) - 1) / ${IDS_PER_NOTICE} as chunk
      from inserted
    )
    select pg_notify(${EVENTS_CHANNEL}, api_client_id::text || ':' || string_agg(id::text, ',' order by id))
    from numbered group by api_client_id, chunk`);
}

/** Events of a tenant after an outbox id, oldest first (for catching up and for tests). */
export async function listEventsAfter(
  ex: Executor,
  tenantId: string,
  afterId: string,
  limit: number,
): Promise<EventRow[]> {
  const rows = await query<EventRow & { payload: unknown }>(
    ex,
    sql`select id::text as id, event_id, api_client_id, type, notification_id, payload, request_id, created_at
      from events where api_client_id = ${tenantId} and id > ${afterId}::bigint order by events.id limit ${limit}`,
  );
  return rows.map((r) => ({
    ...r,
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
  }));
}

const EVENT_COLUMNS = sql`id::text as id, event_id, api_client_id, type, notification_id, payload, request_id,
  created_at`;

function parsed(row: EventRow & { payload: unknown }): EventRow {
  return {
    ...row,
    payload: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<
      string,
      unknown
    >,
  };
}

/** What a stream subscriber wants: some event types (all when absent), one notification's events only. */
export interface EventFilter {
  types?: readonly string[] | undefined;
  notificationId?: string | undefined;
}

/** A tenant's events after an outbox id that match a filter, oldest first: the replay of a resumed stream. */
export async function listFilteredEventsAfter(
  ex: Executor,
  tenantId: string,
  afterId: string,
  filter: EventFilter,
  limit: number,
): Promise<EventRow[]> {
  const types = filter.types
    ? sql`and type in (select jsonb_array_elements_text(${JSON.stringify(filter.types)}::jsonb))`
    : sql``;
  const notification = filter.notificationId
    ? sql`and notification_id = ${filter.notificationId}::uuid`
    : sql``;
  const rows = await query<EventRow & { payload: unknown }>(
    ex,
    sql`select ${EVENT_COLUMNS} from events
      where api_client_id = ${tenantId} and id > ${afterId}::bigint ${types} ${notification}
      order by events.id limit ${limit}`,
  );
  return rows.map(parsed);
}

/** Events by outbox id, restricted to the given tenants (the rows an announcement named). */
export async function listEventsByIds(ex: Executor, tenantIds: string[], ids: string[]): Promise<EventRow[]> {
  if (tenantIds.length === 0 || ids.length === 0) return [];
  const rows = await query<EventRow & { payload: unknown }>(
    ex,
    sql`select ${EVENT_COLUMNS} from events
      where api_client_id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(tenantIds)}::jsonb))
        and id in (select value::bigint from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`,
  );
  return rows.map(parsed);
}

/** The outbox id of a tenant's event, by its public id (`evt_…`); undefined when the tenant has no such event. */
export async function findEventSequence(
  ex: Executor,
  tenantId: string,
  eventId: string,
): Promise<string | undefined> {
  const rows = await query<{ id: string }>(
    ex,
    sql`select id::text as id from events where api_client_id = ${tenantId} and event_id = ${eventId}`,
  );
  return rows[0]?.id;
}
