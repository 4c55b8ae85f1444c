/**
 * The event bus: how an API process hears that events committed, whichever process (or machine) wrote them.
 *
 * Publishing is part of writing: `emitEvents` → `insertEvents` announces the new rows in the writer's own
 * transaction (PostgreSQL NOTIFY), so an announcement is heard exactly when, and only if, its events committed,
 * in commit order. Implementations only listen: events.listener.ts beside this file (a dedicated PostgreSQL
 * connection in server mode, the PGlite instance in embedded mode). The interface lives here, with the database
 * that does the announcing, so that the services that subscribe (event-stream.service.ts) depend on it downwards.
 */
import type { EventNotice } from './events.repository.ts';

export type BusSignal =
  /** These outbox rows committed. */
  | { kind: 'events'; notice: EventNotice }
  /** The bus lost its connection: announcements made until the next 'up' are not heard. */
  | { kind: 'down' }
  /** The bus listens again. */
  | { kind: 'up' };

export interface EventBus {
  /** Whether announcements are heard right now. */
  readonly connected: boolean;
  /** Calls the listener with every signal until the returned function is called. */
  subscribe(listener: (signal: BusSignal) => void): () => void;
  close(): Promise<void>;
}
