/** Process entry: `fcm-server <command>`. Parses the subcommand, starts the roles, shuts down gracefully. */
import { parseArgs } from 'node:util';
import { type Config, loadConfig } from './config.ts';
import { type Db, migratePostgres, openDatabase } from './db/client.ts';
import { runEmulatorCli } from './emulator/main.ts';
import { createCipher } from './lib/crypto.ts';
import { AppError } from './lib/errors.ts';
import { UUID_PATTERN } from './lib/ids.ts';
import {
  adminCommands,
  callLocalServer,
  type IssuedToken,
  publishLocalServer,
  readLocalServer,
} from './local-admin.ts';
import { createLogger } from './logger.ts';
import { startRuntime } from './runtime.ts';
import { DEFAULT_GRACE_SECONDS, SCOPES, type Scope } from './services/clients.service.ts';
import { rotateEncryptionKey } from './services/key-rotation.service.ts';
import type { PurgeResult } from './services/retention.service.ts';

const HELP = `Usage: fcm-server <command> [options]

Commands:
  start                 API + workers in one process (default; the embedded mode)
  serve                 HTTP API only
  worker                job workers only (PostgreSQL mode)
  migrate               apply database migrations and exit
  create-client         create an API client and print its credentials once
      --name NAME           required
      --scopes a,b          send,read,manage,admin (default: send,read,manage; admin opens the admin API only)
      --ip-allowlist a,b    IPs and CIDR ranges the client may call from (default: anywhere)
      --expires-at DATE     ISO 8601 date-time after which the token stops working
      --json                print {"client_id": …, "client_token": …}
  rotate-client-token ID  issue a new token for a client and print it once
      --grace-seconds N     how long the old token keeps working (default ${DEFAULT_GRACE_SECONDS}; 0: stops now)
      --json                print {"client_id": …, "client_token": …, "previous_token_expires_at": …}
  purge                 hard-delete profiles and devices deleted more than SOFT_DELETE_RETENTION_DAYS ago
                        (the worker also does it daily)
      --json                print {"profiles": N, "devices": N}
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

  if (command === 'create-client') return createClientCommand(config, rest);
  if (command === 'rotate-client-token') return rotateClientTokenCommand(config, rest);
  if (command === 'purge') return purgeCommand(config, rest);

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
      const reports = await rotateEncryptionKey(
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

/**
 * Runs an admin command on the database. The embedded database belongs to one process: when a server holds
 * it, the command asks that server to run it.
 */
async function runAdmin<T>(
  config: Readonly<Config>,
  viaServer: (server: NonNullable<ReturnType<typeof readLocalServer>>) => Promise<T>,
  direct: (db: Db) => Promise<T>,
): Promise<T> {
  const local = config.database.url ? undefined : readLocalServer(config.database.dataDir);
  if (local) return viaServer(local);
  const database = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir });
  try {
    return await direct(database.db);
  } finally {
    await database.close();
  }
}

const list = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');

async function createClientCommand(config: Readonly<Config>, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      'ip-allowlist': { type: 'string' },
      'expires-at': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const name = values.name?.trim();
  if (!name) throw new UsageError('create-client needs --name NAME');
  const scopes = list(values.scopes) ?? ['send', 'read', 'manage'];
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0 || scopes.length === 0)
    throw new UsageError(`unknown scope(s): ${unknown.join(', ')}; use ${SCOPES.join(', ')}`);
  let expiresAt: string | undefined;
  if (values['expires-at'] !== undefined) {
    const time = Date.parse(values['expires-at']);
    if (Number.isNaN(time))
      throw new UsageError('--expires-at must be an ISO 8601 date-time, e.g. 2027-06-30T00:00:00Z');
    expiresAt = new Date(time).toISOString();
  }
  const input = { name, scopes: scopes as Scope[], ipAllowlist: list(values['ip-allowlist']), expiresAt };
  const created = await runAdmin(
    config,
    (server) => callLocalServer<IssuedToken>(server, '/clients', input),
    (db) => adminCommands.createClient(db, input),
  );
  if (values.json) {
    console.log(JSON.stringify({ client_id: created.clientId, client_token: created.clientToken }));
  } else {
    console.log(
      `Client created: ${name}\n  Client-ID:    ${created.clientId}\n  Client-Token: ${created.clientToken}\n` +
        'The token is shown only this once; it is stored hashed.',
    );
  }
}

async function rotateClientTokenCommand(config: Readonly<Config>, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'grace-seconds': { type: 'string' }, json: { type: 'boolean' } },
  });
  const [id] = positionals;
  if (!id || positionals.length > 1 || !UUID_PATTERN.test(id)) {
    throw new UsageError(
      'rotate-client-token needs the client id: rotate-client-token <id> [--grace-seconds N]',
    );
  }
  const graceText = values['grace-seconds'];
  if (graceText !== undefined && !/^\d+$/.test(graceText)) {
    throw new UsageError('--grace-seconds must be a whole number of seconds (0: the old token stops now)');
  }
  const graceSeconds = graceText === undefined ? undefined : Number(graceText);
  const rotated = await runAdmin(
    config,
    (server) => callLocalServer<IssuedToken>(server, `/clients/${id}/rotate`, { graceSeconds }),
    (db) => adminCommands.rotateClientToken(db, id, graceSeconds),
  );
  if (values.json) {
    console.log(
      JSON.stringify({
        client_id: rotated.clientId,
        client_token: rotated.clientToken,
        previous_token_expires_at: rotated.previousTokenExpiresAt ?? null,
      }),
    );
  } else {
    console.log(
      `New token for client ${rotated.clientId}\n  Client-Token: ${rotated.clientToken}\n` +
        (rotated.previousTokenExpiresAt
          ? `The old token keeps working until ${rotated.previousTokenExpiresAt}.\n`
          : 'The old token stopped working.\n') +
        'The token is shown only this once; it is stored hashed.',
    );
  }
}

async function purgeCommand(config: Readonly<Config>, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const days = config.softDeleteRetentionDays;
  const purged = await runAdmin(
    config,
    (server) => callLocalServer<PurgeResult>(server, '/purge', {}),
    (db) => adminCommands.purge(db, days),
  );
  console.log(
    values.json
      ? JSON.stringify(purged)
      : `Purged ${purged.profiles} profile(s) and ${purged.devices} device(s) deleted more than ${days} days ago.`,
  );
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof AppError) {
    // A service refused the input (a bad CIDR, an unknown client): say what and where.
    const details = error.details.map((d) => `  ${d.field ?? ''}: ${d.message}`);
    console.error([error.message, ...details].join('\n'));
    process.exit(error.status === 422 ? 2 : 1);
  }
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(error instanceof UsageError ? 2 : 1);
});
