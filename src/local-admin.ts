/**
 * Embedded mode: one process owns the PGlite data directory, so `fcm-server create-client` asks the running
 * server instead of opening the database. The server publishes its URL and a random admin secret in files
 * only its user can read (DATA_DIR/server.json, mode 0600); the route accepts loopback callers with that secret.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from './runtime.ts';
import type { createClient, Scope } from './services/clients.service.ts';

interface LocalServer {
  url: string;
  pid: number;
  secret: string;
}

const fileOf = (dataDir: string) => join(dataDir, 'server.json');

export function readLocalServer(dataDir: string): LocalServer | undefined {
  const file = fileOf(dataDir);
  if (!existsSync(file)) return undefined;
  const server = JSON.parse(readFileSync(file, 'utf8')) as LocalServer;
  try {
    process.kill(server.pid, 0);
    return server;
  } catch {
    return undefined;
  }
}

export function publishLocalServer(dataDir: string, url: string, runtime: Runtime): void {
  const secret = (runtime.app as FastifyInstance & { localAdminSecret?: string }).localAdminSecret;
  if (!secret) return;
  writeFileSync(fileOf(dataDir), JSON.stringify({ url, pid: process.pid, secret }), { mode: 0o600 });
  process.once('exit', () => rmSync(fileOf(dataDir), { force: true }));
}

export async function createClientViaServer(
  server: LocalServer,
  input: { name: string; scopes: Scope[] },
): Promise<{ clientId: string; clientToken: string }> {
  const response = await fetch(`${server.url.replace('0.0.0.0', '127.0.0.1')}/internal/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-secret': server.secret },
    body: JSON.stringify(input),
  });
  if (!response.ok)
    throw new Error(`the running server refused: ${response.status} ${await response.text()}`);
  return (await response.json()) as { clientId: string; clientToken: string };
}

/** Registers the loopback-only route behind `create-client` while a server runs. */
export function registerLocalAdmin(
  app: FastifyInstance,
  create: typeof createClient,
  db: Parameters<typeof createClient>[0],
): void {
  const secret = randomBytes(32).toString('base64url');
  (app as FastifyInstance & { localAdminSecret?: string }).localAdminSecret = secret;
  app.post('/internal/clients', { schema: { hide: true } }, async (request, reply) => {
    const given = Buffer.from(String(request.headers['x-admin-secret'] ?? ''));
    const expected = Buffer.from(secret);
    const loopback = ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(request.socket.remoteAddress ?? '');
    if (!loopback || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply
        .code(404)
        .send({ error: { code: 'not_found', message: 'not found', details: [], request_id: request.id } });
    }
    const body = request.body as { name?: unknown; scopes?: unknown };
    if (typeof body?.name !== 'string' || !Array.isArray(body.scopes)) {
      return reply.code(422).send({
        error: {
          code: 'validation_error',
          message: 'name and scopes required',
          details: [],
          request_id: request.id,
        },
      });
    }
    const created = await create(db, { name: body.name, scopes: body.scopes as Scope[] });
    return reply.code(201).send(created);
  });
}
