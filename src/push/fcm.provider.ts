/** FCM HTTP v1: builds each messages:send request, sends it over the HTTP/2 pool, maps the answer to an outcome. */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { Http2Pool, type Http2Response, Http2TransportError } from './http2-pool.ts';
import { AccessTokenCache, AccessTokenError } from './oauth.ts';
import type {
  FcmErrorCode,
  FcmMessage,
  PushProvider,
  SendOptions,
  SendOutcome,
  ServiceAccount,
} from './push-provider.ts';

export const GOOGLE_FCM_BASE_URL = 'https://fcm.googleapis.com';

export interface FcmProviderOptions {
  /** Origin of the FCM API, e.g. https://fcm.googleapis.com or the emulator's URL. */
  baseUrl: string;
  /** HTTP/2 connections to keep open (requests are spread round-robin). Default 4. */
  sessions?: number;
  /** Upper bound on concurrent streams per connection; the server's own limit lowers it further. Default 100. */
  maxConcurrentStreams?: number;
  /** Per request, from the moment a stream slot is free until the whole answer is read. Default 10 s. */
  timeoutMs?: number;
  /** Used for the OAuth token endpoint (FCM itself is spoken over node:http2). */
  fetchImpl?: typeof fetch;
  /** Share one token cache between providers; by default each provider has its own. */
  tokenCache?: AccessTokenCache;
  /** Told about every exchange with FCM (metrics). */
  observer?: FcmObserver;
}

/** Watches the provider's traffic (the metrics implement it); it must not throw. */
export interface FcmObserver {
  /** One messages:send exchange ended: its duration (stream opened to answer read) and its error code, if any. */
  exchange(seconds: number, errorCode: FcmErrorCode | undefined): void;
  /** `count` messages failed before any request, because no access token could be minted. */
  failedWithoutRequest(errorCode: FcmErrorCode, count: number): void;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** The PushProvider for Firebase Cloud Messaging (HTTP v1 API). */
export class FcmProvider implements PushProvider {
  readonly #tokens: AccessTokenCache;
  readonly #pool: Http2Pool;
  readonly #observer: FcmObserver | undefined;
  #closed = false;

  constructor(options: FcmProviderOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`FCM base URL must be http:// or https://, got ${options.baseUrl}`);
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.#observer = options.observer;
    this.#tokens = options.tokenCache ?? new AccessTokenCache({ fetchImpl: options.fetchImpl, timeoutMs });
    this.#pool = new Http2Pool({
      origin: url.origin,
      peer: 'FCM',
      sessions: options.sessions ?? 4,
      maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
      timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
  }

  async send(
    account: ServiceAccount,
    messages: FcmMessage[],
    options: SendOptions = {},
  ): Promise<SendOutcome[]> {
    if (this.#closed) throw new Error('FcmProvider is closed');
    let token: string;
    try {
      token = await this.#tokens.getToken(account);
    } catch (error) {
      const outcome = tokenFailureOutcome(error);
      this.#observer?.failedWithoutRequest(outcome.errorCode, messages.length);
      return messages.map(() => outcome);
    }
    const path = `/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`;
    // One header object for the whole batch: node:http2 copies it, and building 500 of them showed in profiles.
    const headers = requestHeaders(path, token);
    return Promise.all(messages.map((message) => this.#sendOne(account, path, message, options, headers)));
  }

  async checkCredentials(account: ServiceAccount): Promise<void> {
    try {
      await this.#tokens.getToken(account);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `service account ${account.client_email} cannot obtain an FCM access token: ${reason}`,
        {
          cause: error,
        },
      );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool.close();
  }

  async #sendOne(
    account: ServiceAccount,
    path: string,
    message: FcmMessage,
    options: SendOptions,
    batchHeaders: OutgoingHttpHeaders,
  ): Promise<SendOutcome> {
    const body = Buffer.from(
      JSON.stringify(options.validateOnly ? { message, validate_only: true } : { message }),
      'utf8',
    );
    let headers = batchHeaders;
    let resent = false;
    let refreshed = false;
    for (;;) {
      let response: Http2Response;
      try {
        response = await this.#pool.request(headers, body);
      } catch (error) {
        if (!(error instanceof Http2TransportError)) {
          const reason = error instanceof Error ? error.message : String(error);
          this.#observer?.failedWithoutRequest('CONNECTION_ERROR', 1);
          return { kind: 'retryable', errorCode: 'CONNECTION_ERROR', message: reason };
        }
        this.#observer?.exchange(error.seconds, error.code);
        // A stream the server never processed (refused after GOAWAY, dead connection) is resent once.
        if (error.unprocessed && !resent && !this.#closed) {
          resent = true;
          continue;
        }
        return { kind: 'retryable', errorCode: error.code, message: error.message };
      }
      const outcome = mapFcmResponse(response.status, response.headers, response.body);
      this.#observer?.exchange(response.seconds, outcome.kind === 'sent' ? undefined : outcome.errorCode);
      const expiredToken =
        response.status === 401 && outcome.kind === 'permanent' && outcome.errorCode === 'AUTH_ERROR';
      if (!expiredToken || refreshed) return outcome;
      refreshed = true;
      this.#tokens.invalidate(account, bearerOf(headers));
      try {
        headers = requestHeaders(path, await this.#tokens.getToken(account));
      } catch (error) {
        return tokenFailureOutcome(error);
      }
    }
  }
}

/** A messages:send request's headers. No content-length: HTTP/2 frames the body itself (END_STREAM). */
function requestHeaders(path: string, accessToken: string): OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': path,
    authorization: `Bearer ${accessToken}`,
    'content-type': 'application/json; charset=UTF-8',
  };
}

/** The access token a request was sent with. */
function bearerOf(headers: OutgoingHttpHeaders): string {
  return String(headers.authorization).slice('Bearer '.length);
}

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const KNOWN_CODES = new Set<FcmErrorCode>([
  'UNSPECIFIED_ERROR',
  'INVALID_ARGUMENT',
  'UNREGISTERED',
  'SENDER_ID_MISMATCH',
  'QUOTA_EXCEEDED',
  'UNAVAILABLE',
  'INTERNAL',
  'THIRD_PARTY_AUTH_ERROR',
]);

interface GoogleErrorBody {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    details?: Array<{
      '@type'?: string;
      errorCode?: string;
      fieldViolations?: Array<{ field?: string; description?: string }>;
    }>;
  };
}

/**
 * Maps one messages:send answer to an outcome. Only FCM's own error codes mark a token dead: a bare 403/404
 * can also mean a misconfigured project, and deactivating devices for that would be destructive.
 */
export function mapFcmResponse(
  status: number,
  headers: IncomingHttpHeaders,
  body: string,
  now: number = Date.now(),
): SendOutcome {
  const parsed = parseBody(body);
  if (status === 200) {
    const name = (parsed as { name?: unknown } | undefined)?.name;
    if (typeof name === 'string') return { kind: 'sent', messageId: name };
    return {
      kind: 'retryable',
      errorCode: 'UNSPECIFIED_ERROR',
      message: 'FCM answered 200 without a message name',
    };
  }

  const error = (parsed as GoogleErrorBody | undefined)?.error;
  const detailCode = error?.details?.find((detail) => detail['@type'] === FCM_ERROR_TYPE)?.errorCode;
  const code =
    detailCode && KNOWN_CODES.has(detailCode as FcmErrorCode)
      ? (detailCode as FcmErrorCode)
      : codeForStatus(status);
  const message = error?.message ?? `HTTP ${status} from FCM${body ? `: ${body.slice(0, 200)}` : ''}`;
  const retryAfterMs = parseRetryAfter(headers['retry-after'], now);

  switch (code) {
    case 'UNREGISTERED':
    case 'SENDER_ID_MISMATCH':
      return { kind: 'permanent', errorCode: code, message, tokenInvalid: true };
    case 'INVALID_ARGUMENT':
      return { kind: 'permanent', errorCode: code, message, tokenInvalid: isInvalidTokenError(error) };
    case 'QUOTA_EXCEEDED':
    case 'UNAVAILABLE':
    case 'INTERNAL':
      return retryAfterMs === undefined
        ? { kind: 'retryable', errorCode: code, message }
        : { kind: 'retryable', errorCode: code, message, retryAfterMs };
    default:
      return { kind: 'permanent', errorCode: code, message, tokenInvalid: false };
  }
}

function codeForStatus(status: number): FcmErrorCode {
  if (status === 400) return 'INVALID_ARGUMENT';
  if (status === 401 || status === 403) return 'AUTH_ERROR';
  if (status === 429) return 'QUOTA_EXCEEDED';
  if (status === 500) return 'INTERNAL';
  if (status >= 500) return 'UNAVAILABLE';
  return 'UNSPECIFIED_ERROR';
}

/**
 * INVALID_ARGUMENT covers any bad field (payload too big, reserved data key, bad TTL…); only a bad token may
 * deactivate the device. FCM says so in the message ("The registration token is not a valid FCM registration
 * token") or, in older answers ("Request contains an invalid argument."), with a BadRequest field violation
 * on `message.token`.
 */
function isInvalidTokenError(error: GoogleErrorBody['error']): boolean {
  const message = error?.message ?? '';
  if (/registration token/i.test(message) && /not a valid|invalid/i.test(message)) return true;
  return (error?.details ?? []).some((detail) =>
    (detail.fieldViolations ?? []).some((violation) => violation.field === 'message.token'),
  );
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds from now (never negative). */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function tokenFailureOutcome(error: unknown): Exclude<SendOutcome, { kind: 'sent' }> {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof AccessTokenError && !error.retryable) {
    return { kind: 'permanent', errorCode: 'AUTH_ERROR', message, tokenInvalid: false };
  }
  return { kind: 'retryable', errorCode: 'AUTH_ERROR', message };
}
