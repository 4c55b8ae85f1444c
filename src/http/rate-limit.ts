/**
 * Rate limits (@fastify/rate-limit): a fixed one-minute window per client and endpoint group (send, bulk,
 * device_registration, device_import, analytics, default), unauthenticated requests per IP address. Counted in Redis when
 * REDIS_URL is set, so every API process shares one budget; in-process otherwise.
 *
 * Runs as a preValidation hook registered after authentication, so it keys on the tenant and rejects before
 * any handler, idempotency claim or database write. When Redis is unreachable the limiter fails open: the
 * request goes through unlimited and a warning is logged (rate limits protect capacity; an outage of the
 * optional Redis must not stop notifications). Redis commands time out quickly, so a request never hangs on it.
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { AppError } from '../lib/errors.ts';
import { effectiveLimit, type RateLimitGroup, rateLimitGroupOf } from '../lib/rate-limits.ts';

const WINDOW_MS = 60_000;
/** A Redis that accepts connections but does not answer costs a request at most this long. */
const REDIS_COMMAND_TIMEOUT_MS = 250;
/** At most one "limiter unavailable" warning per this interval, not one per request. */
const WARN_INTERVAL_MS = 30_000;

/** A Redis connection for the limiter: fails commands at once while disconnected instead of queueing them. */
export async function connectRateLimitRedis(url: string, logger: Logger): Promise<Redis> {
  let lastWarned = 0;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  redis.on('error', (error: Error) => {
    if (Date.now() - lastWarned < WARN_INTERVAL_MS) return;
    lastWarned = Date.now();
    logger.warn({ err: error }, 'rate-limit Redis unavailable: limits are not enforced until it is back');
  });
  // Wait briefly for the first connection so the first requests are counted; never block start-up on it.
  const connected = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(resolve, 2_000, false);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!connected) {
    logger.warn({ redis: redactUrl(url) }, 'rate-limit Redis not reachable yet: limits fail open meanwhile');
  }
  return redis;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

const groupOf = (request: FastifyRequest) => rateLimitGroupOf(request.method, request.routeOptions.url ?? '');

function subjectOf(request: FastifyRequest): string {
  return request.principal ? `t:${request.principal.clientId}` : `ip:${normalizeIP(request.ip)}`;
}

export async function registerRateLimits(
  app: FastifyInstance,
  options: {
    limits: Config['rateLimits'];
    redis: Redis | undefined;
    keyPrefix: string;
  },
): Promise<void> {
  const { limits, redis } = options;
  if (!limits.enabled) return;
  const groupOfKey = (key: string) => key.slice(0, key.indexOf(':')) as RateLimitGroup;
  await app.register(rateLimit, {
    // Not per route: one hook below, after authentication.
    global: false,
    timeWindow: WINDOW_MS,
    keyGenerator: (request) => `${groupOf(request) ?? 'default'}:${subjectOf(request)}`,
    max: (request, key) => effectiveLimit(groupOfKey(key), limits.perMinute, request.principal?.rateLimits),
    ...(redis ? { redis, nameSpace: `${options.keyPrefix}rl:` } : { cache: 100_000 }),
  });
  const limiter = app.createRateLimit();
  let lastWarned = 0;

  app.addHook('preValidation', async (request, reply) => {
    if (groupOf(request) === undefined) return;
    let result: Awaited<ReturnType<typeof limiter>>;
    try {
      result = await limiter(request);
    } catch (error) {
      if (Date.now() - lastWarned >= WARN_INTERVAL_MS) {
        lastWarned = Date.now();
        request.log.warn({ err: error }, 'rate limiter unavailable: request allowed without a limit');
      }
      return;
    }
    if (result.isAllowed) return;
    const group = groupOfKey(result.key);
    const reset = Math.max(1, result.ttlInSeconds);
    reply.headers({
      'ratelimit-limit': result.max,
      'ratelimit-remaining': result.remaining,
      'ratelimit-reset': reset,
      'ratelimit-policy': `${result.max};w=${WINDOW_MS / 1000}`,
    });
    if (result.isExceeded) {
      throw new AppError(
        'rate_limited',
        429,
        `too many requests: ${result.max} per minute allowed for "${group}" requests; retry in ${reset} s`,
        [{ message: 'rate limit exceeded', group, limit: result.max, window_seconds: WINDOW_MS / 1000 }],
        { 'retry-after': String(reset) },
      );
    }
  });
}
