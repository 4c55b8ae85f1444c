/**
 * HTTP/2 client connections to one origin: a few sessions used round-robin, each (re)connecting lazily and
 * keeping its concurrent streams under both our limit and the server's SETTINGS_MAX_CONCURRENT_STREAMS. It knows
 * nothing of FCM: it answers status, headers and body, or a transport error that says whether resending is safe.
 */
import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';

export interface Http2PoolOptions {
  /** e.g. https://fcm.googleapis.com */
  origin: string;
  /** Who answers, as error messages name it (e.g. FCM). */
  peer: string;
  /** Connections to keep open; requests are spread round-robin. */
  sessions: number;
  /** Upper bound on concurrent streams per connection; the server's own limit lowers it further. */
  maxConcurrentStreams: number;
  /** Per request, from the moment a stream slot is free until the whole answer is read. */
  timeoutMs: number;
  /** Body bytes kept; the rest of a longer answer is read and dropped. */
  maxResponseBytes: number;
}

export interface Http2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** From stream opened to answer read. */
  seconds: number;
}

/** A request that got no HTTP answer. */
export class Http2TransportError extends Error {
  readonly code: 'TIMEOUT' | 'CONNECTION_ERROR';
  /** The server never saw the stream (refused, or the connection failed before sending), so it is safe to resend. */
  readonly unprocessed: boolean;
  /** From stream opened to failure. */
  seconds = 0;

  constructor(code: 'TIMEOUT' | 'CONNECTION_ERROR', message: string, unprocessed = false) {
    super(message);
    this.name = 'Http2TransportError';
    this.code = code;
    this.unprocessed = unprocessed;
  }
}

/** The pooled sessions to one origin. */
export class Http2Pool {
  readonly #slots: SessionSlot[];
  #next = 0;

  constructor(options: Http2PoolOptions) {
    const sessions = Math.max(1, options.sessions);
    this.#slots = Array.from({ length: sessions }, () => new SessionSlot(options));
  }

  /** One request on the next session; rejects only with Http2TransportError. */
  request(headers: OutgoingHttpHeaders, body: Buffer): Promise<Http2Response> {
    const slot = this.#slots[this.#next]!;
    this.#next = (this.#next + 1) % this.#slots.length;
    return slot.request(headers, body);
  }

  async close(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.close()));
  }
}

/** One pooled connection and the semaphore that bounds its streams. */
class SessionSlot {
  readonly #options: Http2PoolOptions;
  readonly #limit: Semaphore;
  readonly #configuredMax: number;
  #session: ClientHttp2Session | undefined;

  constructor(options: Http2PoolOptions) {
    this.#options = options;
    this.#configuredMax = Math.max(1, options.maxConcurrentStreams);
    this.#limit = new Semaphore(this.#configuredMax);
  }

  /** No async wrapper on the way: most requests find a free stream slot, and a promise per layer costs. */
  request(headers: OutgoingHttpHeaders, body: Buffer): Promise<Http2Response> {
    if (this.#limit.tryAcquire()) return this.#exchange(headers, body);
    return this.#limit.acquire().then(() => this.#exchange(headers, body));
  }

  close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (!session || session.closed || session.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => session.destroy(), 2000);
      session.close(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  #connect(): ClientHttp2Session {
    const current = this.#session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(this.#options.origin);
    const forget = () => {
      if (this.#session === session) this.#session = undefined;
    };
    // Errors also reach every open stream, which reports them per request; here we only stop reusing the session.
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    session.on('remoteSettings', (settings) => {
      const serverMax = settings.maxConcurrentStreams;
      if (serverMax !== undefined)
        this.#limit.setLimit(Math.max(1, Math.min(this.#configuredMax, serverMax)));
    });
    this.#session = session;
    return session;
  }

  /** One stream, holding a slot of the semaphore until it settles (which releases it). */
  #exchange(headers: OutgoingHttpHeaders, body: Buffer): Promise<Http2Response> {
    const { peer, timeoutMs, maxResponseBytes } = this.#options;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.#connect().request(headers);
      } catch (error) {
        this.#session = undefined;
        this.#limit.release();
        const reason = error instanceof Error ? error.message : String(error);
        const failure = new Http2TransportError(
          'CONNECTION_ERROR',
          `could not open a stream to ${peer}: ${reason}`,
          true,
        );
        failure.seconds = (performance.now() - started) / 1000;
        reject(failure);
        return;
      }
      let settled = false;
      let status = 0;
      let responseHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;

      const finish = (outcome: Http2Response | Http2TransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#limit.release();
        outcome.seconds = (performance.now() - started) / 1000;
        if (outcome instanceof Http2TransportError) reject(outcome);
        else resolve(outcome);
      };
      // Decided after one more round of socket reads: timers run before pending I/O, so when the loop was busy
      // past the deadline (a large page, the embedded database) an answer already in the socket would otherwise
      // count as lost, and its message be sent again.
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            finish(new Http2TransportError('TIMEOUT', `${peer} did not answer within ${timeoutMs} ms`));
            stream.close(http2.constants.NGHTTP2_CANCEL);
          }),
        timeoutMs,
      );

      stream.on('response', (received) => {
        status = Number(received[':status']);
        responseHeaders = received;
      });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxResponseBytes) chunks.push(chunk);
      });
      stream.on('end', () => {
        // A stream that ends without response headers is a cut connection, not an answer.
        if (status === 0) {
          finish(new Http2TransportError('CONNECTION_ERROR', `${peer} closed the stream before answering`));
          return;
        }
        finish({
          status,
          headers: responseHeaders,
          body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
          seconds: 0,
        });
      });
      stream.on('error', (error: Error & { code?: string }) => {
        finish(
          new Http2TransportError(
            'CONNECTION_ERROR',
            `${peer} stream failed: ${error.message}`,
            neverSent(stream, error),
          ),
        );
      });
      stream.on('close', () => {
        if (settled) return;
        const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
        finish(
          new Http2TransportError(
            'CONNECTION_ERROR',
            `${peer} closed the stream (HTTP/2 code ${stream.rstCode})`,
            refused,
          ),
        );
      });
      stream.end(body);
    });
  }
}

/** True when the request cannot have reached the server, so resending it cannot act twice. */
function neverSent(stream: ClientHttp2Stream, error: Error & { code?: string }): boolean {
  if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return true;
  // A stream still pending when its session failed is cancelled with the session's error as cause.
  if (error.code === 'ERR_HTTP2_STREAM_CANCEL') return true;
  return (
    error.code === 'ECONNREFUSED' || error.code === 'ENOTFOUND' || error.code === 'ERR_HTTP2_GOAWAY_SESSION'
  );
}

/** Counting semaphore whose limit can change while in use. */
class Semaphore {
  #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  setLimit(limit: number): void {
    this.#limit = limit;
    this.#drain();
  }

  /** Takes a slot when one is free at once. */
  tryAcquire(): boolean {
    if (this.#active >= this.#limit) return false;
    this.#active++;
    return true;
  }

  /** Resolves once a slot is taken (after the waiters before it). */
  acquire(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#drain();
    });
  }

  release(): void {
    this.#active--;
    this.#drain();
  }

  #drain(): void {
    while (this.#active < this.#limit && this.#waiting.length > 0) {
      this.#active++;
      this.#waiting.shift()!();
    }
  }
}
