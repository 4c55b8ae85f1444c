/** The one error type services throw; the HTTP layer renders it as {"error": {code, message, details, request_id}}. */

export interface ErrorDetail {
  /** Where the problem is, e.g. "body.phone_number" or "targets[3]". */
  field?: string;
  message: string;
  [key: string]: unknown;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: string;
  readonly status: number;
  readonly details: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(
    code: string,
    status: number,
    message: string,
    details: ErrorDetail[] = [],
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
    this.headers = headers;
  }
}

export const notFound = (what: string) => new AppError('not_found', 404, `${what} not found`);

export const invalid = (message: string, details: ErrorDetail[] = []) =>
  new AppError('validation_error', 422, message, details);

/** A query-string value the schema could not judge alone: 400 like every other bad query (422 is for bodies). */
export const invalidQuery = (message: string, details: ErrorDetail[] = []) =>
  new AppError('invalid_query', 400, message, details);
