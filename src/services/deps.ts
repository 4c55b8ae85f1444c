/**
 * What services are handed: the database, queue, crypto, push provider, clock and logger, all as interfaces.
 * Every use case takes them first, as `deps: ServiceDeps`; the few the command line also runs on a bare
 * database, with no server around them (create-client, token rotation, purge, key rotation, their audit rows),
 * take `Pick<ServiceDeps, …>` of what they use. Functions that work inside a caller's transaction take the
 * `Executor` instead. The HTTP API gets them bound once: services/index.ts.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/client.ts';
import type { Clock } from '../lib/clock.ts';
import type { Cipher } from '../lib/crypto.ts';
import type { ErrorReporter } from '../observability/error-reporter.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { CircuitBreaker } from '../push/circuit-breaker.ts';
import type { PushProvider, ServiceAccount } from '../push/push-provider.ts';
import type { JobQueue } from '../queue/contract.ts';
import type { EventStream } from './event-stream.service.ts';
import type { SandboxInbox } from './sandbox-inbox.ts';

export interface ServiceDeps {
  config: Readonly<Config>;
  db: Db;
  queue: JobQueue;
  cipher: Cipher;
  push: PushProvider;
  logger: Logger;
  /** What time it is, for every decision by time (tests move it forward instead of sleeping). */
  clock: Clock;
  /**
   * The server-wide service account used for tenants without a Firebase project of their own:
   * GOOGLE_APPLICATION_CREDENTIALS, or the sandbox account of the in-process emulator.
   */
  defaultAccount: ServiceAccount | undefined;
  /** This process's Prometheus metrics: counters move where the work is done. */
  metrics: Metrics;
  /** Sentry when SENTRY_DSN is set, a no-op otherwise. */
  errors: ErrorReporter;
  /** The live event stream's subscribers in this process (processes that serve the API only). */
  eventStream?: EventStream | undefined;
  /** Per-Firebase-project circuit breaker of this process; `circuit.fcmState()` is for readiness checks. */
  circuit: CircuitBreaker;
  /** What the in-process emulator received, when it is the FCM endpoint (the sandbox); never in production. */
  sandboxInbox?: SandboxInbox | undefined;
}
