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

/** Appends events in one multi-row statement. */
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
  await ex.execute(sql`insert into events (event_id, api_client_id, type, notification_id, payload, request_id)
    select event_id, api_client_id, type, notification_id, payload, request_id
    from jsonb_to_recordset(${payload}::jsonb)
      as e(event_id text, api_client_id uuid, type text, notification_id uuid, payload jsonb, request_id text)`);
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
      from events where api_client_id = ${tenantId} and id > ${afterId}::bigint order by id limit ${limit}`,
  );
  return rows.map((r) => ({
    ...r,
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
  }));
}
