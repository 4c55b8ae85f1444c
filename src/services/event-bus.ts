/**
 * The event bus: how an API process hears that events committed, whichever process (or machine) wrote them.
 *
 * Publishing is part of writing: `emitEvents` → `insertEvents` announces the new rows in the writer's own
 * transaction (PostgreSQL NOTIFY), so an announcement is heard exactly when, and only if, its events committed,
 * in commit order. Implementations only listen: src/db/events.listener.ts (a dedicated PostgreSQL connection in
 * server mode, the PGlite instance in embedded mode).
 */
import type { EventNotice } from '../db/events.repository.ts';

export type { EventNotice };

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
