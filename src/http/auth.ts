/**
 * Authentication (Client-ID + Client-Token headers, or Authorization: Bearer), IP allowlists and per-route
 * scopes. A route opts in with `config: { scope }`; the principal is then on `request.principal`. Scopes do not
 * imply each other: `admin` opens the /admin API only. `scope: 'any'` admits every authenticated client.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../lib/errors.ts';
import type { Principal, Scope } from '../services/clients.service.ts';
import type { Services } from '../services/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** The scope a client needs for this route ('any': any authenticated client); absent = public route. */
    scope?: Scope | 'any';
    /** POST that creates or sends: honours Idempotency-Key. */
    idempotent?: boolean;
  }
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === 'string' ? value.trim() : undefined;
};

/**
 * Browsers cannot set headers on a WebSocket, so the event stream also takes the token as a subprotocol:
 * `new WebSocket(url, ['fcms.events.v1', 'fcms.token.' + token])`. A header, unlike a query string, stays out
 * of access logs and browser history (docs/event-stream.md).
 */
export const WEBSOCKET_TOKEN_PREFIX = 'fcms.token.';

function subprotocolToken(request: FastifyRequest): string | undefined {
  const offered = header(request, 'sec-websocket-protocol');
  const token = offered
    ?.split(',')
    .map((protocol) => protocol.trim())
    .find((protocol) => protocol.startsWith(WEBSOCKET_TOKEN_PREFIX))
    ?.slice(WEBSOCKET_TOKEN_PREFIX.length);
  return token || undefined;
}

function credentials(request: FastifyRequest): { clientId: string | undefined; token: string } {
  const authorization = header(request, 'authorization');
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match)
      throw new AppError('invalid_credentials', 401, 'Authorization must be "Bearer <client token>"');
    return { clientId: header(request, 'client-id'), token: match[1]! };
  }
  const token = header(request, 'client-token');
  const clientId = header(request, 'client-id');
  const offered = token ? undefined : subprotocolToken(request);
  if (offered) return { clientId, token: offered };
  if (!token || !clientId) {
    throw new AppError(
      'missing_credentials',
      401,
      'send Client-ID and Client-Token headers, or Authorization: Bearer <client token>',
      [],
      { 'www-authenticate': 'Bearer' },
    );
  }
  return { clientId, token };
}

/** The principal of an authenticated route (routes with a scope always have one). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('missing_credentials', 401, 'authentication required');
  return request.principal;
}

export function registerAuth(app: FastifyInstance, services: Services): void {
  app.decorateRequest('principal', undefined);
  app.addHook('preValidation', async (request) => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const { clientId, token } = credentials(request);
    const principal = await services.clients.authenticate({ clientId, token, ip: request.ip });
    if (scope !== 'any' && !principal.scopes.includes(scope)) {
      throw new AppError('insufficient_scope', 403, `this client lacks the "${scope}" scope`, [
        { message: `required scope: ${scope}` },
      ]);
    }
    request.principal = principal;
    request.log = request.log.child({ client_id: principal.clientId });
  });
}
