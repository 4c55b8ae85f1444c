/**
 * The typed configuration the rest of the server reads, and its derivation from a validated environment:
 * defaults that depend on other settings (production, the sandbox emulator) and the production safety rules.
 */
import { RATE_LIMIT_DEFAULTS, type RateLimits } from '../lib/rate-limits.ts';
import type { Env } from './env.schema.ts';
import { ConfigError } from './errors.ts';

export interface Config {
  env: Env['NODE_ENV'];
  production: boolean;
  host: string;
  port: number;
  publicUrl: string | undefined;
  database: { url: string | undefined; poolSize: number; dataDir: string };
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  fcm: {
    /** undefined means: the in-process emulator decides the URL at start-up. */
    baseUrl: string | undefined;
    emulator: boolean;
    /** Port of the in-process emulator; undefined: a free port chosen at start. */
    emulatorPort: number | undefined;
    timeoutMs: number;
    sessions: number;
    defaultCredentialsFile: string | undefined;
  };
  encryptionKey: Buffer | undefined;
  /** Decrypt-only keys (ENCRYPTION_KEYS_PREVIOUS). */
  previousEncryptionKeys: readonly Buffer[];
  /** Lower-case host names; `*` allows any, `.example.com` the domain and its subdomains. */
  allowedHosts: readonly string[];
  corsOrigins: readonly string[];
  /** Serve the browser console at /dashboard (DASHBOARD_ENABLED). */
  dashboard: boolean;
  rateLimits: { enabled: boolean; perMinute: Readonly<RateLimits> };
  logLevel: Env['LOG_LEVEL'];
  /** LOG_FORMAT; undefined lets the logger choose from where stdout goes (src/logger.ts). */
  logFormat: Env['LOG_FORMAT'];
  debug: boolean;
  send: {
    concurrency: number;
    batchSize: number;
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
    maxAgeSeconds: number;
    throttleDefaultMs: number;
  };
  /** Per-Firebase-project circuit breaker (see docs/reliability.md). */
  circuit: { failures: number; windowMs: number; cooldownMs: number };
  devices: { validateTokensOnRegister: boolean; staleDays: number };
  retention: { deliveriesDays: number; auditDays: number; webhookDays: number; eventsDays: number };
  shutdownTimeoutMs: number;
  scheduler: { intervalMs: number; batch: number; misfireGraceMs: number };
  analytics: { cron: string; lookbackDays: number };
  bodyLimitBytes: number;
  idempotencyTtlHours: number;
  metrics: { token: string | undefined; port: number | undefined };
  sentry: { dsn: string | undefined; environment: string };
  webhooks: {
    timeoutMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
    disableAfterFailures: number;
    /** Whether endpoints may target private, loopback, link-local... addresses (SSRF guard off). */
    allowPrivateTargets: boolean;
    /** Whether endpoints may use http:// (otherwise https:// only). */
    allowHttp: boolean;
  };
  eventStream: { maxBufferBytes: number; replayLimit: number; heartbeatMs: number };
  /** Fastify trustProxy: addresses whose X-Forwarded-For is believed; empty = none. */
  trustedProxies: readonly string[];
  softDeleteRetentionDays: number;
}

/** Maps a validated environment onto the config; throws when production is asked for with laptop settings. */
export function configFromEnv(e: Env): Readonly<Config> {
  const production = e.NODE_ENV === 'production';
  const emulator = e.FCM_EMULATOR ?? (!production && e.FCM_BASE_URL === undefined);
  const config: Config = {
    env: e.NODE_ENV,
    production,
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL?.replace(/\/$/, ''),
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, dataDir: e.DATA_DIR },
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    fcm: {
      baseUrl: emulator ? undefined : (e.FCM_BASE_URL ?? 'https://fcm.googleapis.com'),
      emulator,
      emulatorPort: e.EMULATOR_PORT,
      timeoutMs: e.FCM_TIMEOUT_MS,
      sessions: e.FCM_HTTP2_SESSIONS,
      defaultCredentialsFile: e.GOOGLE_APPLICATION_CREDENTIALS,
    },
    encryptionKey: e.ENCRYPTION_KEY,
    previousEncryptionKeys: e.ENCRYPTION_KEYS_PREVIOUS ?? [],
    // Outside production any host is fine (localhost, LAN address, tunnels); production names them.
    allowedHosts: e.ALLOWED_HOSTS?.length ? e.ALLOWED_HOSTS : production ? [] : ['*'],
    corsOrigins: e.CORS_ORIGINS ?? [],
    dashboard: e.DASHBOARD_ENABLED,
    rateLimits: {
      enabled: e.RATE_LIMIT_ENABLED,
      perMinute: { ...RATE_LIMIT_DEFAULTS, ...e.RATE_LIMITS },
    },
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    debug: e.DEBUG,
    send: {
      concurrency: e.SEND_CONCURRENCY,
      batchSize: e.SEND_BATCH_SIZE,
      maxAttempts: e.SEND_MAX_ATTEMPTS,
      retryBaseMs: e.SEND_RETRY_BASE_MS,
      retryMaxMs: e.SEND_RETRY_MAX_MS,
      maxAgeSeconds: e.SEND_MAX_AGE_SECONDS,
      throttleDefaultMs: e.SEND_THROTTLE_DEFAULT_MS,
    },
    circuit: {
      failures: e.FCM_CIRCUIT_FAILURES,
      windowMs: e.FCM_CIRCUIT_WINDOW_MS,
      cooldownMs: e.FCM_CIRCUIT_COOLDOWN_MS,
    },
    devices: { validateTokensOnRegister: e.VALIDATE_TOKENS_ON_REGISTER, staleDays: e.STALE_DEVICE_DAYS },
    retention: {
      deliveriesDays: e.RETENTION_DELIVERIES_DAYS,
      auditDays: e.RETENTION_AUDIT_DAYS,
      webhookDays: e.RETENTION_WEBHOOK_DAYS,
      eventsDays: e.RETENTION_EVENTS_DAYS,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    scheduler: {
      intervalMs: e.SCHEDULER_INTERVAL_MS,
      batch: e.SCHEDULER_BATCH,
      misfireGraceMs: e.SCHEDULER_MISFIRE_GRACE_MS,
    },
    analytics: { cron: e.ANALYTICS_CRON, lookbackDays: e.ANALYTICS_LOOKBACK_DAYS },
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    idempotencyTtlHours: e.IDEMPOTENCY_TTL_HOURS,
    metrics: { token: e.METRICS_TOKEN, port: e.METRICS_PORT },
    sentry: { dsn: e.SENTRY_DSN, environment: e.SENTRY_ENVIRONMENT ?? e.NODE_ENV },
    webhooks: {
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: e.WEBHOOK_RETRY_MAX_MS,
      disableAfterFailures: e.WEBHOOK_DISABLE_AFTER_FAILURES,
      allowPrivateTargets: e.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? !production,
      allowHttp: e.WEBHOOK_ALLOW_HTTP ?? !production,
    },
    eventStream: {
      maxBufferBytes: e.EVENT_STREAM_MAX_BUFFER_BYTES,
      replayLimit: e.EVENT_STREAM_REPLAY_LIMIT,
      heartbeatMs: e.EVENT_STREAM_HEARTBEAT_SECONDS * 1000,
    },
    trustedProxies: e.TRUSTED_PROXIES ?? [],
    softDeleteRetentionDays: e.SOFT_DELETE_RETENTION_DAYS,
  };
  if (production) assertProductionSafe(config);
  return Object.freeze(config);
}

/** Production refuses settings that are only acceptable on a laptop. */
function assertProductionSafe(config: Config): void {
  const problems: string[] = [];
  if (!config.encryptionKey) {
    problems.push('ENCRYPTION_KEY is required in production (generate one with: openssl rand -base64 32)');
  }
  if (config.debug) problems.push('DEBUG must be false in production');
  if (!config.database.url) {
    problems.push('DATABASE_URL is required in production: the embedded database is for development only');
  }
  if (config.fcm.emulator) problems.push('FCM_EMULATOR must be false in production');
  if (config.allowedHosts.length === 0) {
    problems.push(
      'ALLOWED_HOSTS is required in production: the host names clients use to reach the API, ' +
        'comma-separated (e.g. push.example.com,push.internal)',
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(`Refusing to start in production:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}
