/** `fcm-server start`: every role (API, workers, scheduler) in one process; the default and the embedded mode. */
import { defineCommand } from './command.ts';
import { runServer } from './run-server.ts';

export const start = defineCommand({
  name: 'start',
  summary: 'API + workers in one process (default; the embedded mode)',
  description:
    'Runs the HTTP API and the job workers in one process. Without DATABASE_URL it uses the embedded\n' +
    'database in DATA_DIR (./data) and, unless FCM_BASE_URL is set, the in-process FCM emulator (sandbox).',
  options: {},
  run: () => runServer('start', { api: true, worker: true }),
});
