import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Http2Pool, type Http2PoolOptions, Http2TransportError } from './http2-pool.ts';

type Handler = (stream: http2.ServerHttp2Stream) => void;

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A cleartext HTTP/2 server on loopback that counts the streams it holds open at once. */
async function startServer(handler: Handler, settings: http2.Settings = {}) {
  const server = http2.createServer({ settings });
  const sessions = new Set<http2.ServerHttp2Session>();
  const load = { active: 0, peak: 0, total: 0 };
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream) => {
    load.total++;
    load.active++;
    load.peak = Math.max(load.peak, load.active);
    stream.on('close', () => load.active--);
    // Resets the handler sends on purpose surface here as errors; the client side is what is under test.
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => handler(stream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { origin, load, sessions };
}

function newPool(options: Partial<Http2PoolOptions> & { origin: string }): Http2Pool {
  const pool = new Http2Pool({
    peer: 'the test server',
    sessions: 1,
    maxConcurrentStreams: 100,
    timeoutMs: 2000,
    maxResponseBytes: 64 * 1024,
    ...options,
  });
  cleanups.unshift(() => pool.close());
  return pool;
}

const post = (pool: Http2Pool, body = '{}') =>
  pool.request({ ':method': 'POST', ':path': '/echo' }, Buffer.from(body));

const answerAfter =
  (ms: number, body = '{"ok":true}'): Handler =>
  (stream) =>
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'x-test': 'yes' });
      stream.end(body);
    }, ms);

/** The transport error a request rejected with. */
async function failure(request: Promise<unknown>): Promise<Http2TransportError> {
  const error = await request.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(Http2TransportError);
  return error as Http2TransportError;
}

describe('Http2Pool', () => {
  it('answers status, headers, body and how long the exchange took', async () => {
    const { origin } = await startServer(answerAfter(5));
    const response = await post(newPool({ origin }));
    expect(response).toMatchObject({ status: 200, body: '{"ok":true}', headers: { 'x-test': 'yes' } });
    expect(response.seconds).toBeGreaterThan(0);
  });

  it('keeps concurrent streams under its own limit per session', async () => {
    const { origin, load } = await startServer(answerAfter(20));
    const pool = newPool({ origin, sessions: 2, maxConcurrentStreams: 3 });
    await Promise.all(Array.from({ length: 30 }, () => post(pool)));
    expect(load.total).toBe(30);
    expect(load.peak).toBe(6);
  });

  it("lowers the limit to the server's SETTINGS_MAX_CONCURRENT_STREAMS", async () => {
    const { origin, load } = await startServer(answerAfter(20), { maxConcurrentStreams: 2 });
    const pool = newPool({ origin, maxConcurrentStreams: 50 });
    await post(pool);
    await Promise.all(Array.from({ length: 20 }, () => post(pool)));
    expect(load.peak).toBe(2);
  });

  it('keeps at most maxResponseBytes of the body', async () => {
    const { origin } = await startServer(answerAfter(0, 'x'.repeat(200_000)));
    const response = await post(newPool({ origin, maxResponseBytes: 1024 }));
    expect(response.status).toBe(200);
    expect(response.body.length).toBeLessThanOrEqual(1024);
  });

  it('times out a slow answer, naming the peer', async () => {
    const { origin } = await startServer(answerAfter(500));
    const error = await failure(post(newPool({ origin, timeoutMs: 50 })));
    expect(error).toMatchObject({
      code: 'TIMEOUT',
      unprocessed: false,
      message: 'the test server did not answer within 50 ms',
    });
  });

  it('reads an answer that came while the event loop was busy before timing its stream out', async () => {
    // The server runs on a thread of its own, so it answers while this one is blocked: as FCM does while a
    // worker's loop is busy (embedded PostgreSQL, a large page). Timers run before pending socket reads.
    const server = new Worker(
      `const http2 = require('node:http2');
      const { parentPort } = require('node:worker_threads');
      const server = http2.createServer();
      server.on('stream', (stream) => {
        stream.resume();
        stream.on('end', () => {
          parentPort.postMessage('received');
          setTimeout(() => { stream.respond({ ':status': 200 }); stream.end('late but there'); }, 20);
        });
      });
      server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`,
      { eval: true },
    );
    cleanups.push(async () => {
      await server.terminate();
    });
    const inbox: unknown[] = [];
    let wake = () => {};
    server.on('message', (message) => {
      inbox.push(message);
      wake();
    });
    const next = async () => {
      while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return inbox.shift();
    };
    const port = await next();
    const pool = newPool({ origin: `http://127.0.0.1:${port}`, timeoutMs: 200 });
    // A first exchange opens the session, so the second request goes out at once.
    expect((await post(pool)).status).toBe(200);
    await next();
    const answer = post(pool);
    await next();
    // Busy far past the deadline; the answer reaches the socket 20 ms into it.
    const until = performance.now() + 600;
    while (performance.now() < until) {}
    expect(await answer).toMatchObject({ status: 200, body: 'late but there' });
  });

  it('tells a refused stream (safe to resend) from one reset after it was read', async () => {
    const refused = await startServer((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    expect(await failure(post(newPool({ origin: refused.origin })))).toMatchObject({
      code: 'CONNECTION_ERROR',
      unprocessed: true,
    });
    const reset = await startServer((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    expect(await failure(post(newPool({ origin: reset.origin })))).toMatchObject({
      code: 'CONNECTION_ERROR',
      unprocessed: false,
    });
  });

  it('reports nothing listening as a CONNECTION_ERROR that was never sent', async () => {
    const error = await failure(post(newPool({ origin: 'http://127.0.0.1:1' })));
    expect(error).toMatchObject({ code: 'CONNECTION_ERROR', unprocessed: true });
  });

  it('reconnects after the server closed its session', async () => {
    const { origin, sessions } = await startServer(answerAfter(0));
    const pool = newPool({ origin });
    expect((await post(pool)).status).toBe(200);
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await post(pool)).status).toBe(200);
  });
});
