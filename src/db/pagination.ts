/**
 * Keyset (cursor) pagination shared by the list queries. Ids are UUIDv7, which sort by creation time, so the
 * id alone is a stable order and the cursor; it is wrapped so clients treat it as opaque.
 */
import { gt, lt, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { AppError } from '../lib/errors.ts';
import { UUID_PATTERN } from '../lib/ids.ts';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(id: string): string {
  return Buffer.from(`c1:${id}`, 'utf8').toString('base64url');
}

/** Decodes a cursor, or throws a 400 for one that is not ours. */
export function decodeCursor(text: string): string {
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  const id = decoded.startsWith('c1:') ? decoded.slice(3) : '';
  if (!UUID_PATTERN.test(id)) {
    throw new AppError(
      'invalid_cursor',
      400,
      'cursor is not valid: pass back the next_cursor of a previous page',
    );
  }
  return id;
}

/** The condition "after the cursor" in the list's order. */
export function afterCursor(
  idColumn: PgColumn,
  cursor: string | undefined,
  descending: boolean,
): SQL | undefined {
  if (cursor === undefined) return undefined;
  const id = decodeCursor(cursor);
  return descending ? lt(idColumn, id) : gt(idColumn, id);
}

/** Given limit+1 rows, returns the page and the cursor of its last row when there is more. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
