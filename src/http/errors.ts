/**
 * One error format everywhere: {"error": {"code", "message", "details", "request_id"}}, including the errors
 * Fastify raises before our handlers run (validation, content type, malformed JSON, unknown route, body size).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, type ErrorDetail } from '../lib/errors.ts';

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
export function toAppError(error: FastifyError | Error): AppError {
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
      return new AppError('unsupported_media_type', 415, 'send the request body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 413, 'request body is too large');
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new AppError('bad_request', 400, 'the request URL is not valid');
  }
  if (fe instanceof SyntaxError || fe.statusCode === 400) {
    return new AppError('bad_request', 400, 'the request is not valid');
  }
  if (fe.statusCode === 413) return new AppError('payload_too_large', 413, 'request body is too large');
  if (fe.statusCode === 415)
    return new AppError('unsupported_media_type', 415, 'send the request body as application/json');
  if (isUnstorableText(error)) {
    return new AppError(
      'invalid_text',
      422,
      'text must be valid UTF-8 without NUL (\\u0000) characters, which PostgreSQL cannot store',
    );
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
 * `onUnexpected` hears of every 5xx that no service meant (not an AppError): the error tracker's feed.
 */
export function registerErrorHandling(
  app: FastifyInstance,
  onUnexpected?: (error: Error, request: FastifyRequest) => void,
): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) {
      const serialization = isResponseSerializationError(error);
      request.log.error({ err: error, serialization }, 'request failed');
      if (!(error instanceof AppError)) onUnexpected?.(error, request);
    }
    return sendError(reply, request, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      request,
      new AppError(
        'not_found',
        404,
        `no route for ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`,
      ),
    ),
  );
}
