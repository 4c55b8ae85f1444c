/**
 * API clients (tenants) and their credentials: creation with a one-time token, authentication of a request
 * (token state, expiry, IP allowlist), the admin's changes, token rotation with a grace period, revocation.
 */

import {
  type ApiClientRow,
  findClientById,
  findClientByTokenHash,
  insertClient,
  listClients,
  revokeClient as revokeClientRow,
  rotateClientTokenHash,
  updateClient,
} from '../db/clients.repository.ts';
import { generateClientToken, hashClientToken, sameDigest } from '../lib/crypto.ts';
import { AppError, type ErrorDetail, invalid, notFound } from '../lib/errors.ts';
import { UUID_PATTERN, uuidv7 } from '../lib/ids.ts';
import { isAllowed, normalizeCidrList } from '../lib/ip.ts';
import { RATE_LIMIT_GROUPS } from '../lib/rate-limits.ts';
import type { ServiceDeps } from './deps.ts';
import { type PageView, pageView } from './views.ts';

/**
 * send: the notify endpoints. read: every GET (and read-only POSTs such as template preview), the tenant's
 * audit log. manage: create, change and delete profiles, devices, topics, templates, Firebase projects.
 * admin: the /admin API (clients of every tenant, the server-wide audit log) and nothing else unless granted.
 */
export const SCOPES = ['send', 'read', 'manage', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
export const DEFAULT_SCOPES: Scope[] = ['send', 'read', 'manage'];

/**
 * Endpoint groups a client's rate limits may override, in requests per minute (the rate limiter reads them;
 * the defaults are the plan's: send 100, bulk 10, device registration 50, analytics 30).
 */
export { RATE_LIMIT_GROUPS };
export const MAX_RATE_LIMIT = 1_000_000;
export const MAX_ALLOWLIST_ENTRIES = 100;

/** Rotation keeps the old token working this long unless told otherwise. */
export const DEFAULT_GRACE_SECONDS = 24 * 3600;
export const MAX_GRACE_SECONDS = 30 * 24 * 3600;

/** The authenticated tenant, as the HTTP layer sees it. */
export interface Principal {
  clientId: string;
  name: string;
  scopes: Scope[];
  /** Per-group rate-limit overrides (requests per minute) set by an admin; empty = the server's defaults. */
  rateLimits: Record<string, number>;
  /** Authenticated with the rotated-out token during its grace period. */
  viaPreviousToken: boolean;
}

/** A client as the admin API shows it: never a token or a hash. */
export interface ClientView {
  id: string;
  name: string;
  scopes: Scope[];
  /** active, disabled (is_active false), revoked, or expired (expires_at passed). */
  status: 'active' | 'disabled' | 'revoked' | 'expired';
  is_active: boolean;
  expires_at: string | null;
  revoked_at: string | null;
  /** While a rotation's grace period runs: when the previous token stops working. */
  previous_token_expires_at: string | null;
  ip_allowlist: string[];
  rate_limits: Record<string, number>;
  created_at: string;
  updated_at: string;
}

export function toView(row: ApiClientRow, now = Date.now()): ClientView {
  const previousLive = row.previousTokenHash !== null && (row.previousTokenExpiresAt?.getTime() ?? 0) > now;
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes as Scope[],
    status: row.revokedAt
      ? 'revoked'
      : !row.isActive
        ? 'disabled'
        : row.expiresAt && row.expiresAt.getTime() <= now
          ? 'expired'
          : 'active',
    is_active: row.isActive,
    expires_at: row.expiresAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    previous_token_expires_at:
      previousLive && !row.revokedAt ? row.previousTokenExpiresAt!.toISOString() : null,
    ip_allowlist: row.ipAllowlist,
    rate_limits: row.rateLimits,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export interface ClientInput {
  name?: string | undefined;
  scopes?: Scope[] | undefined;
  ipAllowlist?: string[] | undefined;
  rateLimits?: Record<string, number> | undefined;
  expiresAt?: Date | null | undefined;
  isActive?: boolean | undefined;
}

/** Validates and normalises what an admin (or the CLI) sets on a client; throws a 422 naming each bad field. */
function checkInput(input: ClientInput): ClientInput {
  const details: ErrorDetail[] = [];
  const name = input.name?.trim();
  if (input.name !== undefined && (!name || name.length > 200)) {
    details.push({ field: 'name', message: 'must be 1 to 200 characters' });
  }
  let scopes: Scope[] | undefined;
  if (input.scopes !== undefined) {
    scopes = [...new Set(input.scopes)];
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || unknown.length > 0) {
      details.push({ field: 'scopes', message: `must be one or more of ${SCOPES.join(', ')}` });
    }
  }
  let ipAllowlist: string[] | undefined;
  if (input.ipAllowlist !== undefined) {
    const result = normalizeCidrList(input.ipAllowlist);
    if (!result.ok) {
      for (const error of result.errors)
        details.push({ field: `ip_allowlist[${error.index}]`, message: error.message });
    } else if (result.cidrs.length > MAX_ALLOWLIST_ENTRIES) {
      details.push({ field: 'ip_allowlist', message: `at most ${MAX_ALLOWLIST_ENTRIES} entries` });
    } else {
      ipAllowlist = result.cidrs;
    }
  }
  if (input.rateLimits !== undefined) {
    for (const [group, limit] of Object.entries(input.rateLimits)) {
      if (!(RATE_LIMIT_GROUPS as readonly string[]).includes(group)) {
        details.push({
          field: `rate_limits.${group}`,
          message: `unknown group; use ${RATE_LIMIT_GROUPS.join(', ')}`,
        });
      } else if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RATE_LIMIT) {
        details.push({
          field: `rate_limits.${group}`,
          message: `must be a whole number of requests per minute from 1 to ${MAX_RATE_LIMIT}`,
        });
      }
    }
  }
  if (input.expiresAt && Number.isNaN(input.expiresAt.getTime())) {
    details.push({ field: 'expires_at', message: 'must be a date-time such as 2027-01-31T00:00:00Z' });
  }
  if (details.length > 0) throw invalid('the client settings are not valid', details);
  return { ...input, ...(name !== undefined ? { name } : {}), scopes, ipAllowlist };
}

export interface CreatedClient {
  clientId: string;
  /** Shown once: only its hash is stored. */
  clientToken: string;
  name: string;
  scopes: Scope[];
  client: ClientView;
}

export async function createClient(
  deps: Pick<ServiceDeps, 'db'>,
  input: ClientInput & { name: string },
): Promise<CreatedClient> {
  const checked = checkInput(input);
  if (checked.expiresAt && checked.expiresAt.getTime() <= Date.now()) {
    throw invalid('expires_at must be in the future', [{ field: 'expires_at', message: 'in the past' }]);
  }
  const token = generateClientToken();
  const scopes = checked.scopes ?? DEFAULT_SCOPES;
  const row = await insertClient(deps.db, {
    id: uuidv7(),
    name: checked.name ?? input.name,
    tokenHash: hashClientToken(token),
    scopes,
    ipAllowlist: checked.ipAllowlist ?? [],
    rateLimits: checked.rateLimits ?? {},
    expiresAt: checked.expiresAt ?? null,
    isActive: checked.isActive ?? true,
  });
  return { clientId: row.id, clientToken: token, name: row.name, scopes, client: toView(row) };
}

/**
 * How long an authentication may reuse a client row it read before, by the deps' clock. Every change made
 * through this process (admin API, the CLI through the server, token rotation, revocation) forgets the cached
 * rows at once; a change made behind its back (another server process on the same database, SQL) takes effect
 * here within this bound. The token, state, expiry and allowlist are checked against the row on every request.
 */
export const CLIENT_CACHE_MS = 2000;
const MAX_CACHED_CLIENTS = 10_000;

interface CachedClient {
  row: ApiClientRow;
  readAt: number;
}

/** One cache per database handle, so that servers sharing a process (tests, embedding) never share rows. */
const clientCaches = new WeakMap<object, Map<string, CachedClient>>();

/** Forgets every cached client row of this database handle: called by every change to a client. */
export function forgetClients(deps: Pick<ServiceDeps, 'db'>): void {
  clientCaches.delete(deps.db);
}

async function cachedClient(
  deps: ServiceDeps,
  key: string,
  load: () => Promise<ApiClientRow | undefined>,
): Promise<ApiClientRow | undefined> {
  const now = deps.clock.now().getTime();
  let cache = clientCaches.get(deps.db);
  const hit = cache?.get(key);
  if (hit && now - hit.readAt < CLIENT_CACHE_MS && now >= hit.readAt) return hit.row;
  const row = await load();
  // Unknown clients are not cached: a client created elsewhere is usable at once.
  if (row) {
    if (!cache || cache.size >= MAX_CACHED_CLIENTS) {
      cache = new Map();
      clientCaches.set(deps.db, cache);
    }
    cache.set(key, { row, readAt: now });
  }
  return row;
}

const unauthorized = (code: string, message: string) =>
  new AppError(code, 401, message, [], { 'www-authenticate': 'Bearer' });

/**
 * Authenticates by client id + token (the spec's headers) or by the token alone (Authorization: Bearer), then
 * checks the client's state and IP allowlist. Tokens are found by their SHA-256 (unique indexes) and the
 * digests compared in constant time. Failures are distinct: invalid_credentials (no such client or token),
 * token_revoked, client_disabled, token_expired (the client's expires_at, or a rotated-out token after its
 * grace period), and 403 ip_not_allowed. Client rows are cached for CLIENT_CACHE_MS (see there).
 */
export async function authenticate(
  deps: ServiceDeps,
  request: { clientId: string | undefined; token: string; ip: string | undefined },
): Promise<Principal> {
  const hash = hashClientToken(request.token);
  const clientId = request.clientId?.toLowerCase();
  const client =
    clientId === undefined
      ? await cachedClient(deps, `hash:${hash}`, () => findClientByTokenHash(deps.db, hash))
      : UUID_PATTERN.test(clientId)
        ? await cachedClient(deps, `id:${clientId}`, () => findClientById(deps.db, clientId))
        : undefined;
  const current = client !== undefined && sameDigest(client.tokenHash, hash);
  const previous = client?.previousTokenHash ? sameDigest(client.previousTokenHash, hash) : false;
  if (!client || (!current && !previous)) {
    throw unauthorized('invalid_credentials', 'client id or token is not valid');
  }
  const now = Date.now();
  if (client.revokedAt) throw unauthorized('token_revoked', 'this API client token has been revoked');
  if (!client.isActive) throw unauthorized('client_disabled', 'this API client is disabled');
  if (client.expiresAt && client.expiresAt.getTime() <= now) {
    throw unauthorized('token_expired', 'this API client token has expired');
  }
  if (!current && (client.previousTokenExpiresAt?.getTime() ?? 0) <= now) {
    throw unauthorized(
      'token_expired',
      'this token was rotated out and its grace period has ended: use the new token',
    );
  }
  if (!isAllowed(client.ipAllowlist, request.ip)) {
    throw new AppError('ip_not_allowed', 403, 'this API client may not call from this IP address', [
      { message: `request IP: ${request.ip ?? 'unknown'}` },
    ]);
  }
  return {
    clientId: client.id,
    name: client.name,
    scopes: client.scopes as Scope[],
    rateLimits: client.rateLimits,
    viaPreviousToken: !current,
  };
}

export async function listClientPage(
  deps: ServiceDeps,
  filter: { active?: boolean | undefined },
  limit: number,
  cursor: string | undefined,
): Promise<PageView<ClientView>> {
  const page = await listClients(deps.db, filter, limit, cursor);
  return pageView(page, (row) => toView(row));
}

export async function getClient(deps: ServiceDeps, id: string): Promise<ClientView> {
  const row = await findClientById(deps.db, id);
  if (!row) throw notFound('client');
  return toView(row);
}

/** The admin's changes: fields not given are kept; expires_at null removes the expiry. */
export async function changeClient(deps: ServiceDeps, id: string, input: ClientInput): Promise<ClientView> {
  const checked = checkInput(input);
  forgetClients(deps);
  const row = await updateClient(deps.db, id, {
    ...(checked.name !== undefined ? { name: checked.name } : {}),
    ...(checked.scopes !== undefined ? { scopes: checked.scopes } : {}),
    ...(checked.ipAllowlist !== undefined ? { ipAllowlist: checked.ipAllowlist } : {}),
    ...(checked.rateLimits !== undefined ? { rateLimits: checked.rateLimits } : {}),
    ...(checked.expiresAt !== undefined ? { expiresAt: checked.expiresAt } : {}),
    ...(checked.isActive !== undefined ? { isActive: checked.isActive } : {}),
  });
  forgetClients(deps);
  if (!row) throw notFound('client');
  return toView(row);
}

export interface RotatedToken {
  client: ClientView;
  /** Shown once. */
  clientToken: string;
}

/**
 * Issues a new token. The old one keeps working for `graceSeconds` (0: it stops at once) so deployments can
 * switch over; a revoked client's old token never comes back.
 */
export async function rotateClientToken(
  deps: Pick<ServiceDeps, 'db'>,
  id: string,
  graceSeconds: number = DEFAULT_GRACE_SECONDS,
): Promise<RotatedToken> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    throw invalid(`grace_seconds must be a whole number from 0 to ${MAX_GRACE_SECONDS} (30 days)`, [
      { field: 'grace_seconds', message: 'out of range' },
    ]);
  }
  const token = generateClientToken();
  const previousExpiresAt = graceSeconds === 0 ? null : new Date(Date.now() + graceSeconds * 1000);
  forgetClients(deps);
  const row = await rotateClientTokenHash(deps.db, id, hashClientToken(token), previousExpiresAt);
  forgetClients(deps);
  if (!row) throw notFound('client');
  return { client: toView(row), clientToken: token };
}

/**
 * A client rotating its own token (it leaked, or routine hygiene). Only the current token may do it: a leaked
 * token still in its grace period must not be able to take the new one over.
 */
export async function rotateOwnToken(
  deps: ServiceDeps,
  principal: Principal,
  graceSeconds: number | undefined,
): Promise<RotatedToken> {
  if (principal.viaPreviousToken) {
    throw new AppError(
      'current_token_required',
      403,
      'a rotated-out token cannot rotate again: use the current token',
    );
  }
  return rotateClientToken(deps, principal.clientId, graceSeconds);
}

/** Both tokens stop at once (401 token_revoked). Rotating issues the client a new credential. */
export async function revokeClient(deps: ServiceDeps, id: string): Promise<ClientView> {
  forgetClients(deps);
  const row = await revokeClientRow(deps.db, id);
  forgetClients(deps);
  if (!row) throw notFound('client');
  return toView(row);
}
