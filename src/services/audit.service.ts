/**
 * The audit log: who changed what. The HTTP layer records every successful state-changing call; rows are
 * buffered and written in multi-row inserts after the response, outside the request's transaction, so auditing
 * adds no round trip to a request and a failed write is logged, never turned into a failed request.
 */
import type { Logger } from 'pino';
import { type AuditFilter, type AuditRow, insertAuditRows, listAuditRows } from '../db/audit.repository.ts';
import type { Db } from '../db/client.ts';
import type { Page } from '../db/pagination.ts';

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

export interface AuditLog {
  /** Queues a row; it is written within `flushAfterMs`, or at once when the buffer is full. */
  record(entry: AuditEntry): void;
  /** Writes what is queued (also what reads do first, so a client sees its own changes). */
  flush(): Promise<void>;
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

export function createAuditLog(
  db: Db,
  logger: Logger,
  options: { maxBatch?: number; flushAfterMs?: number } = {},
): AuditLog {
  const maxBatch = options.maxBatch ?? 200;
  const flushAfterMs = options.flushAfterMs ?? 100;
  let buffer: AuditEntry[] = [];
  let timer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();

  const write = (entries: AuditEntry[]): Promise<void> => {
    const done = insertAuditRows(db, entries.map(toInsert)).catch((error: unknown) => {
      logger.error(
        {
          err: error,
          lost: entries.length,
          actions: entries.slice(0, 20).map((e) => e.action),
          request_ids: entries.slice(0, 20).map((e) => e.requestId),
        },
        'audit log write failed',
      );
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
    return done;
  };

  const drain = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (buffer.length === 0) return Promise.resolve();
    const entries = buffer;
    buffer = [];
    return write(entries);
  };

  return {
    record(entry) {
      buffer.push(entry);
      if (buffer.length >= maxBatch) void drain();
      else if (!timer) {
        timer = setTimeout(() => void drain(), flushAfterMs);
        timer.unref();
      }
    },
    async flush() {
      await drain();
      await Promise.all([...inFlight]);
    },
  };
}

/** Writes one row now: the command line's changes (no HTTP request, no buffer to flush at exit). */
export async function recordAuditNow(db: Db, entry: AuditEntry): Promise<void> {
  await insertAuditRows(db, [toInsert(entry)]);
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
  db: Db,
  filter: AuditFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<AuditView>> {
  const page = await listAuditRows(db, filter, limit, cursor);
  return { items: page.items.map(toView), nextCursor: page.nextCursor };
}
