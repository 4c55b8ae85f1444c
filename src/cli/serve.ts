/** `fcm-server serve`: the HTTP API alone, beside `worker` processes on a shared PostgreSQL database. */
import { defineCommand } from './command.ts';
import { runServer } from './run-server.ts';

export const serve = defineCommand({
  name: 'serve',
  summary: 'HTTP API only (PostgreSQL mode)',
  description:
    'Runs the HTTP API without job workers. Needs DATABASE_URL: workers run in `worker` processes.',
  options: {},
  run: () => runServer('serve', { api: true, worker: false }),
});
