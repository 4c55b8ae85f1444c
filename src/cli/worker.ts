/** `fcm-server worker`: the job workers and the scheduler alone, beside `serve` processes on PostgreSQL. */
import { defineCommand } from './command.ts';
import { runServer } from './run-server.ts';

export const worker = defineCommand({
  name: 'worker',
  summary: 'job workers only (PostgreSQL mode)',
  description:
    'Runs the job workers and the scheduler without the HTTP API. Needs DATABASE_URL; METRICS_PORT serves\n' +
    'its /metrics.',
  options: {},
  run: () => runServer('worker', { api: false, worker: true }),
});
