/**
 * Sentry for errors only (no tracing, no breadcrumbs, no request bodies): initialised once per process, and
 * every event scrubbed of credentials before it leaves. Imported only when SENTRY_DSN is set, by
 * error-reporter.ts; it does not import that module back, so it declares the small client shape it returns.
 */
import * as Sentry from '@sentry/node';
import { isSensitiveKey, REDACTED, redact, redactText } from '../logger.ts';

/** What the error reporter needs from Sentry: report one error with its tags, and wait for delivery. */
export interface SentryClient {
  capture(error: unknown, tags: Record<string, string | undefined>): void;
  flush(timeoutMs?: number): Promise<void>;
}

let initialisedDsn: string | undefined;

/** beforeSend: no request body, cookies or query; headers and every other map lose their sensitive keys. */
export function scrubEvent<E extends Sentry.Event>(event: E): E {
  if (event.request) {
    const { headers, url, method } = event.request;
    event.request = {
      ...(url ? { url: url.split('?')[0] } : {}),
      ...(method ? { method } : {}),
      ...(headers
        ? {
            headers: Object.fromEntries(
              Object.entries(headers).map(([k, v]) => [k, isSensitiveKey(k) ? REDACTED : v]),
            ),
          }
        : {}),
    };
  }
  delete event.breadcrumbs;
  if (event.user) event.user = event.user.id === undefined ? {} : { id: event.user.id };
  if (event.extra) event.extra = redact(event.extra);
  if (event.contexts) event.contexts = redact(event.contexts);
  if (event.tags) event.tags = redact(event.tags);
  if (event.message) event.message = redactText(event.message);
  for (const exception of event.exception?.values ?? []) exception.value = redactText(exception.value);
  return event;
}

export function startSentry(options: { dsn: string; environment: string }): SentryClient {
  // Once per process: the global handlers (uncaught exceptions) must not be installed twice. Several
  // runtimes in one process (tests) with different DSNs re-point the one client at the latest DSN.
  if (initialisedDsn !== options.dsn) {
    Sentry.initWithoutDefaultIntegrations({
      dsn: options.dsn,
      environment: options.environment,
      dataCollection: {
        userInfo: false,
        cookies: false,
        httpHeaders: false,
        httpBodies: [],
        urlQueryParams: false,
      },
      maxBreadcrumbs: 0,
      enableRuntimeChannelInjection: false,
      integrations: [
        Sentry.linkedErrorsIntegration(),
        Sentry.nodeContextIntegration(),
        Sentry.contextLinesIntegration(),
        Sentry.onUncaughtExceptionIntegration(),
        Sentry.onUnhandledRejectionIntegration(),
      ],
      beforeSend: scrubEvent,
    });
    initialisedDsn = options.dsn;
  }
  return {
    capture(error, tags) {
      Sentry.withScope((scope) => {
        for (const [key, value] of Object.entries(tags)) if (value !== undefined) scope.setTag(key, value);
        Sentry.captureException(error);
      });
    },
    async flush(timeoutMs = 2_000) {
      await Sentry.flush(timeoutMs);
    },
  };
}
