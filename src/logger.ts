/**
 * The pino logger, with every secret we handle redacted wherever it appears in a log object: JSON lines for
 * machines, or pretty (coloured, local time) lines for a person at a terminal.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Field names (compared case-insensitively) that hold credentials or push tokens, at any depth: headers
 * (Client-Token, Authorization, Cookie), request bodies (a device's `token`), service accounts
 * (`private_key`), OAuth tokens, webhook secrets. Sentry's scrubbing uses the same list.
 */
export const SENSITIVE_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'client-token',
  'client_token',
  'clienttoken',
  'pushtoken',
  'receipttoken',
  'serviceaccount',
  'cookie',
  'set-cookie',
  'x-admin-secret',
  // Browsers send the event stream's token as a WebSocket subprotocol (src/http/auth.ts).
  'sec-websocket-protocol',
  'token',
  'tokens',
  'push_token',
  'receipt_token',
  'fcms_receipt',
  'access_token',
  'accesstoken',
  'refresh_token',
  'assertion',
  'private_key',
  'privatekey',
  'service_account',
  'secret',
  'secrets',
  'webhook_secret',
  'signing_secret',
  'password',
]);

/** Serializers match keys exactly, so the spellings in camelCase are named too. */
const CAMEL_CASE_KEYS = [
  'clientToken',
  'pushToken',
  'receiptToken',
  'accessToken',
  'privateKey',
  'serviceAccount',
];

export const REDACTED = '[redacted]';
const MAX_DEPTH = 8;

export const isSensitiveKey = (key: string): boolean => SENSITIVE_KEYS.has(key.toLowerCase());

/** Credentials written into text: `Bearer …`, and long opaque values after "token" or "secret". */
const SECRET_IN_TEXT = /\b(Bearer|token|secret)(\s*[:=]?\s*)[A-Za-z0-9._~+/=-]{16,}/gi;

/** Error messages and stacks may quote what failed; this censors credentials written into them. */
export function redactText(text: string): string;
export function redactText(text: string | undefined): string | undefined;
export function redactText(text: string | undefined): string | undefined {
  return text?.replace(SECRET_IN_TEXT, `$1$2${REDACTED}`);
}

/**
 * A failed query's bound parameters (Drizzle writes them into the message and stack as `params: …`, and keeps
 * them in `params`) can hold phone numbers, ciphertexts and hashes: they are dropped; the SQL text and the
 * database's own error (`caused by: …`) stay.
 */
const QUERY_PARAMS_IN_TEXT = /\nparams: .*/g;

function serializeError(error: Error): pino.SerializedError {
  const serialized = pino.stdSerializers.err(error);
  const scrub = (text: string) => redactText(text).replace(QUERY_PARAMS_IN_TEXT, `\nparams: ${REDACTED}`);
  serialized.message = scrub(serialized.message);
  if (serialized.stack) serialized.stack = scrub(serialized.stack);
  if ('params' in serialized) serialized.params = REDACTED;
  return serialized;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The value with every sensitive key's value replaced, through plain objects and arrays (other objects are
 * left to their serializers). Returns the same value, uncopied, when there is nothing to redact: the common
 * case costs a walk over a few keys.
 */
export function redact<T>(value: T, depth = 0): T {
  if (depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const scrubbed = redact(item, depth + 1);
      if (scrubbed !== item) {
        copy ??= [...value];
        copy[i] = scrubbed;
      }
    });
    return (copy ?? value) as T;
  }
  if (!isPlain(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const scrubbed = isSensitiveKey(key) ? REDACTED : redact(item, depth + 1);
    if (scrubbed !== item) {
      copy ??= { ...value };
      copy[key] = scrubbed;
    }
  }
  return (copy ?? value) as T;
}

/**
 * Fastify logs `req` as a request object, which the walk above skips and pino's serializer turns into
 * {method, url, …}: should headers ever be added to that serializer, these paths still redact them.
 */
const HEADER_PATHS = [
  'req.headers.authorization',
  'req.headers["client-token"]',
  'req.headers.cookie',
  'req.headers["x-admin-secret"]',
  'req.headers["sec-websocket-protocol"]',
];

export type LogFormat = 'json' | 'pretty';

/**
 * LOG_FORMAT when set; otherwise pretty for a person (stdout is a terminal) outside production, and JSON for
 * log collectors, pipes and files, and always in production, where a terminal is someone tailing a container.
 */
export function resolveLogFormat(
  setting: LogFormat | undefined,
  where: { isTTY: boolean; production: boolean },
): LogFormat {
  return setting ?? (where.isTTY && !where.production ? 'pretty' : 'json');
}

/** pino-pretty in-process (no worker thread): one line per entry, local wall-clock time, no pid or host. */
export function prettyStream(destination?: NodeJS.WritableStream): pino.DestinationStream {
  return pretty({
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
    sync: true,
    ...(destination ? { destination, colorize: false } : {}),
  });
}

/** The process's logger on stdout, in the format the configuration and the terminal ask for. */
export function createProcessLogger(config: {
  logLevel: string;
  logFormat: LogFormat | undefined;
  production: boolean;
}): Logger {
  const format = resolveLogFormat(config.logFormat, {
    isTTY: process.stdout.isTTY === true,
    production: config.production,
  });
  return createLogger(config.logLevel, format === 'pretty' ? prettyStream() : undefined);
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: HEADER_PATHS, censor: REDACTED },
      formatters: { log: (object) => redact(object) },
      // Child-logger bindings skip the formatter: a sensitive key bound on a child is still censored.
      serializers: {
        ...Object.fromEntries([...SENSITIVE_KEYS, ...CAMEL_CASE_KEYS].map((key) => [key, () => REDACTED])),
        err: serializeError,
      },
    },
    destination,
  );
}
