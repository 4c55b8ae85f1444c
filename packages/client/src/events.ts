/**
 * The live event stream (docs/event-stream.md) as an async iterable that survives disconnects: it keeps the id
 * of the last event and reconnects with `after=<id>` when the server closes for a reason a reconnect cures
 * (shutdown, a dropped network, a slow consumer, the replay limit), so that the loop sees every event once
 * per connection and no gap between connections. The token goes as a subprotocol, the one way a browser
 * WebSocket can carry it; Node ≥ 22's global WebSocket does the same.
 */

export interface StreamEvent {
  id: string;
  type: string;
  created_at: string;
  notification_id?: string | null;
  data: Record<string, unknown>;
}

export interface EventStreamOptions {
  baseUrl: string;
  /** A client token with the `read` scope. */
  token: string;
  /** Only these event types. */
  types?: string[];
  /** Only this notification's events. */
  notificationId?: string;
  /** Start after this event id (the replay), rather than with the events to come. */
  after?: string;
  /** Ends the iteration (and closes the socket). */
  signal?: AbortSignal;
  /** Reconnects in a row, none receiving an event, before the iteration fails (default 5). */
  maxReconnects?: number;
  /** Called each time a connection opens (the first, and each reconnect). */
  onConnect?: () => void;
  /** Another WebSocket implementation (e.g. the `ws` package); the global one by default. */
  WebSocket?: typeof WebSocket;
}

/** Close codes after which reconnecting with `after` resumes the stream (docs/event-stream.md, Close codes). */
const RESUMABLE = new Set([1001, 1006, 1011, 1012, 4008, 4010]);

/** The stream ended in a way a reconnect does not cure (refused at the upgrade, a bad filter, 1008…). */
export class EventStreamError extends Error {
  override readonly name = 'EventStreamError';
  readonly closeCode: number;
  constructor(message: string, closeCode: number) {
    super(message);
    this.closeCode = closeCode;
  }
}

type Next = { event: StreamEvent } | { closed: { code: number; reason: string; opened: boolean } };

/** One connection: its messages and its end, queued for the iterator to take. */
function connect(options: EventStreamOptions, after: string | undefined) {
  const url = new URL('/api/v1/events/stream', options.baseUrl.replace(/^http/, 'ws'));
  if (options.types?.length) url.searchParams.set('types', options.types.join(','));
  if (options.notificationId) url.searchParams.set('notification_id', options.notificationId);
  if (after) url.searchParams.set('after', after);
  const Socket = options.WebSocket ?? globalThis.WebSocket;
  const socket = new Socket(url, ['fcms.events.v1', `fcms.token.${options.token}`]);
  const queue: Next[] = [];
  let wake: (() => void) | undefined;
  let opened = false;
  const push = (next: Next) => {
    queue.push(next);
    wake?.();
  };
  socket.onopen = () => {
    opened = true;
    options.onConnect?.();
  };
  socket.onmessage = (message) => push({ event: JSON.parse(String(message.data)) as StreamEvent });
  socket.onclose = (close) => push({ closed: { code: close.code, reason: close.reason, opened } });
  return {
    socket,
    async next(): Promise<Next> {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return queue.shift()!;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every event of the tenant (as filtered), until `signal` aborts or the server refuses to go on. */
export async function* streamEvents(options: EventStreamOptions): AsyncGenerator<StreamEvent> {
  let after = options.after;
  let failures = 0;
  const maxReconnects = options.maxReconnects ?? 5;
  while (!options.signal?.aborted) {
    const connection = connect(options, after);
    const abort = () => connection.socket.close(1000);
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      for (;;) {
        const next = await connection.next();
        if ('event' in next) {
          after = next.event.id;
          failures = 0;
          yield next.event;
          continue;
        }
        const { code, reason, opened } = next.closed;
        if (options.signal?.aborted || code === 1000) return;
        // 4010's reason names where the replay stopped; otherwise the last event seen is where to resume.
        after = /after=(\S+)$/.exec(reason)?.[1] ?? after;
        if (!RESUMABLE.has(code) || (!opened && failures >= maxReconnects)) {
          throw new EventStreamError(
            opened
              ? `event stream closed: ${code} ${reason}`
              : 'event stream refused (check the token, its read scope, the filters and `after`)',
            code,
          );
        }
        failures += 1;
        break;
      }
    } finally {
      options.signal?.removeEventListener('abort', abort);
      if (connection.socket.readyState <= 1) connection.socket.close(1000);
    }
    await sleep(Math.min(250 * 2 ** failures, 10_000));
  }
}
