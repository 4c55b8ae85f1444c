/** `fcm-server rotate-encryption-key`: re-encrypts stored secrets under ENCRYPTION_KEY, resumably. */
import { loadConfig } from '../config/index.ts';
import { openDatabase } from '../db/client.ts';
import { createCipher } from '../lib/crypto.ts';
import { rotateEncryptionKey as reencrypt } from '../services/key-rotation.service.ts';
import { defineCommand, UsageError } from './command.ts';

export const rotateEncryptionKey = defineCommand({
  name: 'rotate-encryption-key',
  summary: 're-encrypt stored secrets under ENCRYPTION_KEY (resumable)',
  description:
    'Re-encrypts stored secrets under ENCRYPTION_KEY, decrypting with the old key(s) in\n' +
    'ENCRYPTION_KEYS_PREVIOUS. Resumable, and safe to run while the server runs (PostgreSQL).',
  options: {
    'batch-size': { type: 'string', value: 'N', description: 'rows per transaction', default: '500' },
  },
  async run({ values }) {
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new UsageError('--batch-size must be a whole number from 1 to 10000');
    const config = loadConfig();
    if (!config.encryptionKey) {
      throw new UsageError(
        'rotate-encryption-key needs the new key in ENCRYPTION_KEY and the old one(s) in ENCRYPTION_KEYS_PREVIOUS',
      );
    }
    const cipher = createCipher(config.encryptionKey, config.previousEncryptionKeys);
    console.log(
      `Re-encrypting under key ${cipher.keyId}` +
        (cipher.previousKeyIds.length ? ` (decrypting ${cipher.previousKeyIds.join(', ')})` : ''),
    );
    const database = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir });
    try {
      const reports = await reencrypt(
        { db: database.db, cipher },
        {
          batchSize,
          onProgress: (p) => console.log(`  ${p.table}.${p.column}: ${p.done}/${p.total}`),
        },
      );
      for (const r of reports) {
        console.log(
          `${r.table}.${r.column}: ${r.reencrypted} re-encrypted` +
            (r.duplicates ? `, ${r.duplicates} duplicate device(s) kept their old index` : ''),
        );
      }
      console.log(
        `Done: every value is under key ${cipher.keyId}. ` +
          'Keep the old key in ENCRYPTION_KEYS_PREVIOUS until every process runs with this configuration; ' +
          'then it can be removed.',
      );
    } finally {
      await database.close();
    }
  },
});
