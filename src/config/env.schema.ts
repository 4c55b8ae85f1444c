/**
 * The environment the server reads, as one Zod schema: each variable with its type, range, default and the
 * message that says what a wrong value should look like. `ENV_VARIABLES` is derived from it.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { CidrError, formatCidr, parseCidr } from '../lib/ip.ts';
import { isRateLimitGroup, RATE_LIMIT_GROUPS, type RateLimits } from '../lib/rate-limits.ts';
import { decodeKey, KEY_HINT } from './encryption-key.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

function isCron(expression: string): boolean {
  if (expression.trim().split(/\s+/).length !== 5) return false;
  try {
    new Cron(expression, { paused: true, timezone: 'UTC' });
    return true;
  } catch {
    return false;
  }
}

const duration = z.coerce.number().int().positive();

/** A comma-separated list: items trimmed, empty items dropped. */
const list = <T>(item: z.ZodType<T, string>) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(z.array(item));

const encryptionKey = z.string().transform((value, ctx): Buffer => {
  const key = decodeKey(value);
  if (!key) ctx.addIssue({ code: 'custom', message: KEY_HINT });
  return key ?? Buffer.alloc(0);
});

/** A Host header value without the port: a name, `.example.com` (it and its subdomains), an IP, or `*`. */
const hostPattern = z
  .string()
  .regex(
    /^(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])$/,
    'must be host names without scheme or port (push.example.com, .example.com for subdomains, or *)',
  )
  .transform((v) => v.toLowerCase());

const originPattern = z
  .string()
  .regex(/^(\*|https?:\/\/[^/\s]+\/?)$/, 'must be origins such as https://app.example.com (no path), or *')
  .transform((v) => v.replace(/\/$/, '').toLowerCase());

/** `send=300,default=1200`: server-wide overrides of the per-minute limits of RATE_LIMIT_DEFAULTS. */
const rateLimitOverrides = list(z.string()).transform((items, ctx) => {
  const limits: Partial<RateLimits> = {};
  for (const item of items) {
    const match = /^([a-z_]+)=(\d+)$/.exec(item);
    const group = match?.[1];
    if (!match || !group || !isRateLimitGroup(group)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${item}" is not group=requests_per_minute; groups: ${RATE_LIMIT_GROUPS.join(', ')}`,
      });
      continue;
    }
    limits[group] = Number(match[2]);
  }
  return limits;
});
/** proxy-addr's names for address groups, accepted in TRUSTED_PROXIES as well as IPs and CIDRs. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Public base URL, used in status links and the start-up banner. */
  PUBLIC_URL: z.url({ message: 'must be an absolute URL such as https://push.example.com' }).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL, or unset for the embedded database')
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(500).default(20),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  /** FCM endpoint. Unset: Google's in production, the in-process emulator (sandbox) otherwise. */
  FCM_BASE_URL: z.url({ message: 'must be an absolute URL such as https://fcm.googleapis.com' }).optional(),
  /** Run the FCM emulator inside the server and use it as the Firebase endpoint (the sandbox). */
  FCM_EMULATOR: bool.optional(),
  /** Port of the in-process emulator (loopback only); unset: a free port chosen at start, shown in the banner. */
  EMULATOR_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  FCM_TIMEOUT_MS: duration.default(10_000),
  FCM_HTTP2_SESSIONS: z.coerce.number().int().min(1).max(64).default(4),
  /** Server-wide default service account (path to the JSON), used for tenants without a Firebase project. */
  GOOGLE_APPLICATION_CREDENTIALS: z.string().min(1).optional(),
  /** Prefix of every Redis key this server writes (several deployments may share one Redis). */
  REDIS_KEY_PREFIX: z.string().min(1).default('fcm-server:'),
  /** 32 bytes, base64 or hex: encrypts push tokens and Firebase credentials at rest (AES-256-GCM). */
  ENCRYPTION_KEY: encryptionKey.optional(),
  /** Older keys, comma-separated: used only to decrypt values written before a key rotation. */
  ENCRYPTION_KEYS_PREVIOUS: list(encryptionKey).optional(),
  /** Host names the API answers to (Host header); anything else is a 400. Required in production. */
  ALLOWED_HOSTS: list(hostPattern).optional(),
  /** Browser origins allowed to call the API (CORS), comma-separated; unset = no CORS headers at all. */
  CORS_ORIGINS: list(originPattern).optional(),
  RATE_LIMIT_ENABLED: bool.default(true),
  /** The browser console at /dashboard (docs/dashboard.md); false: the path answers 404. */
  DASHBOARD_ENABLED: bool.default(true),
  RATE_LIMITS: rateLimitOverrides.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Unset: pretty (coloured, local time) on a terminal outside production, JSON lines otherwise. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  DEBUG: bool.default(false),
  /** Send-path tuning. */
  SEND_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /**
   * Deliveries per send job (FCM batch). Read by the workers' fan-out and, for a send to a person or named devices
   * (fanned out as it is accepted), by the API process: give every process the same value.
   */
  SEND_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(500),
  SEND_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  SEND_RETRY_BASE_MS: duration.default(1_000),
  SEND_RETRY_MAX_MS: duration.default(15 * 60_000),
  /** A delivery whose notification is older than this is given up (dead, EXPIRED) instead of sent or retried. */
  SEND_MAX_AGE_SECONDS: duration.default(24 * 3600),
  /** How long a Firebase project pauses after a 429 that came without Retry-After. */
  SEND_THROTTLE_DEFAULT_MS: duration.default(60_000),
  /** Circuit breaker per Firebase project: consecutive transport failures / 5xx within the window open it. */
  FCM_CIRCUIT_FAILURES: z.coerce.number().int().min(1).max(100_000).default(20),
  FCM_CIRCUIT_WINDOW_MS: duration.default(30_000),
  FCM_CIRCUIT_COOLDOWN_MS: duration.default(30_000),
  /** Dry-run (validate_only) a token with FCM when a device registers; FCM outages never block registration. */
  VALIDATE_TOKENS_ON_REGISTER: bool.default(true),
  /** Devices not seen for this many days are deactivated (reason "stale"); 0 = never. */
  STALE_DEVICE_DAYS: z.coerce.number().int().min(0).max(36_500).default(270),
  /** Retention in days (0 = keep forever): deliveries and their finished notifications, audit log, webhook attempts, dispatched events. */
  RETENTION_DELIVERIES_DAYS: z.coerce.number().int().min(0).max(36_500).default(90),
  RETENTION_AUDIT_DAYS: z.coerce.number().int().min(0).max(36_500).default(365),
  RETENTION_WEBHOOK_DAYS: z.coerce.number().int().min(0).max(36_500).default(30),
  RETENTION_EVENTS_DAYS: z.coerce.number().int().min(0).max(36_500).default(30),
  /** SIGTERM: how long in-flight send batches get to finish before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: duration.default(20_000),
  /** Scheduled sends: how often due schedules are looked for, how many per look, when an occurrence is late. */
  SCHEDULER_INTERVAL_MS: duration.default(1_000),
  SCHEDULER_BATCH: z.coerce.number().int().min(1).max(1_000).default(100),
  SCHEDULER_MISFIRE_GRACE_MS: duration.default(60_000),
  /** Analytics roll-up: when the job runs (cron, UTC) and how many days back it rewrites (today included). */
  ANALYTICS_CRON: z
    .string()
    .refine(isCron, 'must be a cron expression such as "*/10 * * * *" (5 fields, UTC)')
    .default('*/10 * * * *'),
  ANALYTICS_LOOKBACK_DAYS: z.coerce.number().int().min(2).max(31).default(2),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(50_000_000).default(2_000_000),
  IDEMPOTENCY_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(24),
  /** GET /metrics: a bearer token that opens it to anyone holding it; unset, only loopback callers get it. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 16)').optional(),
  /** Also serve /metrics on this port: the only way to scrape a `worker` process, which has no HTTP API. */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Report unexpected errors (API 5xx, failing jobs) to Sentry. Unset: Sentry is not even loaded. */
  SENTRY_DSN: z.url({ message: 'must be a Sentry DSN such as https://key@o0.ingest.sentry.io/0' }).optional(),
  SENTRY_ENVIRONMENT: z.string().min(1).max(64).optional(),
  /** Webhooks: delivery timeout, retries, when to disable an endpoint, and which targets are allowed. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(8),
  WEBHOOK_RETRY_BASE_MS: duration.default(60_000),
  WEBHOOK_RETRY_MAX_MS: duration.default(6 * 3_600_000),
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).max(10_000).default(50),
  /** Unset: false in production (refuse private, loopback, link-local... targets), true otherwise. */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: bool.optional(),
  /** Unset: false in production (https:// only), true otherwise. */
  WEBHOOK_ALLOW_HTTP: bool.optional(),
  /** Live event stream (GET /api/v1/events/stream): bytes a connection may have unsent before it is closed. */
  EVENT_STREAM_MAX_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** Events a resumed connection (`?after=`) gets replayed at most; more closes it with code 4010. */
  EVENT_STREAM_REPLAY_LIMIT: z.coerce.number().int().min(1).max(10_000).default(1_000),
  /** Seconds between WebSocket pings; a connection that missed the previous pong is dropped. */
  EVENT_STREAM_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /**
   * Reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs, or loopback, linklocal,
   * uniquelocal). Unset: X-Forwarded-For is ignored and the client IP is the socket's peer.
   */
  TRUSTED_PROXIES: z
    .string()
    .transform((value, ctx) => {
      const entries = value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '');
      return entries.map((entry) => {
        if (PROXY_NAMES.has(entry)) return entry;
        try {
          return formatCidr(parseCidr(entry));
        } catch (error) {
          if (!(error instanceof CidrError)) throw error;
          ctx.addIssue({
            code: 'custom',
            message: `${error.message}; use comma-separated IPs or CIDRs (or loopback, linklocal, uniquelocal)`,
          });
          return z.NEVER;
        }
      });
    })
    .optional(),
  /** Deleted profiles and devices can be restored for this many days; the purge removes them after. */
  SOFT_DELETE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
});

export type Env = z.infer<typeof envSchema>;

/** Every environment variable the server reads (each one is documented in .env.example; a test checks it). */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);
