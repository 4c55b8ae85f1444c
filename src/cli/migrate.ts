/** `fcm-server migrate`: applies the database migrations and exits (the servers also apply them at start-up). */
import { loadConfig } from '../config/index.ts';
import { migratePostgres, openDatabase } from '../db/client.ts';
import { createProcessLogger } from '../logger.ts';
import { defineCommand } from './command.ts';

export const migrate = defineCommand({
  name: 'migrate',
  summary: 'apply database migrations and exit',
  description:
    'Applies the database migrations to DATABASE_URL (PostgreSQL), or to the embedded database in DATA_DIR,\n' +
    'and exits.',
  options: {},
  async run() {
    const config = loadConfig();
    if (config.database.url) await migratePostgres(config.database.url);
    else await (await openDatabase({ dataDir: config.database.dataDir })).close();
    createProcessLogger(config).info('migrations applied');
  },
});
