/**
 * The typed API client: openapi-fetch over the generated `paths`, with what every caller would otherwise write
 * by hand: the credentials on each request, an idempotency key on each POST (so that a retried send is never
 * sent twice), retries of 429/503 after Retry-After, error answers thrown as FcmServerError, and cursor lists
 * as async iterables.
 *
 *   const fcm = createClient({ baseUrl: 'https://push.example.com', clientId, token });
 *   const { data } = await fcm.POST('/api/v1/notify/', { body: { all_devices: true, title: 'Hello' } });
 */
import createFetchClient, { type Client, type Middleware } from 'openapi-fetch';
import { FcmServerError } from './errors.ts';
import { type EventStreamOptions, streamEvents } from './events.ts';
import { type RetryOptions, retryingFetch } from './retry.ts';
import type { paths } from './schema.d.ts';

export interface ClientOptions {
  /** The server's origin, e.g. `https://push.example.com` (the API is under /api/v1). */
  baseUrl: string;
  /** With a client id, the token goes as Client-ID + Client-Token; without, as `Authorization: Bearer`. */
  clientId?: string;
  /** The client token (`fcms_…`). Never ship it in an app or a web page: see the browser module. */
  token?: string;
  /** Another fetch (a test double, a proxy agent); globalThis.fetch by default. */
  fetch?: (request: Request) => Promise<Response>;
  /** How 429 and 503 answers are retried; `false` turns retrying off. */
  retry?: RetryOptions | false;
  /** Headers added to every request. */
  headers?: Record<string, string>;
}

/** The paths whose GET answers a page `{ items, next_cursor }`. */
export type ListPath = {
  [P in keyof paths]: paths[P] extends {
    get: {
      responses: { 200: { content: { 'application/json': { items: unknown[]; next_cursor: unknown } } } };
    };
  }
    ? P
    : never;
}[keyof paths];

type ListOperation<P extends ListPath> = paths[P]['get'];
/** One item of a list path's pages. */
export type ListItem<P extends ListPath> =
  ListOperation<P>['responses'][200]['content']['application/json']['items'][number];
type ListParams<P extends ListPath> = ListOperation<P>['parameters'];

export interface FcmClient extends Client<paths> {
  /**
   * Every item of a list, page after page (following next_cursor), fetched as the loop asks for them.
   *   for await (const device of fcm.paginate('/api/v1/devices/', { query: { platform: 'web' } })) …
   */
  paginate<P extends ListPath>(
    path: P,
    params?: { query?: Omit<NonNullable<ListParams<P>['query']>, 'cursor'>; path?: ListParams<P>['path'] },
  ): AsyncIterable<ListItem<P>>;
  /** The live event stream (WebSocket), resumed with `after` across disconnects. */
  events(options?: Omit<EventStreamOptions, 'baseUrl' | 'token'>): ReturnType<typeof streamEvents>;
}

/** A UUID from WebCrypto (Node ≥ 19, every current browser in a secure context). */
const newIdempotencyKey = (): string => globalThis.crypto.randomUUID();

export function createClient(options: ClientOptions): FcmClient {
  const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const credentials: Record<string, string> = {};
  if (options.token !== undefined) {
    if (options.clientId !== undefined) {
      credentials['client-id'] = options.clientId;
      credentials['client-token'] = options.token;
    } else {
      credentials.authorization = `Bearer ${options.token}`;
    }
  }
  const api = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: options.retry === false ? baseFetch : retryingFetch(baseFetch, options.retry),
    headers: { ...options.headers, ...credentials },
  });
  api.use(middleware);

  async function* paginate(
    path: string,
    params: { query?: Record<string, unknown>; path?: Record<string, unknown> } = {},
  ): AsyncIterable<unknown> {
    let cursor: string | null | undefined;
    do {
      const query = { ...params.query, ...(cursor ? { cursor } : {}) };
      // The path is one of ListPath, whose GET takes these parameters; openapi-fetch cannot see that through
      // the generic, hence the widening.
      const { data } = await (api.GET as (path: string, init: unknown) => Promise<{ data?: unknown }>)(path, {
        params: { query, path: params.path },
      });
      const page = data as { items: unknown[]; next_cursor: string | null };
      yield* page.items;
      cursor = page.next_cursor;
    } while (cursor);
  }

  return Object.assign(api, {
    paginate: paginate as FcmClient['paginate'],
    events: (streamOptions: Omit<EventStreamOptions, 'baseUrl' | 'token'> = {}) =>
      streamEvents({ ...streamOptions, baseUrl: options.baseUrl, token: options.token ?? '' }),
  });
}

const middleware: Middleware = {
  onRequest({ request }) {
    if (request.method === 'POST' && !request.headers.has('idempotency-key')) {
      request.headers.set('idempotency-key', newIdempotencyKey());
    }
    return request;
  },
  async onResponse({ response }) {
    if (!response.ok) throw await FcmServerError.fromResponse(response);
    return response;
  },
};
