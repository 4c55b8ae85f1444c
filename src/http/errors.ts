/**
 * One error format everywhere: {"error": {"code", "message", "details", "request_id"}}, including the errors
 * Fastify raises before our handlers run (validation, content type, malformed JSON, unknown route, wrong method,
 * body size) and those Node's HTTP parser answers before Fastify sees a request (header overflow, bad request line).
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, type ErrorDetail } from '../lib/errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body media types a route reads, when more than JSON: named by its 415 answer. */
    bodyMediaTypes?: readonly string[];
  }
}

/** 415, naming the media types the route reads (JSON unless it declares others). */
function unsupportedMediaType(request: FastifyRequest | undefined): AppError {
  const types = request?.routeOptions.config.bodyMediaTypes ?? ['application/json'];
  return new AppError('unsupported_media_type', 415, `send the request body as ${types.join(' or ')}`);
}

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_error' }),
      message: z.string(),
      details: z.array(z.object({ field: z.string().optional(), message: z.string() }).catchall(z.unknown())),
      request_id: z.string(),
    }),
  })
  .meta({ id: 'Error', description: 'The error format of every endpoint' });

export function errorBody(code: string, message: string, details: ErrorDetail[], requestId: string) {
  return { error: { code, message, details, request_id: requestId } };
}

export function sendError(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  reply.headers(error.headers);
  return reply.code(error.status).send(errorBody(error.code, error.message, error.details, request.id));
}

/** Maps a validation issue path from Fastify's "body"/"querystring" naming to the field the client sent. */
function validationDetails(error: FastifyError): ErrorDetail[] {
  if (!hasZodFastifySchemaValidationErrors(error)) return [{ message: error.message }];
  return error.validation.map((v) => {
    const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
    return { field: path || undefined, message: v.message ?? 'invalid value' };
  });
}

/** Translates any thrown error into an AppError with the right status and a stable code. */
export function toAppError(error: FastifyError | Error, request?: FastifyRequest): AppError {
  if (error instanceof AppError) return error;
  const fe = error as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext;
    const details = validationDetails(fe).map((d) => ({
      ...d,
      field: d.field ? `${where}.${d.field}` : where,
    }));
    if (where === 'params') return new AppError('not_found', 404, 'resource not found', details);
    if (where === 'querystring')
      return new AppError('invalid_query', 400, 'query parameters are not valid', details);
    if (where === 'headers')
      return new AppError('invalid_headers', 400, 'request headers are not valid', details);
    return new AppError('validation_error', 422, 'request body is not valid', details);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('malformed_json', 400, 'request body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return unsupportedMediaType(request);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge(request?.routeOptions.bodyLimit);
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new AppError('bad_request', 400, 'the request URL is not valid');
  }
  if (fe instanceof SyntaxError || fe.statusCode === 400) {
    return new AppError('bad_request', 400, 'the request is not valid');
  }
  if (fe.statusCode === 413) return bodyTooLarge(request?.routeOptions.bodyLimit);
  if (fe.statusCode === 415) return unsupportedMediaType(request);
  if (isUnstorableText(error)) {
    return new AppError(
      'invalid_text',
      422,
      'text must be valid UTF-8 without NUL (\\u0000) characters, which PostgreSQL cannot store',
    );
  }
  if (isDataException(error)) {
    // The value passed validation but the database cannot hold it (a year PostgreSQL cannot store, a number
    // out of its range): the client's input, so a client error. Without a body only the URL can be at fault.
    return hasBody(request)
      ? new AppError('validation_error', 422, 'a value in the request body is out of the range we can store')
      : new AppError('invalid_query', 400, 'a value in the query string is out of the range we can store');
  }
  if (isDatabaseUnavailable(error)) {
    return new AppError('service_unavailable', 503, 'the database is unavailable, try again shortly', [], {
      'retry-after': '5',
    });
  }
  return new AppError('internal_error', 500, 'internal server error');
}

/**
 * PostgreSQL refuses NUL characters in text and jsonb (22021 / 22P05). Any input can carry one, so the refusal
 * is the client's problem (422), not a 500; nothing was written, the statement failed.
 */
function isUnstorableText(error: Error): boolean {
  return causes(error).some((e) => e.code === '22021' || e.code === '22P05');
}

/**
 * SQLSTATE class 22 (data exception: 22008 datetime field overflow, 22003 numeric value out of range, 22P02
 * invalid text representation, …) from pg or PGlite, possibly wrapped by Drizzle: the last line of defence
 * behind the schemas, which should refuse such values first.
 */
function isDataException(error: Error): boolean {
  return causes(error).some(({ code }) => typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code));
}

function hasBody(request: FastifyRequest | undefined): boolean {
  return request?.body !== undefined && request.body !== null;
}

function bodyTooLarge(limit: number | undefined): AppError {
  if (limit === undefined) return new AppError('payload_too_large', 413, 'request body is too large');
  return new AppError('payload_too_large', 413, `request body is larger than the limit of ${limit} bytes`, [
    { field: 'body', message: `at most ${limit} bytes`, limit_bytes: limit },
  ]);
}

/** The error and what it wraps (Drizzle wraps driver errors in `cause`). */
function causes(error: unknown): { code?: unknown; message?: unknown }[] {
  const chain: { code?: unknown; message?: unknown }[] = [];
  let current = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    chain.push(current);
    current = current.cause as typeof current;
  }
  return chain;
}

/** Connection-level database failures (PostgreSQL restarting): a 503 the client may retry, not a 500. */
function isDatabaseUnavailable(error: Error): boolean {
  return causes(error).some(
    ({ code, message }) =>
      (typeof code === 'string' &&
        (/^(08|57P0)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code))) ||
      (typeof message === 'string' &&
        /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
          message,
        )),
  );
}

/**
 * Node's parser counts the request line towards its 16 KB header limit; an overflow whose request line alone is
 * longer than this is a URL that is too long (414), otherwise the headers are (431).
 */
export const MAX_URL_LENGTH = 8192;

/**
 * `onUnexpected` hears of every 5xx that no service meant (not an AppError): the error tracker's feed.
 */
export function registerErrorHandling(
  app: FastifyInstance,
  onUnexpected?: (error: Error, request: FastifyRequest) => void,
): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error, request);
    if (appError.status >= 500) {
      const serialization = isResponseSerializationError(error);
      request.log.error({ err: error, serialization }, 'request failed');
      if (!(error instanceof AppError)) onUnexpected?.(error, request);
    }
    return sendError(reply, request, appError);
  });
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => routes.add(route.method, route.url));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = routes.methodsFor(path);
    if (allowed.length > 0) {
      return sendError(
        reply,
        request,
        new AppError(
          'method_not_allowed',
          405,
          `${request.method} is not allowed on this path; use ${allowed.join(', ')}`,
          [],
          { allow: allowed.join(', ') },
        ),
      );
    }
    return sendError(
      reply,
      request,
      new AppError('not_found', 404, `no route for ${request.method} ${path.slice(0, 200)}`),
    );
  });
}

/**
 * The registered paths and their methods, to tell "no such path" (404) from "no such method here" (405 with
 * Allow). Fastify's own router matches a method first, so it cannot answer "which methods has this path".
 * Patterns are matched the way the router is configured: trailing and duplicate slashes ignored.
 */
class RouteTable {
  private readonly entries: { pattern: RegExp; methods: Set<string> }[] = [];

  add(method: string | string[], url: string): void {
    // A catch-all (CORS pre-flight on every path) says nothing about which resources exist.
    const methods = (Array.isArray(method) ? method : [method]).filter((m) => m !== 'OPTIONS');
    if (methods.length === 0 || url === '*' || url === '/*') return;
    const source = normalizePath(url)
      .split('/')
      .map((segment) =>
        segment === '*'
          ? '.*'
          : segment.startsWith(':')
            ? '[^/]+'
            : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    const existing = this.entries.find((e) => e.pattern.source === pattern.source);
    if (existing) for (const m of methods) existing.methods.add(m);
    else this.entries.push({ pattern, methods: new Set(methods) });
  }

  methodsFor(url: string): string[] {
    const path = normalizePath(url);
    const methods = new Set<string>();
    for (const entry of this.entries) {
      if (entry.pattern.test(path)) for (const m of entry.methods) methods.add(m);
    }
    return [...methods].sort();
  }
}

const normalizePath = (path: string) => path.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');

const uriTooLong = () =>
  new AppError('uri_too_long', 414, `the request URL is longer than ${MAX_URL_LENGTH} characters`, [
    { field: 'url', message: `at most ${MAX_URL_LENGTH} characters`, limit: MAX_URL_LENGTH },
  ]);

/**
 * Fastify's `clientErrorHandler`: the errors Node's HTTP parser raises before there is a request (headers over
 * its size limit, a request line it cannot parse) answered in our error format on the raw socket, then closed.
 */
export function answerClientError(
  error: Error & { code?: string; rawPacket?: unknown },
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const appError = clientError(error);
  const requestId = randomUUID();
  const body = JSON.stringify(errorBody(appError.code, appError.message, appError.details, requestId));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-ID: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}

function clientError(error: { code?: string; rawPacket?: unknown }): AppError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new AppError('request_timeout', 408, 'the request was not received in time');
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const raw = Buffer.isBuffer(error.rawPacket) ? error.rawPacket : Buffer.alloc(0);
    const lineEnd = raw.indexOf('\r\n');
    const requestLine = lineEnd === -1 ? raw.length : lineEnd;
    if (requestLine > MAX_URL_LENGTH) return uriTooLong();
    return new AppError('headers_too_large', 431, 'the request headers are too large');
  }
  return new AppError('bad_request', 400, 'the request is not valid HTTP', [
    { message: error.code === undefined ? 'unparsable request' : `parser: ${error.code}` },
  ]);
}
