/** The errors the SDK throws: the server's error answers, typed, and webhook signatures that do not verify. */

/** The server's error format: `{"error": {"code", "message", "details", "request_id"}}`. */
interface ErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown; request_id?: unknown };
}

/** An error answer of the API (4xx, 5xx): our stable error code, its message, the HTTP status and request id. */
export class FcmServerError extends Error {
  override readonly name = 'FcmServerError';
  /** The stable snake_case code, e.g. `rate_limited`, `not_found`, `validation_failed`. */
  readonly code: string;
  readonly status: number;
  /** Quote it when you report a problem: the server logs every request with it. */
  readonly requestId: string | undefined;
  readonly details: unknown[];

  constructor(init: {
    code: string;
    message: string;
    status: number;
    requestId?: string;
    details?: unknown[];
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details ?? [];
  }

  /** Reads an error answer; a body that is not ours (a proxy's HTML page) still gives the status. */
  static async fromResponse(response: Response): Promise<FcmServerError> {
    const text = await response.text();
    let body: ErrorBody = {};
    try {
      body = JSON.parse(text) as ErrorBody;
    } catch {
      // Not JSON: keep the status and the start of the text.
    }
    const error = body.error ?? {};
    const requestId =
      typeof error.request_id === 'string'
        ? error.request_id
        : (response.headers.get('x-request-id') ?? undefined);
    return new FcmServerError({
      code: typeof error.code === 'string' ? error.code : `http_${response.status}`,
      message: typeof error.message === 'string' ? error.message : text.slice(0, 200) || response.statusText,
      status: response.status,
      ...(requestId === undefined ? {} : { requestId }),
      details: Array.isArray(error.details) ? error.details : [],
    });
  }
}

/** A webhook whose signature, timestamp or headers do not verify: answer it 400 and do not act on it. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}
