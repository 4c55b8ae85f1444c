/** `fcm-server purge`: hard-deletes what was soft-deleted longer ago than the retention (the worker does it daily). */
import { loadConfig } from '../config/index.ts';
import { adminCommands } from '../services/admin-commands.service.ts';
import type { PurgeResult } from '../services/retention.service.ts';
import { defineCommand } from './command.ts';
import { callLocalServer, runAdmin } from './local-server.ts';

export const purge = defineCommand({
  name: 'purge',
  summary: 'hard-delete profiles and devices soft-deleted over SOFT_DELETE_RETENTION_DAYS ago',
  description:
    'Hard-deletes profiles and devices deleted more than SOFT_DELETE_RETENTION_DAYS ago (the worker also\n' +
    'does it daily).',
  options: {
    json: { type: 'boolean', description: 'print {"profiles": N, "devices": N}' },
  },
  async run({ values }) {
    const config = loadConfig();
    const days = config.softDeleteRetentionDays;
    const purged = await runAdmin(
      config,
      (server) => callLocalServer<PurgeResult>(server, '/purge', {}),
      (db) => adminCommands.purge({ db }, days),
    );
    console.log(
      values.json
        ? JSON.stringify(purged)
        : `Purged ${purged.profiles} profile(s) and ${purged.devices} device(s) deleted more than ${days} days ago.`,
    );
  },
});
