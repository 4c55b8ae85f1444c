/**
 * Wires a running server from the config: database, queue, crypto, FCM provider (or the in-process emulator as
 * the sandbox), and the roles asked for (HTTP API, workers). Used by the CLI, the tests and the benchmark.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { type Config, parseEncryptionKey } from './config/index.ts';
import { type DatabaseHandle, openDatabase } from './db/client.ts';
import { listenForEvents } from './db/events.listener.ts';
import { createEmulator, type Emulator } from './emulator/emulator.ts';
import { createTestServiceAccount } from './emulator/test-account.ts';
import { connectRateLimitRedis } from './http/rate-limit.ts';
import { startWorkers } from './jobs/workers.ts';
import { type Clock, systemClock } from './lib/clock.ts';
import { createCipher } from './lib/crypto.ts';
import { settledWithin } from './lib/deadline.ts';
import { createErrorReporter } from './observability/error-reporter.ts';
import { Metrics } from './observability/metrics.ts';
import { serveMetrics } from './observability/metrics-server.ts';
import { CircuitBreaker } from './push/circuit-breaker.ts';
import { FcmProvider } from './push/fcm.provider.ts';
import type { PushProvider, ServiceAccount } from './push/push-provider.ts';
import { type PgBossQueue, startQueue } from './queue/pg-boss.ts';
import type { ServiceDeps } from './services/deps.ts';
import { EventStream } from './services/event-stream.service.ts';
import { parseServiceAccount } from './services/firebase-projects.service.ts';
import { SANDBOX_KEEPS, type SandboxInbox } from './services/sandbox-inbox.ts';

export interface Runtime {
  deps: ServiceDeps;
  database: DatabaseHandle;
  /** The same queue as deps.queue, with pg-boss in reach for tests and tools. */
  queue: PgBossQueue;
  app: FastifyInstance | undefined;
  emulator: Emulator | undefined;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  config: Readonly<Config>;
  logger: Logger;
  roles: { api: boolean; worker: boolean };
  /** Tests pass a pre-built database (cloned template). */
  database?: DatabaseHandle;
  /** Tests and benchmarks may pass their own provider or emulator. */
  push?: PushProvider;
  emulator?: Emulator;
  /** Tests pass a clock they move forward; the system clock otherwise. */
  clock?: Clock;
  /** Opens the CLI's internal admin routes to callers holding this secret (embedded mode, see cli/local-server.ts). */
  internalSecret?: string | undefined;
}

/**
 * Development without ENCRYPTION_KEY: a key is generated once into the data directory (and the log says so),
 * so a fresh checkout runs with nothing to configure. Production refuses to start without one (config.ts).
 */
function resolveEncryptionKey(config: Readonly<Config>, logger: Logger): Buffer {
  if (config.encryptionKey) return config.encryptionKey;
  const file = join(config.database.dataDir, 'encryption.key');
  if (existsSync(file)) {
    logger.info({ file }, 'ENCRYPTION_KEY is not set: using the development key in the data directory');
    return parseEncryptionKey(readFileSync(file, 'utf8'));
  }
  mkdirSync(config.database.dataDir, { recursive: true });
  writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  chmodSync(file, 0o600);
  logger.warn(
    { file },
    `ENCRYPTION_KEY is not set: generated a new development encryption key into ${file}. ` +
      'Push tokens and credentials in this data directory are encrypted with it: keep the file with the data ' +
      '(losing it makes them unreadable). Production requires ENCRYPTION_KEY.',
  );
  return parseEncryptionKey(readFileSync(file, 'utf8'));
}

function loadDefaultAccount(file: string): ServiceAccount {
  try {
    return parseServiceAccount(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    throw new Error(
      `GOOGLE_APPLICATION_CREDENTIALS (${file}) is not a usable service-account JSON: ${(error as Error).message}`,
    );
  }
}

/** The sandbox's FCM endpoint: loopback only, on EMULATOR_PORT or a free port, keeping its newest messages. */
async function startSandboxEmulator(port: number | undefined): Promise<Emulator> {
  try {
    return await createEmulator({ host: '127.0.0.1', port: port ?? 0, maxRecorded: SANDBOX_KEEPS });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new Error(
      `EMULATOR_PORT ${port} is in use: choose another port for the sandbox emulator, or unset EMULATOR_PORT ` +
        'to take a free one',
    );
  }
}

/** The emulator's recording as the sandbox inbox sees it: real sends only, newest first. */
function sandboxInboxOf(emulator: Emulator): SandboxInbox {
  return {
    newestFirst: () =>
      emulator
        .received()
        .filter((entry) => !entry.validateOnly)
        .reverse()
        .map((entry) => ({
          seq: entry.seq,
          receivedAt: entry.receivedAt,
          message: entry.message,
          outcome: entry.errorCode ?? 'sent',
        })),
    setTokenFault: (token, fault) => emulator.setTokenFault(token, fault),
    tokenFault: (token) => {
      const faults = emulator.faults();
      const burst = faults.bursts?.[token];
      if (burst) return { code: burst.code, remaining: burst.remaining };
      const code = faults.tokens?.[token];
      return code ? { code, remaining: null } : null;
    },
  };
}

/** The live event stream of an API process, listening for the events every process commits. */
async function startEventStream(
  database: DatabaseHandle,
  config: Readonly<Config>,
  logger: Logger,
  closers: (() => Promise<void>)[],
): Promise<EventStream> {
  const bus = await listenForEvents(database, logger);
  const stream = new EventStream(
    { db: database.db, logger, replayLimit: config.eventStream.replayLimit },
    bus,
  );
  closers.push(async () => {
    stream.close();
    await bus.close();
  });
  return stream;
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, logger } = options;
  const closers: (() => Promise<void>)[] = [];
  // Each step may take its drain time and a little more, never forever: a SIGTERM must end the process even
  // when a step waits on something that will not come (the PostgreSQL-restart fault run once hung 120 s in its
  // clean-up; which step was not caught).
  const stepLimitMs = config.shutdownTimeoutMs + 5_000;
  const close = async () => {
    for (const closer of closers.reverse()) {
      const step = closer().catch((error: unknown) => logger.error({ err: error }, 'error during shutdown'));
      if (!(await settledWithin(step, stepLimitMs))) {
        logger.error(
          { step: closer.name || String(closer).slice(0, 60), limit_ms: stepLimitMs },
          'shutdown step did not finish in time; going on',
        );
      }
    }
  };
  try {
    const errors = await createErrorReporter(config, logger);
    closers.push(() => errors.flush(2_000));
    // The database first: a second server on the same data directory is told so, not that a port is taken.
    const database =
      options.database ??
      (await openDatabase({
        url: config.database.url,
        dataDir: config.database.dataDir,
        poolSize: config.database.poolSize,
      }));
    closers.push(() => database.close());
    let emulator = options.emulator;
    let defaultAccount: ServiceAccount | undefined;
    if (config.fcm.defaultCredentialsFile)
      defaultAccount = loadDefaultAccount(config.fcm.defaultCredentialsFile);
    if (config.fcm.emulator && !emulator) {
      emulator = await startSandboxEmulator(config.fcm.emulatorPort);
      const running = emulator;
      closers.push(() => running.close());
    }
    if (config.fcm.emulator && emulator && !defaultAccount) {
      const sandbox = createTestServiceAccount({
        projectId: 'fcm-server-sandbox',
        tokenUri: emulator.tokenUri,
      });
      emulator.addServiceAccount(sandbox.account);
      defaultAccount = sandbox.account;
    }
    const baseUrl = config.fcm.baseUrl ?? emulator?.url;
    if (!baseUrl) throw new Error('FCM_BASE_URL is not set and the emulator is off');

    // Read on scrape only, and the queue is started below, before anything can scrape.
    const metrics = new Metrics({ queueDepths: () => queue.depths() });
    // Closers run in reverse: the API stops accepting, then workers drain their in-flight batches (which
    // still need FCM and the database), then the FCM connections and the database close.
    const push =
      options.push ??
      new FcmProvider({
        baseUrl,
        sessions: config.fcm.sessions,
        timeoutMs: config.fcm.timeoutMs,
        observer: metrics.fcm,
      });
    if (!options.push) closers.push(() => push.close());
    const queue = await startQueue(database, {
      onError: (error) => logger.error({ err: error }, 'job queue error'),
    });
    closers.push(() => queue.stop({ graceful: true, timeoutMs: config.shutdownTimeoutMs }));

    const cipher = createCipher(resolveEncryptionKey(config, logger), config.previousEncryptionKeys);
    if (cipher.previousKeyIds.length > 0) {
      logger.info(
        { key_id: cipher.keyId, previous_key_ids: cipher.previousKeyIds },
        'encryption keys: encrypting with the current key, decrypting with the previous ones too',
      );
    }
    const deps: ServiceDeps = {
      config,
      db: database.db,
      queue,
      cipher,
      push,
      logger,
      clock: options.clock ?? systemClock,
      defaultAccount,
      metrics,
      errors,
      eventStream: options.roles.api ? await startEventStream(database, config, logger, closers) : undefined,
      sandboxInbox: config.fcm.emulator && emulator ? sandboxInboxOf(emulator) : undefined,
      circuit: new CircuitBreaker(
        { ...config.circuit, probeLeaseMs: 2 * config.fcm.timeoutMs + 5_000 },
        {
          onTransition: ({ project, from, to, failures }) => {
            const fields = { firebase_project: project, from, to, failures };
            if (to === 'open') logger.warn(fields, 'FCM circuit opened: batches wait for the cool-down');
            else logger.info(fields, `FCM circuit ${to === 'closed' ? 'closed' : 'half-open'}`);
          },
        },
      ),
    };
    if (options.roles.worker) {
      const workers = await startWorkers(deps);
      closers.push(() => workers.stop());
    }
    let app: FastifyInstance | undefined;
    if (options.roles.api) {
      let rateLimitRedis: Awaited<ReturnType<typeof connectRateLimitRedis>> | undefined;
      if (config.redisUrl && config.rateLimits.enabled) {
        const redis = await connectRateLimitRedis(config.redisUrl, logger);
        closers.push(async () => void (await redis.quit().catch(() => redis.disconnect())));
        rateLimitRedis = redis;
      }
      app = await buildApp({ ...deps, rateLimitRedis, internalSecret: options.internalSecret });
      const running = app;
      closers.push(() => running.close());
    }
    if (config.metrics.port !== undefined) {
      const server = await serveMetrics(metrics, {
        host: config.host,
        port: config.metrics.port,
        token: config.metrics.token,
      });
      closers.push(() => server.close());
      logger.info({ url: server.url }, 'serving metrics');
    }
    return { deps, database, queue, app, emulator, close };
  } catch (error) {
    await close();
    throw error;
  }
}
