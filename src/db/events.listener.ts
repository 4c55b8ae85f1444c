/**
 * The event bus implementations: LISTEN on the events channel. In server mode, one dedicated PostgreSQL
 * connection per API process (reconnecting with backoff, checked by a periodic ping); in embedded mode, the
 * PGlite instance itself, which delivers its own NOTIFYs at commit like PostgreSQL does.
 */
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseHandle } from './client.ts';
import type { BusSignal, EventBus } from './event-bus.ts';
import { EVENTS_CHANNEL, parseEventNotice } from './events.repository.ts';

const RECONNECT_DELAYS_MS = [250, 1_000, 2_000, 5_000, 10_000];
/** A connection that died without telling us (a silent network drop) is noticed within about this long. */
const PING_INTERVAL_MS = 15_000;
const PING_TIMEOUT_MS = 5_000;
/** How the listening connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'fcm-server events listener';

export interface ListenOptions {
  /** Tests shorten the reconnect delays. */
  reconnectDelaysMs?: number[];
}

/** Starts listening; resolves once the first LISTEN is in place (a failure here fails start-up). */
export async function listenForEvents(
  database: DatabaseHandle,
  logger: Logger,
  options: ListenOptions = {},
): Promise<EventBus> {
  if (database.pglite) return listenPglite(database.pglite, logger);
  if (!database.url) throw new Error('listenForEvents needs a PostgreSQL URL or a PGlite instance');
  const bus = new PostgresListener(database.url, logger, options.reconnectDelaysMs ?? RECONNECT_DELAYS_MS);
  await bus.start();
  return bus;
}

class Listeners {
  readonly #set = new Set<(signal: BusSignal) => void>();

  add(listener: (signal: BusSignal) => void): () => void {
    this.#set.add(listener);
    return () => this.#set.delete(listener);
  }

  emit(signal: BusSignal, logger: Logger): void {
    for (const listener of this.#set) {
      try {
        listener(signal);
      } catch (error) {
        logger.error({ err: error }, 'event bus listener failed');
      }
    }
  }

  /** Parses a NOTIFY payload and emits it; a payload we did not write is ignored. */
  announce(payload: string | undefined, logger: Logger): void {
    const notice = payload ? parseEventNotice(payload) : undefined;
    if (notice) this.emit({ kind: 'events', notice }, logger);
  }
}

async function listenPglite(pglite: PGlite, logger: Logger): Promise<EventBus> {
  const listeners = new Listeners();
  const unlisten = await pglite.listen(EVENTS_CHANNEL, (payload) => listeners.announce(payload, logger));
  return {
    connected: true,
    subscribe: (listener) => listeners.add(listener),
    close: async () => {
      if (!pglite.closed) await unlisten();
    },
  };
}

class PostgresListener implements EventBus {
  readonly #url: string;
  readonly #logger: Logger;
  readonly #delays: number[];
  readonly #listeners = new Listeners();
  #client: pg.Client | undefined;
  #attempt = 0;
  #closed = false;
  #reconnect: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;

  constructor(url: string, logger: Logger, delays: number[]) {
    this.#url = url;
    this.#logger = logger;
    this.#delays = delays;
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  subscribe(listener: (signal: BusSignal) => void): () => void {
    return this.#listeners.add(listener);
  }

  async start(): Promise<void> {
    await this.#connect();
    this.#ping = setInterval(() => this.#checkAlive(), PING_INTERVAL_MS);
    this.#ping.unref();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      keepAlive: true,
      application_name: LISTENER_APPLICATION_NAME,
    });
    client.on('notification', (message) => {
      if (message.channel === EVENTS_CHANNEL) this.#listeners.announce(message.payload, this.#logger);
    });
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      await client.query(`listen ${EVENTS_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#attempt = 0;
    this.#listeners.emit({ kind: 'up' }, this.#logger);
  }

  #lost(client: pg.Client, error?: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    this.#logger.warn({ err: error }, 'event listener lost its database connection, reconnecting');
    client.end().catch(() => {});
    this.#listeners.emit({ kind: 'down' }, this.#logger);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delay = this.#delays[Math.min(this.#attempt, this.#delays.length - 1)]!;
    this.#attempt += 1;
    this.#reconnect = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.#logger.warn({ err: error, attempt: this.#attempt }, 'event listener could not reconnect');
        this.#scheduleReconnect();
      });
    }, delay);
    this.#reconnect.unref();
  }

  #checkAlive(): void {
    const client = this.#client;
    if (!client) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('event listener ping timed out')), PING_TIMEOUT_MS);
    });
    Promise.race([client.query('select 1'), timeout])
      .catch((error: unknown) => this.#lost(client, error as Error))
      .finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearInterval(this.#ping);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
