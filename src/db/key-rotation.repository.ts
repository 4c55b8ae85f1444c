/**
 * SQL for re-encrypting secrets under the current key (`fcm-server rotate-encryption-key`). A maintenance
 * operation over every tenant, so these statements alone do not filter by api_client_id. Rows are read in
 * keyset pages and written back only if unchanged since they were read (a concurrent write already used the
 * current key).
 */
import { sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';

/** Every column holding a value from Cipher.encrypt. */
export const ENCRYPTED_COLUMNS = [
  { table: 'devices', column: 'token_ciphertext' },
  { table: 'firebase_projects', column: 'credentials_ciphertext' },
  { table: 'webhook_endpoints', column: 'secret_ciphertext' },
  { table: 'webhook_endpoints', column: 'previous_secret_ciphertext' },
] as const;

export type EncryptedColumn = (typeof ENCRYPTED_COLUMNS)[number];

export interface StaleValue {
  id: string;
  ciphertext: string;
  api_client_id: string;
}

const notUnder = (column: EncryptedColumn, currentPrefix: string) =>
  sql`${sql.identifier(column.column)} is not null and ${sql.identifier(column.column)} not like ${`${currentPrefix}%`}`;

/** How many values of a column are not yet under the current key. */
export async function countStale(
  ex: Executor,
  column: EncryptedColumn,
  currentPrefix: string,
): Promise<number> {
  const [row] = await query<{ n: number | string }>(
    ex,
    sql`select count(*) as n from ${sql.identifier(column.table)} where ${notUnder(column, currentPrefix)}`,
  );
  return Number(row?.n ?? 0);
}

/** The next page of values not under the current key, after `afterId` in id order. */
export async function listStale(
  ex: Executor,
  column: EncryptedColumn,
  currentPrefix: string,
  afterId: string,
  limit: number,
): Promise<StaleValue[]> {
  return query<StaleValue>(
    ex,
    sql`select id::text as id, api_client_id::text as api_client_id,
        ${sql.identifier(column.column)} as ciphertext
      from ${sql.identifier(column.table)}
      where id > ${afterId}::uuid and ${notUnder(column, currentPrefix)}
      order by id limit ${limit}`,
  );
}

/** Writes re-encrypted values in one statement; returns how many rows were still unchanged and got written. */
export async function rewriteCiphertexts(
  ex: Executor,
  column: EncryptedColumn,
  rows: { id: string; old: string; ciphertext: string }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const col = sql.identifier(column.column);
  const updated = await query<{ id: string }>(
    ex,
    sql`update ${sql.identifier(column.table)} t set ${col} = r.ciphertext
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(id uuid, old text, ciphertext text)
      where t.id = r.id and t.${col} = r.old
      returning t.id`,
  );
  return updated.length;
}

/**
 * Re-encrypted device tokens, with their blind index under the current key. A device whose new index another
 * device of the tenant already holds (a duplicate registered by a process that did not know this key) keeps
 * its old index rather than breaking the unique index; it is counted as `duplicates`. A null token_hash
 * means the same (the caller saw the duplicate within its own batch).
 */
export async function rewriteDeviceTokens(
  ex: Executor,
  rows: { id: string; old: string; ciphertext: string; token_hash: string | null }[],
): Promise<{ written: number; duplicates: number }> {
  if (rows.length === 0) return { written: 0, duplicates: 0 };
  const updated = await query<{ reindexed: boolean }>(
    ex,
    sql`update devices d set token_ciphertext = r.ciphertext,
        token_hash = case when r.token_hash is null or exists (
          select 1 from devices o
          where o.api_client_id = d.api_client_id and o.token_hash = r.token_hash and o.id <> d.id
        ) then d.token_hash else r.token_hash end
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as r(id uuid, old text, ciphertext text, token_hash text)
      where d.id = r.id and d.token_ciphertext = r.old
      returning coalesce(d.token_hash = r.token_hash, false) as reindexed`,
  );
  return { written: updated.length, duplicates: updated.filter((r) => !r.reindexed).length };
}
