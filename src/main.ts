/** Process entry: `fcm-server <command>`. Parses the subcommand, starts the roles, shuts down gracefully. */
import { parseArgs } from 'node:util';
import { loadConfig } from './config.ts';
import { migratePostgres, openDatabase } from './db/client.ts';
import { runEmulatorCli } from './emulator/main.ts';
import { createCipher } from './lib/crypto.ts';
import { createClientViaServer, publishLocalServer, readLocalServer } from './local-admin.ts';
import { createLogger } from './logger.ts';
import { startRuntime } from './runtime.ts';
import { createClient, SCOPES, type Scope } from './services/clients.service.ts';
import { rotateEncryptionKey } from './services/key-rotation.service.ts';

const HELP = `Usage: fcm-server <command> [options]

Commands:
  start                 API + workers in one process (default; the embedded mode)
  serve                 HTTP API only
  worker                job workers only (PostgreSQL mode)
  migrate               apply database migrations and exit
  create-client         create an API client and print its credentials once
      --name NAME         required
      --scopes a,b        send,read,manage,admin (default: send,read,manage)
      --json              print {"client_id": …, "client_token": …}
  emulator              run the FCM emulator alone (--port N, --latency-ms N)
  rotate-encryption-key re-encrypt stored secrets under ENCRYPTION_KEY (old keys in ENCRYPTION_KEYS_PREVIOUS);
                        resumable, safe to run while the server runs (PostgreSQL)
      --batch-size N      rows per transaction (default 500)

Configuration comes from environment variables: see .env.example.`;

async function main(argv: string[]): Promise<void> {
  const [command = 'start', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(HELP);
    return;
  }
  if (command === 'emulator') return runEmulatorCli(rest);

  const config = loadConfig();
  const logger = createLogger(config.logLevel);

  if (command === 'migrate') {
    if (config.database.url) await migratePostgres(config.database.url);
    else await (await openDatabase({ dataDir: config.database.dataDir })).close();
    logger.info('migrations applied');
    return;
  }

  if (command === 'create-client') {
    const { values } = parseArgs({
      args: rest,
      options: { name: { type: 'string' }, scopes: { type: 'string' }, json: { type: 'boolean' } },
    });
    const name = values.name?.trim();
    if (!name) throw new UsageError('create-client needs --name NAME');
    const scopes = (values.scopes ?? 'send,read,manage').split(',').map((s) => s.trim());
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0)
      throw new UsageError(`unknown scope(s): ${unknown.join(', ')}; use ${SCOPES.join(', ')}`);
    const input = { name, scopes: scopes as Scope[] };
    // The embedded database belongs to one process: when a server holds it, ask that server to do it.
    const local = config.database.url ? undefined : readLocalServer(config.database.dataDir);
    let created: { clientId: string; clientToken: string };
    if (local) {
      created = await createClientViaServer(local, input);
    } else {
      const database = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir });
      try {
        created = await createClient(database.db, input);
      } finally {
        await database.close();
      }
    }
    if (values.json) {
      console.log(JSON.stringify({ client_id: created.clientId, client_token: created.clientToken }));
    } else {
      console.log(
        `Client created: ${name}\n  Client-ID:    ${created.clientId}\n  Client-Token: ${created.clientToken}\n` +
          'The token is shown only this once; it is stored hashed.',
      );
    }
    return;
  }

  if (command === 'rotate-encryption-key') {
    const { values } = parseArgs({ args: rest, options: { 'batch-size': { type: 'string' } } });
    const batchSize = Number(values['batch-size'] ?? 500);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new UsageError('--batch-size must be a whole number from 1 to 10000');
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
      const reports = await rotateEncryptionKey(database.db, cipher, {
        batchSize,
        onProgress: (p) => console.log(`  ${p.table}.${p.column}: ${p.done}/${p.total}`),
      });
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
    return;
  }

  if (command !== 'start' && command !== 'serve' && command !== 'worker') {
    throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
  if (command !== 'start' && !config.database.url) {
    throw new UsageError(
      `"${command}" runs one role on a shared database: set DATABASE_URL (PostgreSQL). ` +
        'The embedded database runs every role in one process: use "start".',
    );
  }
  const runtime = await startRuntime({
    config,
    logger,
    roles: { api: command !== 'worker', worker: command !== 'serve' },
  });
  let address: string | undefined;
  if (runtime.app) {
    address = await runtime.app.listen({ host: config.host, port: config.port });
    if (!config.database.url) publishLocalServer(config.database.dataDir, address, runtime);
  }
  const base = config.publicUrl ?? address;
  logger.info(
    {
      mode: config.database.url ? 'postgres' : `embedded (${config.database.dataDir})`,
      fcm: runtime.emulator ? `sandbox emulator at ${runtime.emulator.url}` : config.fcm.baseUrl,
    },
    base ? `fcm-server listening on ${base}` : 'fcm-server worker running',
  );
  if (base) {
    console.log(
      `\n  fcm-server is running: ${base}\n  API docs:   ${base}/docs\n` +
        `  Create a client:  npx fcm-server create-client --name my-app\n` +
        (runtime.emulator
          ? '  FCM:        sandbox (in-process emulator): sends never leave this machine\n'
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

class UsageError extends Error {}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(error instanceof UsageError ? 2 : 1);
});
