/**
 * The WebSocket side of an event-stream subscriber: backpressure (a consumer that stops reading is closed
 * before its backlog grows past a cap), heartbeats, close codes, and closing every socket on shutdown.
 */
import { WebSocket, type WebSocketServer } from 'ws';
import type {
  EventStream,
  StreamEnd,
  StreamRequest,
  StreamSubscription,
} from '../services/event-stream.service.ts';

/** The subprotocol the server speaks; a browser offers it beside its `fcms.token.<token>` (see auth.ts). */
export const EVENTS_PROTOCOL = 'fcms.events.v1';

/** Close codes (documented in docs/event-stream.md). */
export const CLOSE_CODES: Record<StreamEnd, number> = {
  shutdown: 1001,
  failed: 1011,
  feed_interrupted: 1012,
  slow_consumer: 4008,
  replay_limit: 4010,
};

const CLOSE_REASONS: Record<StreamEnd, string> = {
  shutdown: 'server shutting down: reconnect with after=<last event id>',
  failed: 'internal error: reconnect with after=<last event id>',
  feed_interrupted: 'event feed interrupted: reconnect with after=<last event id>',
  slow_consumer: 'slow consumer: too many unsent bytes',
  replay_limit: 'too many events to replay',
};

/**
 * A consumer that stopped reading never reads the close frame queued behind its backlog either: after this
 * long the socket is dropped, and its memory with it.
 */
const CLOSE_GRACE_MS = 10_000;

export interface SocketOptions {
  maxBufferBytes: number;
  heartbeatMs: number;
}

/** Picks our subprotocol when offered, and never echoes a token-carrying one. */
export function selectProtocol(protocols: Set<string>): string | false {
  return protocols.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false;
}

/** Serves one stream subscription on an upgraded socket until either side closes it. */
export function serveEventSocket(
  socket: WebSocket,
  stream: EventStream,
  request: StreamRequest,
  options: SocketOptions,
): void {
  let subscription: StreamSubscription | undefined;
  const end = (why: StreamEnd, detail?: string) => {
    subscription?.close();
    if (socket.readyState !== WebSocket.OPEN) return;
    // A close reason is at most 123 bytes.
    socket.close(CLOSE_CODES[why], (detail ?? CLOSE_REASONS[why]).slice(0, 123));
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  };
  let alive = true;
  socket.on('pong', () => {
    alive = true;
  });
  const heartbeat = setInterval(() => {
    if (!alive) {
      socket.terminate();
      return;
    }
    alive = false;
    socket.ping();
  }, options.heartbeatMs);
  heartbeat.unref();
  socket.on('close', () => {
    clearInterval(heartbeat);
    subscription?.close();
  });
  subscription = stream.open(request, {
    send(json) {
      if (socket.readyState !== WebSocket.OPEN) return;
      // One message always goes out on an empty buffer, so an event larger than the cap is not a slow consumer.
      if (
        socket.bufferedAmount > 0 &&
        socket.bufferedAmount + Buffer.byteLength(json) > options.maxBufferBytes
      ) {
        end('slow_consumer');
        return;
      }
      socket.send(json);
    },
    async writable() {
      const deadline = Date.now() + CLOSE_GRACE_MS;
      while (socket.readyState === WebSocket.OPEN && socket.bufferedAmount > options.maxBufferBytes / 2) {
        if (Date.now() > deadline) {
          end('slow_consumer');
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return socket.readyState === WebSocket.OPEN;
    },
    end,
  });
}

/**
 * Shutdown of an app: closes its sockets with 1001, waits briefly for the clients' close frames, drops the
 * rest. (The stream itself belongs to the runtime, which may serve more than one app in tests.)
 */
export async function closeEventSockets(server: WebSocketServer, timeoutMs = 3_000): Promise<void> {
  for (const client of server.clients) {
    if (client.readyState === WebSocket.OPEN) client.close(CLOSE_CODES.shutdown, CLOSE_REASONS.shutdown);
  }
  const deadline = Date.now() + timeoutMs;
  while (server.clients.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const client of server.clients) client.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
