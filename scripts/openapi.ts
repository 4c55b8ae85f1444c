/**
 * Writes the OpenAPI document the server serves at /openapi.json to a file (default openapi.json), without a
 * database or a listening port: `npm run lint:openapi` lints that file with Redocly CLI.
 *
 *   node scripts/openapi.ts [output-file] [--sandbox]
 *
 * --sandbox documents the routes a sandbox server adds (GET /api/v1/sandbox/messages), as the typed client needs.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import type { Db } from '../src/db/client.ts';
import { systemClock } from '../src/lib/clock.ts';
import { createCipher } from '../src/lib/crypto.ts';
import { createLogger } from '../src/logger.ts';
import { disabledReporter } from '../src/observability/error-reporter.ts';
import { Metrics } from '../src/observability/metrics.ts';
import { CircuitBreaker } from '../src/push/circuit-breaker.ts';
import type { PushProvider } from '../src/push/push-provider.ts';
import type { JobQueue } from '../src/queue/contract.ts';
import type { EventStream } from '../src/services/event-stream.service.ts';
import type { SandboxInbox } from '../src/services/sandbox-inbox.ts';

/** Registering routes never reaches the database, queue, FCM or event stream: only a request would. */
function unreachable<T>(what: string): T {
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (property === 'then') return undefined;
        throw new Error(
          `scripts/openapi.ts: ${what}.${String(property)} used while only building the document`,
        );
      },
    },
  ) as T;
}

const args = process.argv.slice(2);
const output = args.find((arg) => !arg.startsWith('--')) ?? 'openapi.json';
const sandbox = args.includes('--sandbox');
const config = loadConfig({
  NODE_ENV: 'development',
  DATA_DIR: 'memory://',
  ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  FCM_EMULATOR: 'false',
  FCM_BASE_URL: 'http://127.0.0.1:9',
  LOG_LEVEL: 'silent',
});
const app = await buildApp({
  config,
  db: unreachable<Db>('db'),
  queue: unreachable<JobQueue>('queue'),
  cipher: createCipher(randomBytes(32)),
  push: unreachable<PushProvider>('push'),
  logger: createLogger('silent'),
  clock: systemClock,
  defaultAccount: undefined,
  metrics: new Metrics({ queueDepths: async () => [] }),
  errors: disabledReporter,
  // Present, so that /events/stream is registered and documented as it is in a server.
  eventStream: unreachable<EventStream>('eventStream'),
  circuit: new CircuitBreaker(config.circuit, {}),
  sandboxInbox: sandbox ? unreachable<SandboxInbox>('sandboxInbox') : undefined,
});
await app.ready();
mkdirSync(dirname(output), { recursive: true });
writeFileSync(output, `${JSON.stringify(app.swagger(), null, 2)}\n`);
await app.close();
