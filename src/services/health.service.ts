/**
 * Readiness: can this process do its work right now? The database and the queue are required (down → 503);
 * Redis and FCM only degrade it. Liveness needs no service: a process that answers is alive.
 */
import { Redis } from 'ioredis';
import { ping } from '../db/client.ts';
import type { CircuitView } from '../push/circuit-breaker.ts';
import type { ServiceDeps } from './deps.ts';

export type CheckStatus = 'ok' | 'degraded' | 'down';

export interface Check {
  status: CheckStatus;
  latency_ms: number;
  /** Why it is not ok, in a few words (the full error is logged). */
  error?: string;
}

export interface Readiness {
  status: CheckStatus;
  checks: {
    database: Check;
    queue: Check & { waiting?: number; oldest_job_age_seconds?: number };
    /** Only when REDIS_URL is set. */
    redis?: Check;
    /** Only when there is a server-wide service account (GOOGLE_APPLICATION_CREDENTIALS or the sandbox). */
    fcm?: Check & { cached: boolean };
    /** The circuit breakers of this process's sends (docs/reliability.md). */
    fcm_sends: Check & { circuits: CircuitView[] };
  };
}

export interface ReadinessProbe {
  check(): Promise<Readiness>;
  close(): Promise<void>;
}

/** A job that could run but has waited longer than this means the workers are not keeping up. */
export const QUEUE_BACKLOG_DEGRADED_SECONDS = 300;
const TIMEOUT_MS = { database: 2_000, queue: 2_000, redis: 1_000, fcm: 5_000 };

class CheckTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A short reason that names no host, key or query. */
function reasonOf(error: unknown): string {
  if (error instanceof CheckTimeout) return error.message;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code.toLowerCase() : 'unavailable';
}

export function createReadinessProbe(
  deps: ServiceDeps,
  options: { fcmCacheMs?: number } = {},
): ReadinessProbe {
  const fcmCacheMs = options.fcmCacheMs ?? 30_000;
  const log = deps.logger.child({ component: 'readiness' });
  let redis: Redis | undefined;
  let fcm: { at: number; result: Promise<Check> } | undefined;

  const timed = async <T>(name: keyof typeof TIMEOUT_MS, work: () => Promise<T>) => {
    const started = performance.now();
    const latency = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      const value = await withTimeout(work(), TIMEOUT_MS[name]);
      return { ok: true as const, value, latency_ms: latency() };
    } catch (error) {
      log.warn({ err: error, check: name }, 'readiness check failed');
      return { ok: false as const, error: reasonOf(error), latency_ms: latency() };
    }
  };

  const toCheck = (r: { ok: boolean; latency_ms: number; error?: string }): Check =>
    r.ok
      ? { status: 'ok', latency_ms: r.latency_ms }
      : { status: 'down', latency_ms: r.latency_ms, error: r.error ?? 'unavailable' };

  const database = async (): Promise<Check> => toCheck(await timed('database', () => ping(deps.db)));

  const queue = async (): Promise<Readiness['checks']['queue']> => {
    const r = await timed('queue', () => deps.queue.depths());
    if (!r.ok) return { status: 'down', latency_ms: r.latency_ms, error: r.error };
    const waiting = r.value.reduce((sum, q) => sum + q.ready, 0);
    const oldest = Math.round(Math.max(0, ...r.value.map((q) => q.oldestReadySeconds)));
    return {
      status: oldest > QUEUE_BACKLOG_DEGRADED_SECONDS ? 'degraded' : 'ok',
      latency_ms: r.latency_ms,
      waiting,
      oldest_job_age_seconds: oldest,
    };
  };

  const redisCheck = async (url: string): Promise<Check> => {
    const r = await timed('redis', async () => {
      if (!redis) {
        redis = new Redis(url, {
          lazyConnect: true,
          connectTimeout: TIMEOUT_MS.redis,
          maxRetriesPerRequest: 0,
          // Fail at once while disconnected instead of queueing the PING until the timeout.
          enableOfflineQueue: false,
          retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
        });
        redis.on('error', () => {});
      }
      if (redis.status === 'wait' || redis.status === 'end') await redis.connect();
      await redis.ping();
    });
    return toCheck(r);
  };

  /** Mints (or reuses) an access token for the server-wide account, at most once per fcmCacheMs. */
  const fcmCheck = async (): Promise<Check & { cached: boolean }> => {
    const account = deps.defaultAccount!;
    const now = Date.now();
    const cached = fcm !== undefined && now - fcm.at < fcmCacheMs;
    if (!cached) {
      const result = timed('fcm', () => deps.push.checkCredentials(account)).then(toCheck);
      fcm = { at: now, result };
    }
    return { ...(await fcm!.result), cached };
  };

  return {
    async check() {
      const redisUrl = deps.config.redisUrl;
      const [db, q, r, f] = await Promise.all([
        database(),
        queue(),
        redisUrl ? redisCheck(redisUrl) : undefined,
        deps.defaultAccount ? fcmCheck() : undefined,
      ]);
      const sends = deps.circuit.fcmState();
      const checks: Readiness['checks'] = {
        database: db,
        queue: q,
        fcm_sends: { status: sends, latency_ms: 0, circuits: deps.circuit.circuits() },
      };
      if (r) checks.redis = r;
      if (f) checks.fcm = f;
      const required = [db, q];
      const status: CheckStatus = required.some((c) => c.status === 'down')
        ? 'down'
        : Object.values(checks).every((c) => c.status === 'ok')
          ? 'ok'
          : 'degraded';
      return { status, checks };
    },
    async close() {
      redis?.disconnect();
      redis = undefined;
    },
  };
}
