/**
 * The admin commands of the CLI (create-client, rotate-client-token, purge), run on whichever database handle
 * owns the data. Embedded mode: one process owns the PGlite data directory, so while a server runs the CLI asks
 * it instead of opening the database. The server publishes its URL and a random admin secret in a file only
 * its user can read (DATA_DIR/server.json, mode 0600); the routes accept loopback callers with that secret.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from './db/client.ts';
import { errorBody } from './http/errors.ts';
import { AppError, type ErrorDetail } from './lib/errors.ts';
import type { Runtime } from './runtime.ts';
import { recordAudit } from './services/audit.service.ts';
import { createClient, rotateClientToken, SCOPES, type Scope } from './services/clients.service.ts';
import type { ServiceDeps } from './services/deps.ts';
import { type PurgeResult, purgeSoftDeleted } from './services/retention.service.ts';

interface LocalServer {
  url: string;
  pid: number;
  secret: string;
}

export interface NewClientInput {
  name: string;
  scopes: Scope[];
  ipAllowlist?: string[] | undefined;
  /** ISO 8601. */
  expiresAt?: string | undefined;
}

export interface IssuedToken {
  clientId: string;
  clientToken: string;
  /** When the previous token stops working (rotation with a grace period). */
  previousTokenExpiresAt?: string | null;
}

const cliAudit = (action: string, clientId: string, details: Record<string, unknown>) => ({
  tenantId: clientId,
  actorId: null,
  action,
  targetType: 'client',
  targetId: clientId,
  ip: null,
  requestId: null,
  details: { via: 'cli', ...details },
});

/** The commands themselves; changes to a client get an audit row (actor null: the command line). */
export const adminCommands = {
  async createClient(db: Db, input: NewClientInput): Promise<IssuedToken> {
    const created = await createClient(
      { db },
      {
        name: input.name,
        scopes: input.scopes,
        ipAllowlist: input.ipAllowlist,
        expiresAt: input.expiresAt === undefined ? undefined : new Date(input.expiresAt),
      },
    );
    await recordAudit(
      { db },
      cliAudit('client.create', created.clientId, {
        fields: Object.keys(input).filter((k) => input[k as keyof NewClientInput] !== undefined),
      }),
    );
    return { clientId: created.clientId, clientToken: created.clientToken };
  },

  async rotateClientToken(db: Db, id: string, graceSeconds: number | undefined): Promise<IssuedToken> {
    const rotated = await rotateClientToken({ db }, id, graceSeconds);
    await recordAudit({ db }, cliAudit('client.rotate', id, { grace_seconds: graceSeconds ?? null }));
    return {
      clientId: rotated.client.id,
      clientToken: rotated.clientToken,
      previousTokenExpiresAt: rotated.client.previous_token_expires_at,
    };
  },

  purge(db: Db, retentionDays: number): Promise<PurgeResult> {
    return purgeSoftDeleted({ db }, { retentionDays });
  },
};

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

/** Calls the running server's internal admin route; its error (in our format) is thrown as the AppError it was. */
export async function callLocalServer<T>(server: LocalServer, path: string, body: object): Promise<T> {
  const response = await fetch(`${server.url.replace('0.0.0.0', '127.0.0.1')}/internal${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-secret': server.secret },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    let body: { error?: { code: string; message: string; details: ErrorDetail[] } } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Not our error format: report the raw answer below.
    }
    if (body.error)
      throw new AppError(body.error.code, response.status, body.error.message, body.error.details);
    throw new Error(`the running server refused: ${response.status} ${text}`);
  }
  return JSON.parse(text) as T;
}

const clientBody = z.strictObject({
  name: z.string().min(1),
  scopes: z.array(z.enum(SCOPES)),
  ipAllowlist: z.array(z.string()).optional(),
  expiresAt: z.string().optional(),
});

const internalRoutes =
  (deps: ServiceDeps, secret: string): FastifyPluginAsyncZod =>
  async (app) => {
    const expected = Buffer.from(secret);
    app.addHook('onRequest', async (request, reply) => {
      const given = Buffer.from(String(request.headers['x-admin-secret'] ?? ''));
      const loopback = ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(request.socket.remoteAddress ?? '');
      if (!loopback || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply.code(404).send(errorBody('not_found', 'not found', [], request.id));
      }
    });
    app.post('/clients', { schema: { hide: true, body: clientBody } }, async (request, reply) =>
      reply.code(201).send(await adminCommands.createClient(deps.db, request.body)),
    );
    app.post(
      '/clients/:id/rotate',
      {
        schema: {
          hide: true,
          params: z.object({ id: z.uuid() }),
          body: z.strictObject({ graceSeconds: z.int().optional() }),
        },
      },
      async (request) =>
        adminCommands.rotateClientToken(deps.db, request.params.id, request.body.graceSeconds),
    );
    app.post('/purge', { schema: { hide: true } }, async () =>
      adminCommands.purge(deps.db, deps.config.softDeleteRetentionDays),
    );
  };

/** Registers the loopback-only routes behind the admin commands while a server runs. */
export async function registerLocalAdmin(app: FastifyInstance, deps: ServiceDeps): Promise<void> {
  const secret = randomBytes(32).toString('base64url');
  (app as FastifyInstance & { localAdminSecret?: string }).localAdminSecret = secret;
  await app.register(internalRoutes(deps, secret), { prefix: '/internal' });
}
