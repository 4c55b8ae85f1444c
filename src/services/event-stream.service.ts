/**
 * The live event stream of this process: its subscribers (WebSocket connections), fed from the event bus.
 *
 * The bus says which outbox rows committed; the stream reads those rows (one query per burst of
 * announcements, and only for tenants with a subscriber here) and hands every subscriber the events its filter
 * wants, in commit order. A resumed subscriber (`after`) first gets what it missed, replayed from the table
 * (bounded), then goes live with neither gap nor repeat: live events are held back during the replay.
 * When the bus loses its connection, every subscriber is ended so that it resumes once the bus is back,
 * rather than silently missing events.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import type { BusSignal, EventBus } from '../db/event-bus.ts';
import {
  type EventFilter,
  type EventNotice,
  type EventRow,
  findEventSequence,
  listEventsByIds,
  listFilteredEventsAfter,
} from '../db/events.repository.ts';
import { AppError } from '../lib/errors.ts';
import { EVENT_TYPES, type EventType } from './events.ts';

/** One message on the stream: the Standard Webhooks-like event (never a push token). */
export interface StreamMessage {
  id: string;
  type: string;
  created_at: string;
  notification_id: string | null;
  data: Record<string, unknown>;
}

/** Why the server ends a subscription; the transport turns it into a close code. */
export type StreamEnd = 'shutdown' | 'feed_interrupted' | 'replay_limit' | 'slow_consumer' | 'failed';

/** Where a subscriber's messages go: the transport (a WebSocket), which applies its own backpressure. */
export interface StreamSink {
  /** Sends one serialized StreamMessage. */
  send(json: string): void;
  /**
   * Resolves once the transport has room again (the replay is paced by the client's reading, where live
   * events are not); false when the connection has closed meanwhile.
   */
  writable(): Promise<boolean>;
  /** Ends the connection; `detail` is for the client (the close reason). */
  end(why: StreamEnd, detail?: string): void;
}

export interface StreamRequest {
  tenantId: string;
  filter: EventFilter;
  /** The outbox id to replay after (resolved from the public `after` event id). */
  afterSequence: string | undefined;
}

export interface StreamSubscription {
  /** Stops delivering (the connection closed). Idempotent. */
  close(): void;
}

interface Subscriber {
  tenantId: string;
  types: ReadonlySet<string> | undefined;
  notificationId: string | undefined;
  sink: StreamSink;
  /** Live events held back while the replay runs; undefined once live. */
  held: EventRow[] | undefined;
  closed: boolean;
}

/**
 * What the stream carries: every event type, except `webhook.test`, which is addressed to one endpoint (it is
 * written without an announcement, so only a replay could show it).
 */
export const STREAM_EVENT_TYPES: readonly EventType[] = EVENT_TYPES.filter((type) => type !== 'webhook.test');

/** Live events a replaying subscriber may have waiting before it counts as a slow consumer. */
const MAX_HELD = 1_000;
/** The replay reads the table this many rows at a time, so a resumed connection holds little in memory. */
const REPLAY_PAGE = 100;

export function toStreamMessage(row: EventRow): StreamMessage {
  return {
    id: row.event_id,
    type: row.type,
    created_at: new Date(row.created_at).toISOString(),
    notification_id: row.notification_id,
    data: row.payload,
  };
}

export interface EventStreamDeps {
  db: Db;
  logger: Logger;
  replayLimit: number;
}

export class EventStream {
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #replayLimit: number;
  readonly #bus: EventBus;
  readonly #unsubscribe: () => void;
  readonly #byTenant = new Map<string, Set<Subscriber>>();
  #notices: EventNotice[] = [];
  #draining = false;
  #closed = false;

  constructor(deps: EventStreamDeps, bus: EventBus) {
    this.#db = deps.db;
    this.#logger = deps.logger;
    this.#replayLimit = deps.replayLimit;
    this.#bus = bus;
    this.#unsubscribe = bus.subscribe((signal) => this.#onSignal(signal));
  }

  /** Subscribers connected to this process. */
  get size(): number {
    let n = 0;
    for (const set of this.#byTenant.values()) n += set.size;
    return n;
  }

  /**
   * Checks a stream request before the connection is upgraded, so that a refusal is an ordinary HTTP error:
   * 503 while the bus is reconnecting, 404 for an `after` event the tenant does not have.
   */
  async prepare(
    tenantId: string,
    query: {
      types?: EventType[] | undefined;
      notification_id?: string | undefined;
      after?: string | undefined;
    },
  ): Promise<StreamRequest> {
    if (this.#closed || !this.#bus.connected) {
      throw new AppError(
        'service_unavailable',
        503,
        'the event stream is not available, try again shortly',
        [],
        {
          'retry-after': '2',
        },
      );
    }
    let afterSequence: string | undefined;
    if (query.after !== undefined) {
      afterSequence = await findEventSequence(this.#db, tenantId, query.after);
      if (afterSequence === undefined) {
        throw new AppError('not_found', 404, 'event not found', [
          { field: 'querystring.after', message: 'no event with this id (it may have been purged)' },
        ]);
      }
    }
    return {
      tenantId,
      filter: { types: query.types ?? STREAM_EVENT_TYPES, notificationId: query.notification_id },
      afterSequence,
    };
  }

  /** Subscribes a connection; a resumed one gets its replay first. */
  open(request: StreamRequest, sink: StreamSink): StreamSubscription {
    const subscriber: Subscriber = {
      tenantId: request.tenantId,
      types: request.filter.types ? new Set(request.filter.types) : undefined,
      notificationId: request.filter.notificationId,
      sink,
      held: request.afterSequence === undefined ? undefined : [],
      closed: false,
    };
    let set = this.#byTenant.get(request.tenantId);
    if (!set) {
      set = new Set();
      this.#byTenant.set(request.tenantId, set);
    }
    set.add(subscriber);
    if (this.#closed) sink.end('shutdown');
    else if (request.afterSequence !== undefined)
      void this.#replay(subscriber, request, request.afterSequence);
    return { close: () => this.#remove(subscriber) };
  }

  /** Ends every subscriber (server shutdown) and stops listening to the bus. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#endAll('shutdown');
  }

  #remove(subscriber: Subscriber): void {
    if (subscriber.closed) return;
    subscriber.closed = true;
    subscriber.held = undefined;
    const set = this.#byTenant.get(subscriber.tenantId);
    set?.delete(subscriber);
    if (set?.size === 0) this.#byTenant.delete(subscriber.tenantId);
  }

  #endAll(why: StreamEnd, tenants?: ReadonlySet<string>): void {
    for (const [tenantId, set] of [...this.#byTenant]) {
      if (tenants && !tenants.has(tenantId)) continue;
      for (const subscriber of [...set]) {
        subscriber.sink.end(why);
        this.#remove(subscriber);
      }
    }
  }

  async #replay(subscriber: Subscriber, request: StreamRequest, after: string): Promise<void> {
    const { sink } = subscriber;
    const replayed = new Set<string>();
    let cursor = after;
    let last: string | undefined;
    try {
      for (;;) {
        const rows = await listFilteredEventsAfter(
          this.#db,
          request.tenantId,
          cursor,
          request.filter,
          REPLAY_PAGE,
        );
        for (const row of rows) {
          if (replayed.size === this.#replayLimit) {
            sink.end('replay_limit', `more than ${this.#replayLimit} events to replay: resume after=${last}`);
            this.#remove(subscriber);
            return;
          }
          if (!(await sink.writable()) || subscriber.closed) return;
          sink.send(JSON.stringify(toStreamMessage(row)));
          replayed.add(row.id);
          cursor = row.id;
          last = row.event_id;
        }
        if (rows.length < REPLAY_PAGE) break;
      }
      if (subscriber.closed) return;
      const held = subscriber.held ?? [];
      subscriber.held = undefined;
      for (const row of held) {
        if (subscriber.closed) return;
        if (!replayed.has(row.id)) sink.send(JSON.stringify(toStreamMessage(row)));
      }
    } catch (error) {
      this.#logger.error({ err: error, client_id: request.tenantId }, 'event stream replay failed');
      sink.end('failed');
      this.#remove(subscriber);
    }
  }

  #onSignal(signal: BusSignal): void {
    if (signal.kind === 'down') {
      // Announcements made while the bus is down are never heard: the subscribers resume (`after`) instead.
      this.#notices = [];
      this.#endAll('feed_interrupted');
      return;
    }
    if (signal.kind !== 'events' || !this.#byTenant.has(signal.notice.tenantId)) return;
    this.#notices.push(signal.notice);
    void this.#drain();
  }

  /** Reads announced rows, a burst at a time, and dispatches them in announcement (commit) order. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#notices.length > 0) {
        const batch = this.#notices.filter((notice) => this.#byTenant.has(notice.tenantId));
        this.#notices = [];
        const tenants = new Set(batch.map((notice) => notice.tenantId));
        const ids = batch.flatMap((notice) => notice.ids);
        let rows: EventRow[];
        try {
          rows = await listEventsByIds(this.#db, [...tenants], ids);
        } catch (error) {
          this.#logger.error({ err: error }, 'event stream could not read announced events');
          this.#endAll('failed', tenants);
          continue;
        }
        const order = new Map(ids.map((id, index) => [id, index]));
        rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
        for (const row of rows) this.#dispatch(row);
      }
    } finally {
      this.#draining = false;
    }
  }

  #dispatch(row: EventRow): void {
    const set = this.#byTenant.get(row.api_client_id);
    if (!set) return;
    let json: string | undefined;
    for (const subscriber of set) {
      if (subscriber.types && !subscriber.types.has(row.type)) continue;
      if (subscriber.notificationId && subscriber.notificationId !== row.notification_id) continue;
      if (subscriber.held) {
        subscriber.held.push(row);
        if (subscriber.held.length > MAX_HELD) {
          subscriber.sink.end('slow_consumer');
          this.#remove(subscriber);
        }
        continue;
      }
      json ??= JSON.stringify(toStreamMessage(row));
      subscriber.sink.send(json);
    }
  }
}
