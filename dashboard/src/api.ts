/**
 * The dashboard's one way to the API: the TypeScript SDK (packages/client: openapi-fetch typed by the OpenAPI
 * document) with the signed-in client's credentials, and its errors turned into an ApiError (code, message,
 * request id) that every page shows the same way.
 */
import { createClient, FcmServerError } from '../../packages/client/src/index.ts';
import type { components } from '../../packages/client/src/schema.d.ts';
import type { Credentials } from './session.ts';

export type Schemas = components['schemas'];

/** An API answer other than 2xx, or a request that never got one (code `network_error`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly details: ReadonlyArray<{ field?: string; message: string }> = [],
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: {
    code?: string;
    message?: string;
    request_id?: string;
    details?: Array<{ field?: string; message: string }>;
  };
}

/** The openapi-fetch client for these credentials. */
export function apiClient(credentials: Credentials) {
  // No retries: a person at the screen sees a 429 or 503 at once, with its message, rather than a wait.
  return createClient({
    baseUrl: location.origin,
    clientId: credentials.clientId,
    token: credentials.token,
    retry: false,
  });
}

export type Api = ReturnType<typeof apiClient>;

/** Awaits an openapi-fetch call: its data, or an ApiError in our format. */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await request;
  } catch (error) {
    if (error instanceof FcmServerError) {
      throw new ApiError(
        error.status,
        error.code,
        error.message,
        error.requestId,
        error.details as ReadonlyArray<{ field?: string; message: string }>,
      );
    }
    throw new ApiError(
      0,
      'network_error',
      `the server did not answer: ${(error as Error).message}`,
      undefined,
    );
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const body = (error ?? {}) as ErrorBody;
  throw new ApiError(
    response.status,
    body.error?.code ?? `http_${response.status}`,
    body.error?.message ?? response.statusText,
    body.error?.request_id ?? response.headers.get('x-request-id') ?? undefined,
    body.error?.details ?? [],
  );
}

/** The event stream of this tenant (docs/event-stream.md): the token travels as a subprotocol, never in the URL. */
export function openEventStream(credentials: Credentials, query: Record<string, string> = {}): WebSocket {
  const url = new URL('/api/v1/events/stream', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return new WebSocket(url, ['fcms.events.v1', `fcms.token.${credentials.token}`]);
}

/** One event of the stream. */
export interface StreamEvent {
  id: string;
  type: string;
  created_at: string;
  notification_id?: string;
  data: Record<string, unknown>;
}
