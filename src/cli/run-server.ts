/**
 * What start, serve and worker share: start the roles asked for, listen, say where, and shut down gracefully on
 * SIGTERM/SIGINT. In embedded mode the server also publishes itself for the admin commands (local-server.ts).
 */
import { loadConfig } from '../config/index.ts';
import { applyHeapPolicy } from '../lib/heap-policy.ts';
import { createProcessLogger } from '../logger.ts';
import { startRuntime } from '../runtime.ts';
import { UsageError } from './command.ts';
import { newLocalSecret, publishLocalServer } from './local-server.ts';

export interface Roles {
  api: boolean;
  worker: boolean;
}

/** Starts the roles and returns once they run; the process then lives until a signal stops it. */
export async function runServer(command: string, roles: Roles): Promise<void> {
  applyHeapPolicy();
  const config = loadConfig();
  const logger = createProcessLogger(config);
  const embedded = !config.database.url;
  if (embedded && !(roles.api && roles.worker)) {
    throw new UsageError(
      `"${command}" runs one role on a shared database: set DATABASE_URL (PostgreSQL). ` +
        'The embedded database runs every role in one process: use "start".',
    );
  }
  // Only the embedded database needs the CLI to go through the server; on PostgreSQL it connects itself.
  const internalSecret = embedded && roles.api ? newLocalSecret() : undefined;
  const runtime = await startRuntime({ config, logger, roles, internalSecret });
  let address: string | undefined;
  if (runtime.app) {
    address = await runtime.app.listen({ host: config.host, port: config.port });
    if (internalSecret) publishLocalServer(config.database.dataDir, address, internalSecret);
  }
  const base = config.publicUrl ?? address;
  logger.info(
    {
      mode: embedded ? `embedded (${config.database.dataDir})` : 'postgres',
      fcm: runtime.emulator ? `sandbox emulator at ${runtime.emulator.url}` : config.fcm.baseUrl,
    },
    base ? `fcm-server listening on ${base}` : 'fcm-server worker running',
  );
  if (base) {
    console.log(
      `\n  fcm-server is running: ${base}\n  API docs:   ${base}/docs\n` +
        (config.dashboard ? `  Dashboard:  ${base}/dashboard (sign in with a client's id and token)\n` : '') +
        `  Create a client:  npx fcm-server create-client --name my-app\n` +
        (runtime.deps.sandboxInbox && runtime.emulator
          ? `  FCM sandbox: emulator at ${runtime.emulator.url}; what it received: GET /api/v1/sandbox/messages\n` +
            '               sends never leave this machine (docs/emulator.md)\n'
          : ''),
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { signal, timeout_ms: config.shutdownTimeoutMs },
      'shutting down: the API stops accepting, workers finish their in-flight batches',
    );
    // The queue gives in-flight jobs SHUTDOWN_TIMEOUT_MS, then hands them back; closing pools takes the rest.
    const force = setTimeout(() => {
      logger.error('shutdown took too long, exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 5_000);
    force.unref();
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
