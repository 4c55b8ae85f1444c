/**
 * The audit log: who changed what. The HTTP layer records every successful state-changing call just before the
 * response goes out, outside the request's transaction (the change is committed by then); a failed write is
 * logged, never turned into a failed request.
 */
import {
  type AuditFilter,
  type AuditRow,
  insertAuditRow,
  insertAuditRows,
  listAuditRows,
} from '../db/audit.repository.ts';
import type { ServiceDeps } from './deps.ts';
import { type PageView, pageView } from './views.ts';

export interface AuditEntry {
  /** The tenant whose data changed (for the admin API: the client acted on). */
  tenantId: string | null;
  /** The client that made the call; null for the command line. */
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  requestId: string | null;
  /** Small and never secret: field names, status code, counts. */
  details: Record<string, unknown>;
}

const toInsert = (entry: AuditEntry) => ({
  apiClientId: entry.tenantId,
  actorClientId: entry.actorId,
  action: entry.action,
  targetType: entry.targetType,
  targetId: entry.targetId,
  ip: entry.ip,
  requestId: entry.requestId,
  details: entry.details,
});

/** Writes one audit row, in its own statement (never inside the transaction of the change it records). */
export async function recordAudit(deps: Pick<ServiceDeps, 'db'>, entry: AuditEntry): Promise<void> {
  await insertAuditRow(deps.db, toInsert(entry));
}

/** Writes several audit rows in one statement: the HTTP layer batches the rows of concurrent requests. */
export async function recordAudits(deps: Pick<ServiceDeps, 'db'>, entries: AuditEntry[]): Promise<void> {
  await insertAuditRows(deps.db, entries.map(toInsert));
}

export interface AuditView {
  id: string;
  client_id: string | null;
  actor_client_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  created_at: string;
}

function toView(row: AuditRow): AuditView {
  return {
    id: row.id.toString(),
    client_id: row.apiClientId,
    actor_client_id: row.actorClientId,
    action: row.action,
    target_type: row.targetType,
    target_id: row.targetId,
    ip: row.ip,
    request_id: row.requestId,
    details: row.details,
    created_at: row.createdAt.toISOString(),
  };
}

/** A page of the audit log, newest first. A tenant's own log passes its id as `tenantId`. */
export async function listAuditPage(
  deps: ServiceDeps,
  filter: AuditFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<AuditView>> {
  const page = await listAuditRows(deps.db, filter, limit, cursor);
  return pageView(page, toView);
}
