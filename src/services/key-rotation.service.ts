/**
 * Encryption key rotation: re-encrypts every stored secret under the current ENCRYPTION_KEY (and re-computes
 * device blind indexes under it), in bounded batches of one transaction each. Idempotent and resumable: values
 * already under the current key are skipped, so an interrupted run is simply run again.
 */
import type { Db } from '../db/client.ts';
import {
  countStale,
  ENCRYPTED_COLUMNS,
  type EncryptedColumn,
  listStale,
  rewriteCiphertexts,
  rewriteDeviceTokens,
  type StaleValue,
} from '../db/key-rotation.repository.ts';
import { type Cipher, ciphertextPrefix } from '../lib/crypto.ts';
import type { ServiceDeps } from './deps.ts';

const BEFORE_EVERY_UUID = '00000000-0000-0000-0000-000000000000';

export interface RotationProgress {
  table: string;
  column: string;
  /** Values re-encrypted so far in this column. */
  done: number;
  /** Values that were not under the current key when this column started. */
  total: number;
}

export interface ColumnReport {
  table: string;
  column: string;
  reencrypted: number;
  /** Devices left on their old blind index because another device of the tenant holds the new one. */
  duplicates: number;
}

export interface RotationOptions {
  /** Rows per transaction. */
  batchSize?: number;
  onProgress?: (progress: RotationProgress) => void;
}

/** Re-encrypts one value, naming the row when it is under a key this process does not have. */
function reencrypt(
  cipher: Cipher,
  column: EncryptedColumn,
  row: StaleValue,
): { plain: string; ciphertext: string } {
  let plain: string;
  try {
    plain = cipher.decrypt(row.ciphertext);
  } catch (error) {
    throw new Error(`${column.table}.${column.column} of row ${row.id}: ${(error as Error).message}`);
  }
  return { plain, ciphertext: cipher.encrypt(plain) };
}

async function rotateColumn(
  db: Db,
  cipher: Cipher,
  column: EncryptedColumn,
  batchSize: number,
  onProgress: (progress: RotationProgress) => void,
): Promise<ColumnReport> {
  const currentPrefix = ciphertextPrefix(cipher.keyId);
  const total = await countStale(db, column, currentPrefix);
  const report: ColumnReport = { table: column.table, column: column.column, reencrypted: 0, duplicates: 0 };
  let after = BEFORE_EVERY_UUID;
  for (;;) {
    const page = await listStale(db, column, currentPrefix, after, batchSize);
    if (page.length === 0) break;
    after = page[page.length - 1]!.id;
    if (column.table === 'devices') {
      const seen = new Set<string>();
      const rows = page.map((row) => {
        const { plain, ciphertext } = reencrypt(cipher, column, row);
        const tokenHash = cipher.blindIndex(plain);
        const key = `${row.api_client_id}:${tokenHash}`;
        const duplicate = seen.has(key);
        seen.add(key);
        return { id: row.id, old: row.ciphertext, ciphertext, token_hash: duplicate ? null : tokenHash };
      });
      const { written, duplicates } = await db.transaction((tx) => rewriteDeviceTokens(tx, rows));
      report.reencrypted += written;
      report.duplicates += duplicates;
    } else {
      const rows = page.map((row) => ({
        id: row.id,
        old: row.ciphertext,
        ciphertext: reencrypt(cipher, column, row).ciphertext,
      }));
      report.reencrypted += await db.transaction((tx) => rewriteCiphertexts(tx, column, rows));
    }
    onProgress({ table: column.table, column: column.column, done: report.reencrypted, total });
  }
  return report;
}

/** Re-encrypts every column of ENCRYPTED_COLUMNS; returns what was done per column. */
export async function rotateEncryptionKey(
  deps: Pick<ServiceDeps, 'db' | 'cipher'>,
  options: RotationOptions = {},
): Promise<ColumnReport[]> {
  const reports: ColumnReport[] = [];
  for (const column of ENCRYPTED_COLUMNS) {
    reports.push(
      await rotateColumn(
        deps.db,
        deps.cipher,
        column,
        options.batchSize ?? 500,
        options.onProgress ?? (() => {}),
      ),
    );
  }
  return reports;
}
