/**
 * The emulator's wire: one port that speaks HTTP/2 (cleartext, prior knowledge: what our FCM client uses) and
 * HTTP/1.1 (curl, fetch, the token endpoint), both handed to one request handler as the same `Exchange`. With
 * a certificate it speaks TLS instead, HTTP/2 or HTTP/1.1 as ALPN agrees (what Google's SDKs expect).
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

/** An answer: status, extra headers, and a body sent as JSON (none when undefined), or as text when `type` is set. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  /** Content-Type of a text body (HTML, CSS, JavaScript): the body string is sent as is. */
  type?: string;
}

/** One request as the handler sees it, whichever protocol carried it. */
export interface Exchange {
  method: string;
  url: string;
  /** '2.0' or '1.1'. */
  httpVersion: string;
  headers: IncomingHttpHeaders;
  /** The body as text, or undefined when it exceeds the limit. */
  readBody(): Promise<string | undefined>;
  reply(reply: Reply): void;
  /** Drops the request without answering (RST_STREAM on HTTP/2, socket reset on HTTP/1.1). */
  reset(): void;
}

export interface Listener {
  /** e.g. http://127.0.0.1:PORT */
  readonly url: string;
  /** Cuts every open connection but keeps listening. */
  dropConnections(): void;
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  port: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS announced to HTTP/2 clients. */
  maxConcurrentStreams: number;
  /** PEM key and certificate: listen with TLS (ALPN h2 and http/1.1) instead of cleartext. */
  tls?: { key: string; cert: string };
}

const MAX_BODY_BYTES = 1024 * 1024;

/** Listens on host:port (port 0 = any free port) and passes every request of either protocol to `handle`. */
export async function listen(
  options: ListenOptions,
  handle: (exchange: Exchange) => void,
): Promise<Listener> {
  const settings = { maxConcurrentStreams: options.maxConcurrentStreams };
  const h1Handler = (req: http.IncomingMessage, res: http.ServerResponse) =>
    handle(toExchange(req, res, () => req.socket.resetAndDestroy()));
  const h2Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
    handle(toExchange(req, res, () => req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)));
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const handlers: Handlers = { settings, h1Handler, h2Handler, track };
  const server = options.tls ? secureServer(options.tls, handlers) : cleartextServer(handlers);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${address.port}`,
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** What both kinds of server hand requests and connections to. */
interface Handlers {
  settings: http2.Settings;
  h1Handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  h2Handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
  /** Keeps the connection for dropConnections() and close(). */
  track: (socket: net.Socket) => void;
}

/** TLS: ALPN picks HTTP/2 or HTTP/1.1, each request goes to the handler of its protocol. */
function secureServer(
  credentials: { key: string; cert: string },
  { settings, h1Handler, h2Handler, track }: Handlers,
): net.Server {
  const server = http2.createSecureServer({ ...credentials, allowHTTP1: true, settings }, (req, res) => {
    if (req.httpVersionMajor === 2) h2Handler(req, res);
    else h1Handler(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
  });
  server.on('secureConnection', track);
  // A TLS handshake that fails (an untrusted certificate, a port scan) is the client's problem, not ours.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  return server;
}

/** Cleartext: the first bytes tell HTTP/2 prior knowledge ("PRI * HTTP/2.0") from HTTP/1.1. */
function cleartextServer({ settings, h1Handler, h2Handler, track }: Handlers): net.Server {
  const h1 = http.createServer(h1Handler);
  const h2 = http2.createServer({ settings }, h2Handler);
  return net.createServer((socket) => {
    track(socket);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      if (chunk.subarray(0, 4).toString('latin1') === 'PRI ') {
        // The HTTP/2 session reads what is already buffered on the socket before taking over its handle.
        socket.unshift(chunk);
        h2.emit('connection', socket);
      } else {
        // The HTTP/1.1 parser consumes the socket's handle directly, so the peeked bytes are handed over as an event.
        h1.emit('connection', socket);
        socket.emit('data', chunk);
        socket.resume();
      }
    });
  });
}

/** What Node's HTTP/1.1 request and its HTTP/2 compatibility request have in common. */
interface CompatRequest extends AsyncIterable<Buffer | string> {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
}

/** What Node's HTTP/1.1 response and its HTTP/2 compatibility response have in common. */
interface CompatResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string>): { end(text: string): unknown };
}

function toExchange(req: CompatRequest, res: CompatResponse, reset: () => void): Exchange {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    httpVersion: req.httpVersion,
    headers: req.headers,
    readBody: () => readBody(req),
    reply: (reply) => {
      if (res.headersSent) return;
      const asText = reply.type !== undefined && typeof reply.body === 'string';
      const text = asText
        ? (reply.body as string)
        : reply.body === undefined
          ? ''
          : JSON.stringify(reply.body);
      const headers: Record<string, string> = { ...reply.headers };
      if (text) headers['content-type'] = asText ? reply.type! : 'application/json; charset=UTF-8';
      res.writeHead(reply.status, headers).end(text);
    },
    reset,
  };
}

/** The body as text, or undefined when it exceeds MAX_BODY_BYTES. */
async function readBody(req: AsyncIterable<Buffer | string>): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
