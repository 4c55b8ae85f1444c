/**
 * Where unexpected errors go besides the log: Sentry when SENTRY_DSN is set, nowhere otherwise. Without a DSN
 * @sentry/node is never even imported, so the reporter that is off costs nothing.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';

/** Identifies what failed; values are ids, never payloads or credentials. */
export type ErrorTags = Record<string, string | undefined>;

export interface ErrorReporter {
  readonly enabled: boolean;
  /** Reports an unexpected error (an API 5xx, a failing job) with tags such as request_id and tenant_id. */
  capture(error: unknown, tags: ErrorTags): void;
  /** Waits (at most timeoutMs) until reported errors have been sent. */
  flush(timeoutMs?: number): Promise<void>;
}

export const disabledReporter: ErrorReporter = {
  enabled: false,
  capture() {},
  async flush() {},
};

export async function createErrorReporter(config: Readonly<Config>, logger: Logger): Promise<ErrorReporter> {
  const { dsn, environment } = config.sentry;
  if (!dsn) return disabledReporter;
  const { startSentry } = await import('./sentry.ts');
  const sentry = startSentry({ dsn, environment });
  logger.info({ environment }, 'reporting errors to Sentry');
  return { enabled: true, capture: sentry.capture, flush: sentry.flush };
}
