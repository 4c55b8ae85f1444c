/**
 * The live event stream (GET /api/v1/events/stream over WebSocket): a client connected to a real listening
 * server sees the events of its sends as they commit, filtered, resumable, and is closed when it stops
 * reading; on PostgreSQL, events written by a worker process reach the clients of every API process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ClientOptions, WebSocket } from 'ws';
import { openDatabase } from '../src/db/client.ts';
import { LISTENER_APPLICATION_NAME } from '../src/db/events.listener.ts';
import { createEmulator, type Emulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { createClient } from '../src/services/clients.service.ts';
import type { StreamMessage } from '../src/services/event-stream.service.ts';
import { emitEvents } from '../src/services/events.ts';
import { databaseUrlFor } from './global-setup.ts';
import {
  collectOutput,
  startTestServer,
  storageMode,
  TEST_ENCRYPTION_KEY,
  type Tenant,
  type TestServer,
  waitFor,
} from './helpers.ts';

interface StreamClient {
  socket: WebSocket;
  messages: StreamMessage[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first message (already received or to come) that matches. */
  next(match: (message: StreamMessage) => boolean, what: string): Promise<StreamMessage>;
}

const openClients: WebSocket[] = [];

/** Opens a stream; rejects with the HTTP status and error body when the server refuses the upgrade. */
function connect(url: string, options: ClientOptions & { protocols?: string[] } = {}): Promise<StreamClient> {
  const { protocols, ...rest } = options;
  const socket = new WebSocket(url, protocols ?? [], rest);
  openClients.push(socket);
  const messages: StreamMessage[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as StreamMessage));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return new Promise((resolve, reject) => {
    socket.on('open', () =>
      resolve({
        socket,
        messages,
        closed,
        next: (match, what) =>
          waitFor(async () => messages.find(match), 15_000, `${what} (received: ${messageTypes(messages)})`),
      }),
    );
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      response.on('end', () => reject(new Refused(response.statusCode ?? 0, body)));
    });
    socket.on('error', reject);
  });
}

class Refused extends Error {
  readonly status: number;
  readonly body: { error: { code: string; message: string } };
  constructor(status: number, body: string) {
    super(`refused with ${status}: ${body}`);
    this.status = status;
    this.body = JSON.parse(body) as { error: { code: string; message: string } };
  }
}

const messageTypes = (messages: StreamMessage[]) => messages.map((m) => m.type).join(', ') || 'nothing';

afterAll(() => {
  for (const socket of openClients) socket.terminate();
});

describe('the event stream in one process', () => {
  let server: TestServer;
  let tenant: Tenant;
  let streamUrl: string;
  const phone = '+255714000901';

  beforeAll(async () => {
    server = await startTestServer({
      EVENT_STREAM_MAX_BUFFER_BYTES: '1048576',
      EVENT_STREAM_REPLAY_LIMIT: '5',
    });
    tenant = await server.tenant('stream');
    const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
    streamUrl = `${address.replace(/^http/, 'ws')}/api/v1/events/stream`;
  });
  afterAll(() => server?.close());

  const api = (method: 'GET' | 'POST', url: string, payload?: object) =>
    server.app.inject({ method, url, headers: tenant.headers, ...(payload ? { payload } : {}) });

  const send = async (title: string): Promise<string> => {
    const accepted = await api('POST', '/api/v1/notify/', { phone_number: phone, title });
    expect(accepted.statusCode).toBe(202);
    return accepted.json().notification_id as string;
  };

  it('refuses before the upgrade: no credentials (401), no read scope (403), bad filters (400), plain GET (426)', async () => {
    const missing = await connect(streamUrl).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(Refused);
    expect((missing as Refused).status).toBe(401);
    expect((missing as Refused).body.error.code).toBe('missing_credentials');

    const wrongToken = await connect(streamUrl, { headers: { authorization: 'Bearer fcms_nope' } }).catch(
      (error: unknown) => error,
    );
    expect((wrongToken as Refused).status).toBe(401);

    const sender = await createClient(server.runtime.deps, { name: 'send-only', scopes: ['send'] });
    const forbidden = await connect(streamUrl, {
      headers: { 'client-id': sender.clientId, 'client-token': sender.clientToken },
    }).catch((error: unknown) => error);
    expect((forbidden as Refused).status).toBe(403);
    expect((forbidden as Refused).body.error.code).toBe('insufficient_scope');

    for (const query of [
      'types=notification.bogus',
      'types=webhook.test',
      'types=',
      'notification_id=42',
      'after=123',
    ]) {
      const invalid = await connect(`${streamUrl}?${query}`, { headers: tenant.headers }).catch(
        (error: unknown) => error,
      );
      expect((invalid as Refused).status, query).toBe(400);
      expect((invalid as Refused).body.error.code).toBe('invalid_query');
    }
    const unknownEvent = await connect(`${streamUrl}?after=evt_${'0'.repeat(32)}`, {
      headers: tenant.headers,
    }).catch((error: unknown) => error);
    expect((unknownEvent as Refused).status).toBe(404);

    const plain = await api('GET', '/api/v1/events/stream');
    expect(plain.statusCode).toBe(426);
    expect(plain.json().error.code).toBe('upgrade_required');
  });

  it('streams the events of a send as they commit: device.registered, notification.sent, notification.completed', async () => {
    const client = await connect(streamUrl, { headers: tenant.headers });
    const device = await api('POST', '/api/v1/devices/', {
      platform: 'android',
      token: 'stream-device-1',
      phone_number: phone,
    });
    expect(device.statusCode).toBe(201);
    await client.next((m) => m.type === 'device.registered', 'device.registered');

    const id = await send('Hello, stream');
    const sent = await client.next((m) => m.type === 'notification.sent', 'notification.sent');
    const completed = await client.next((m) => m.type === 'notification.completed', 'notification.completed');
    expect(Object.keys(sent).sort()).toEqual(['created_at', 'data', 'id', 'notification_id', 'type']);
    expect(sent).toMatchObject({ notification_id: id, data: { count: 1 } });
    expect(sent.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(new Date(sent.created_at).toISOString()).toBe(sent.created_at);
    expect(completed).toMatchObject({ notification_id: id, data: { status: 'completed' } });
    expect(client.messages.indexOf(sent)).toBeLessThan(client.messages.indexOf(completed));
    for (const message of client.messages) expect(JSON.stringify(message)).not.toContain('stream-device-1');
    client.socket.close();
  });

  it('accepts the token as a subprotocol (for browsers) and answers with fcms.events.v1', async () => {
    const client = await connect(streamUrl, { protocols: ['fcms.events.v1', `fcms.token.${tenant.token}`] });
    expect(client.socket.protocol).toBe('fcms.events.v1');
    const id = await send('Hello, browser');
    await client.next((m) => m.type === 'notification.completed' && m.notification_id === id, 'completed');
    client.socket.close();
  });

  it('filters by event type and by notification', async () => {
    // FCM answers slowly, so the notification exists before its events do.
    server.emulator.setFaults({ latencyMs: 300 });
    const completedOnly = await connect(`${streamUrl}?types=notification.completed`, {
      headers: tenant.headers,
    });
    const sentOrFailed = await connect(`${streamUrl}?types=notification.failed,%20notification.sent`, {
      headers: tenant.headers,
    });
    const first = await send('first');
    const second = await send('second');
    const secondOnly = await connect(`${streamUrl}?notification_id=${second}`, { headers: tenant.headers });
    for (const id of [first, second]) {
      await completedOnly.next((m) => m.notification_id === id, `completed of ${id}`);
      await sentOrFailed.next((m) => m.notification_id === id, `sent of ${id}`);
    }
    await secondOnly.next((m) => m.type === 'notification.completed', 'completed of the second');
    server.emulator.setFaults({});

    expect(new Set(completedOnly.messages.map((m) => m.type))).toEqual(new Set(['notification.completed']));
    expect(new Set(sentOrFailed.messages.map((m) => m.type))).toEqual(new Set(['notification.sent']));
    expect(secondOnly.messages.map((m) => m.type)).toEqual(['notification.sent', 'notification.completed']);
    expect(secondOnly.messages.every((m) => m.notification_id === second)).toBe(true);
    for (const client of [completedOnly, sentOrFailed, secondOnly]) client.socket.close();
  });

  it('resumes after an event id: replays what was missed, at most the replay limit at a time, then goes live', async () => {
    const live = await connect(streamUrl, { headers: tenant.headers });
    // One at a time, so that commit order (the live order) is also outbox order (the replay order).
    for (const title of ['r1', 'r2', 'r3']) {
      const id = await send(title);
      await live.next(
        (m) => m.type === 'notification.completed' && m.notification_id === id,
        `completed ${id}`,
      );
    }
    // Six events (sent + completed per send); the client "missed" all but the first.
    const missed = live.messages.slice(1).map((m) => m.id);
    expect(missed).toHaveLength(5);
    live.socket.close();

    const resumed = await connect(`${streamUrl}?after=${live.messages[0]!.id}`, { headers: tenant.headers });
    await waitFor(async () => (resumed.messages.length === 5 ? true : undefined), 5_000, 'the replay');
    expect(resumed.messages.map((m) => m.id)).toEqual(missed);
    const id = await send('r4');
    await resumed.next(
      (m) => m.type === 'notification.completed' && m.notification_id === id,
      'live after replay',
    );
    expect(resumed.messages.slice(5).map((m) => m.type)).toEqual([
      'notification.sent',
      'notification.completed',
    ]);
    resumed.socket.close();

    // Resuming from the very first event of this test: more than 5 to replay, so 5 come and the close says where to go on.
    const paged = await connect(
      `${streamUrl}?after=${live.messages[0]!.id}&types=notification.sent,notification.completed`,
      {
        headers: tenant.headers,
      },
    );
    const closed = await paged.closed;
    expect(closed.code).toBe(4010);
    expect(paged.messages.map((m) => m.id)).toEqual(resumed.messages.slice(0, 5).map((m) => m.id));
    expect(closed.reason).toContain(`after=${paged.messages[4]!.id}`);
    const rest = await connect(`${streamUrl}?after=${paged.messages[4]!.id}`, { headers: tenant.headers });
    await rest.next((m) => m.notification_id === id && m.type === 'notification.completed', 'the rest');
    expect(rest.messages.map((m) => m.id)).toEqual(resumed.messages.slice(5).map((m) => m.id));
    rest.socket.close();
  });

  it.skipIf(storageMode() === 'pglite')(
    'closes streams with 1012 when the listener loses PostgreSQL; they resume without a gap once it is back',
    async () => {
      const client = await connect(streamUrl, { headers: tenant.headers });
      const before = await send('before the outage');
      const last = await client.next(
        (m) => m.notification_id === before && m.type === 'notification.completed',
        'completed',
      );
      await server.runtime.deps.db.execute(
        sql`select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and application_name = ${LISTENER_APPLICATION_NAME}`,
      );
      expect((await client.closed).code).toBe(1012);
      const during = await send('during the outage');
      const resumed = await waitFor(
        () => connect(`${streamUrl}?after=${last.id}`, { headers: tenant.headers }).catch(() => undefined),
        10_000,
        'the stream to accept connections again',
      );
      await resumed.next(
        (m) => m.notification_id === during && m.type === 'notification.completed',
        'the missed events',
      );
      expect(resumed.messages.map((m) => m.type)).toEqual(['notification.sent', 'notification.completed']);
      resumed.socket.close();
    },
  );

  it('closes a consumer that stops reading with 4008 once its backlog passes the cap', async () => {
    const slow = await connect(streamUrl, { headers: tenant.headers });
    const bystander = await connect(streamUrl, { headers: tenant.headers });
    slow.socket.pause();
    // 10 MB of events, written the way every change writes them: more than the kernel buffers (about 4 MB
    // on loopback) plus the 1 MiB cap, in bursts a reading client takes in its stride.
    const blob = 'x'.repeat(20_000);
    const total = 500;
    for (let i = 0; i < total; i += 5) {
      await emitEvents(
        server.runtime.deps.db,
        [0, 1, 2, 3, 4].map((k) => ({
          tenantId: tenant.clientId,
          type: 'device.registered' as const,
          data: { blob, i: i + k },
        })),
      );
      // Embedded PGlite runs in this thread: let the sockets (the bystander's reads) have their turn.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await waitFor(
      async () =>
        [...server.app.websocketServer.clients].some((c) => c.readyState === WebSocket.CLOSING)
          ? true
          : undefined,
      15_000,
      'the server to close the slow consumer',
    );
    await bystander.next((m) => m.data.i === total - 1, 'every event at the bystander');
    slow.socket.resume();
    const closed = await slow.closed;
    expect(closed).toEqual({ code: 4008, reason: 'slow consumer: too many unsent bytes' });
    expect(slow.messages.length).toBeLessThan(total);
    expect(bystander.messages.filter((m) => m.type === 'device.registered')).toHaveLength(total);
    bystander.socket.close();
  });
});

describe('long replays, heartbeats and shutdown', () => {
  let server: TestServer;
  let tenant: Tenant;
  let url: string;

  beforeAll(async () => {
    server = await startTestServer(
      { EVENT_STREAM_HEARTBEAT_SECONDS: '1', EVENT_STREAM_MAX_BUFFER_BYTES: '1024' },
      { worker: false },
    );
    tenant = await server.tenant('shutdown');
    const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
    url = `${address.replace(/^http/, 'ws')}/api/v1/events/stream`;
  });
  let closed = false;
  afterAll(() => (closed ? undefined : server?.close()));

  it('paces a replay larger than the buffer cap by the reading of the client instead of closing it', async () => {
    const first = await connect(url, { headers: tenant.headers });
    await emitEvents(server.runtime.deps.db, [
      { tenantId: tenant.clientId, type: 'device.registered', data: {} },
    ]);
    const start = await first.next(() => true, 'the first event');
    first.socket.close();
    // 6 MB missed, to replay through a 1 KiB cap: more than the kernel buffers, so the replay must wait for
    // the client to read.
    const blob = 'y'.repeat(20_000);
    for (let i = 0; i < 300; i += 50) {
      await emitEvents(
        server.runtime.deps.db,
        Array.from({ length: 50 }, (_, k) => ({
          tenantId: tenant.clientId,
          type: 'device.registered' as const,
          data: { blob, i: i + k },
        })),
      );
    }
    const resumed = await connect(`${url}?after=${start.id}`, { headers: tenant.headers });
    resumed.socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 200));
    resumed.socket.resume();
    await waitFor(
      async () => (resumed.messages.length === 300 ? true : undefined),
      20_000,
      'the whole replay',
    );
    expect(resumed.messages.map((m) => m.data.i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(resumed.socket.readyState).toBe(WebSocket.OPEN);
    resumed.socket.close();
  });

  it('drops a connection that stops answering pings, and closes the others with 1001 when the server stops', async () => {
    const healthy = await connect(url, { headers: tenant.headers });
    const silent = await connect(url, { headers: tenant.headers, autoPong: false });
    expect((await silent.closed).code).toBe(1006);
    expect(healthy.socket.readyState).toBe(WebSocket.OPEN);
    closed = true;
    await server.close();
    expect(await healthy.closed).toEqual({
      code: 1001,
      reason: 'server shutting down: reconnect with after=<last event id>',
    });
  });
});

describe.skipIf(storageMode() === 'pglite')(
  'across processes (PostgreSQL only: the embedded PGlite database belongs to one process)',
  () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'fcm-server.js');
    const children: ChildProcess[] = [];
    let emulator: Emulator;
    let admin: pg.Client;
    let databaseName: string;
    let databaseUrl: string;

    function startProcess(command: 'serve' | 'worker'): { child: ChildProcess; output: () => string } {
      const child = spawn(process.execPath, [bin, command], {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          DATABASE_URL: databaseUrl,
          DATABASE_POOL_SIZE: '4',
          FCM_BASE_URL: emulator.url,
          FCM_EMULATOR: 'false',
          ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
          HOST: '127.0.0.1',
          PORT: '0',
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      return { child, output: collectOutput(child) };
    }

    async function startApi(): Promise<string> {
      const { output } = startProcess('serve');
      return waitFor(
        async () => /fcm-server is running: (http:\/\/\S+)/.exec(output())?.[1],
        30_000,
        `an API process to start (output so far: ${output()})`,
      );
    }

    beforeAll(async () => {
      emulator = await createEmulator({ host: '127.0.0.1', port: 0 });
      const url = inject('databaseUrl')!;
      databaseName = `fcm_t_${inject('templateDatabase')!.replace('fcm_tpl_', '')}_${randomBytes(4).toString('hex')}`;
      admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`create database ${databaseName} template ${inject('templateDatabase')}`);
      databaseUrl = databaseUrlFor(url, databaseName);
    });

    afterAll(async () => {
      await Promise.all(
        children
          .filter((child) => child.exitCode === null && child.signalCode === null)
          .map((child) => {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGTERM');
            const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
            return exited.finally(() => clearTimeout(force));
          }),
      );
      await emulator?.close();
      await admin?.query(`drop database if exists ${databaseName} with (force)`);
      await admin?.end();
    }, 30_000);

    it('events a worker process commits reach the clients of both API processes', async () => {
      startProcess('worker');
      const [first, second] = await Promise.all([startApi(), startApi()]);

      const database = await openDatabase({ url: databaseUrl, poolSize: 2, migrate: false });
      const created = await createClient({ db: database.db }, { name: 'multi-process' }).finally(() =>
        database.close(),
      );
      const headers = { authorization: `Bearer ${created.clientToken}`, 'content-type': 'application/json' };
      const { account } = createTestServiceAccount({
        projectId: `multi-${process.pid}`,
        tokenUri: emulator.tokenUri,
      });
      emulator.addServiceAccount(account);
      const post = (base: string, path: string, body: object) =>
        fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      for (const [path, body] of [
        ['/api/v1/firebase-projects/', { service_account: account }],
        ['/api/v1/devices/', { platform: 'ios', token: 'multi-device-1', external_id: 'u-multi' }],
      ] as const) {
        const response = await post(first!, path, body);
        expect(response.status, await response.text()).toBe(201);
      }

      const clients = await Promise.all(
        [first!, second!].map((base) =>
          connect(`${base.replace(/^http/, 'ws')}/api/v1/events/stream`, { headers }),
        ),
      );
      const accepted = await post(second!, '/api/v1/notify/', {
        external_id: 'u-multi',
        title: 'Everywhere',
      });
      expect(accepted.status).toBe(202);
      const { notification_id: id } = (await accepted.json()) as { notification_id: string };

      for (const client of clients) {
        await client.next(
          (m) => m.type === 'notification.sent' && m.notification_id === id,
          'notification.sent',
        );
        await client.next(
          (m) => m.type === 'notification.completed' && m.notification_id === id,
          'completed',
        );
      }
      const [a, b] = clients.map((client) =>
        client.messages.filter((m) => m.notification_id === id).map((m) => `${m.type} ${m.id}`),
      );
      expect(a).toEqual(b);
      // One send (the registration's token dry run is validate_only).
      expect(
        emulator.received().filter((r) => r.message.token === 'multi-device-1' && !r.validateOnly),
      ).toHaveLength(1);
      for (const client of clients) client.socket.close();
    }, 60_000);
  },
);
