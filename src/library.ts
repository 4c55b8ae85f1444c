/**
 * The server as a library: `createServer(options)` starts what `fcm-server start` starts (database, queue,
 * workers, the sandbox emulator when FCM is not configured) from typed settings instead of the environment,
 * and `fcmServer` mounts the API under a prefix in another Fastify app. The settings go through the same schema
 * as the environment (src/config/env.schema.ts), so validation and defaults live in one place.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { type Config, type Env, loadConfig } from './config/index.ts';
import { createProcessLogger } from './logger.ts';
import { type Runtime, startRuntime } from './runtime.ts';
import { adminCommands } from './services/admin-commands.service.ts';
import { SCOPES, type Scope } from './services/clients.service.ts';

export type { Config } from './config/index.ts';
export { ConfigError } from './config/index.ts';
export { SCOPES, type Scope };

/** What a setting accepts: booleans and numbers as such, lists as arrays (or comma-separated), the rest as text. */
type SettingOf<T> = [T] extends [boolean]
  ? boolean
  : [T] extends [number]
    ? number
    : [T] extends [readonly unknown[]]
      ? readonly string[] | string
      : [T] extends [string]
        ? T
        : string;

/**
 * Every environment variable of docs/configuration.md, by the same name, typed. A setting left out takes its
 * default; process.env is never read.
 */
export type ServerSettings = { [K in keyof Env]?: SettingOf<Exclude<Env[K], undefined>> };

export interface ServerOptions {
  settings?: ServerSettings;
  /** A pino logger; by default one is made from LOG_LEVEL and LOG_FORMAT, writing to stdout. */
  logger?: Logger;
  /** Run the workers (sending, webhooks, schedules) in this process: true unless another process runs them. */
  worker?: boolean;
}

export interface IssuedClient {
  clientId: string;
  clientToken: string;
}

export interface FcmServer {
  /** The API as a Fastify app, ready and not listening (listen(), or mount it with `plugin`). */
  readonly app: FastifyInstance;
  readonly config: Readonly<Config>;
  /** The sandbox's FCM emulator, when FCM_EMULATOR is on (the default outside production without FCM_BASE_URL). */
  readonly emulator: Runtime['emulator'];
  /** Listens on HOST:PORT (or the given ones) and returns the address. */
  listen(options?: { host?: string; port?: number }): Promise<string>;
  /** Creates an API client (a tenant) and returns its credentials, as `fcm-server create-client` does. */
  createClient(input: { name: string; scopes?: Scope[] }): Promise<IssuedClient>;
  /**
   * Mounts this server's API in another Fastify app: `host.register(server.plugin, { prefix: '/push' })`.
   * Closing the host does not close this server; `fcmServer` does both.
   */
  readonly plugin: FastifyPluginAsync;
  /** Stops accepting, lets the workers finish their in-flight batches, stops the queue, closes the database. */
  close(): Promise<void>;
}

/** The settings as the environment would spell them, for the one schema that validates both. */
function settingsToEnv(settings: ServerSettings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    env[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return env;
}

/** Starts the server; the returned object is the only handle on it (no signal handlers are installed). */
export async function createServer(options: ServerOptions = {}): Promise<FcmServer> {
  const config = loadConfig(settingsToEnv(options.settings ?? {}));
  const logger = options.logger ?? createProcessLogger(config);
  const runtime = await startRuntime({
    config,
    logger,
    roles: { api: true, worker: options.worker ?? true },
  });
  const app = runtime.app;
  if (!app) throw new Error('the runtime started without its API');
  try {
    await app.ready();
  } catch (error) {
    await runtime.close();
    throw error;
  }
  return {
    app,
    config,
    emulator: runtime.emulator,
    listen: (at = {}) => app.listen({ host: at.host ?? config.host, port: at.port ?? config.port }),
    createClient: (input) =>
      adminCommands.createClient(
        { db: runtime.database.db },
        { name: input.name, scopes: input.scopes ?? ['send', 'read', 'manage'] },
      ),
    plugin: mountPlugin(app),
    close: () => runtime.close(),
  };
}

/** `/push/api/v1/x?y` → `/api/v1/x?y`; the mount point itself is the API's root. */
function stripPrefix(url: string, prefix: string): string {
  const rest = url.slice(prefix.length);
  return rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
}

const underPrefix = (url: string | undefined, prefix: string) =>
  url !== undefined && (url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`));

/**
 * Every request under the prefix is handed, unparsed, to the API's own router: its body limit, JSON parsing,
 * authentication, rate limits, error format and request ids apply as they do when it listens alone. The host's
 * onRequest hooks run first; its later hooks and its body parsers never see these requests. WebSocket upgrades
 * under the prefix (the event stream) go to the API too.
 */
function mountPlugin(api: FastifyInstance): FastifyPluginAsync {
  return async (host) => {
    const prefix = host.prefix;
    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      request.raw.url = stripPrefix(request.raw.url ?? prefix, prefix);
      api.routing(request.raw, reply.raw);
    };
    const route = {
      method: ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'],
      schema: { hide: true },
      onRequest: forward,
      // Never reached: onRequest has handed the request over, and a hijacked request's lifecycle ends there.
      handler: async () => {
        throw new Error('the request was handed to the push API');
      },
    };
    host.route({ ...route, url: '/' });
    host.route({ ...route, url: '/*' });
    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!underPrefix(request.url, prefix)) {
        // Alone on the server, this listener must refuse what it does not take (Node would otherwise hang it).
        if (host.server.listenerCount('upgrade') === 1) socket.destroy();
        return;
      }
      request.url = stripPrefix(request.url ?? prefix, prefix);
      api.server.emit('upgrade', request, socket, head);
    };
    host.server.on('upgrade', onUpgrade);
    host.addHook('onClose', async () => {
      host.server.off('upgrade', onUpgrade);
    });
  };
}

export interface FcmServerPluginOptions extends ServerOptions {}

/**
 * A Fastify plugin that starts the server and mounts its API where it is registered:
 * `await app.register(fcmServer, { prefix: '/push', settings: { DATABASE_URL } })`. Closing the app closes it.
 * The dashboard is not served under a prefix (it calls the API at the root): DASHBOARD_ENABLED defaults to off.
 */
export const fcmServer: FastifyPluginAsync<FcmServerPluginOptions> = async (host, options) => {
  const settings = { DASHBOARD_ENABLED: false, ...options.settings };
  if (settings.DASHBOARD_ENABLED && host.prefix !== '')
    throw new Error('the dashboard is served at the root only: leave DASHBOARD_ENABLED off under a prefix');
  const server = await createServer({ ...options, settings });
  host.addHook('onClose', () => server.close());
  await server.plugin(host, {});
};
