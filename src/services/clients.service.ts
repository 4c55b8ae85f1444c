/** API clients (tenants): creation with a one-time token, and authentication of a request. */

import type { Db } from '../db/client.ts';
import { findClientById, findClientByTokenHash, insertClient } from '../db/clients.repository.ts';
import { generateClientToken, hashClientToken, sameDigest } from '../lib/crypto.ts';
import { AppError } from '../lib/errors.ts';
import { UUID_PATTERN, uuidv7 } from '../lib/ids.ts';

export const SCOPES = ['send', 'read', 'manage', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The authenticated tenant, as the HTTP layer sees it. */
export interface Principal {
  clientId: string;
  name: string;
  scopes: Scope[];
  /** Per-group overrides of the rate limits (api_clients.rate_limits), requests per minute. */
  rateLimits: Readonly<Record<string, number>>;
}

export interface CreatedClient {
  clientId: string;
  clientToken: string;
  name: string;
  scopes: Scope[];
}

export async function createClient(
  db: Db,
  input: { name: string; scopes?: Scope[]; expiresAt?: Date | null },
): Promise<CreatedClient> {
  const token = generateClientToken();
  const scopes = input.scopes ?? ['send', 'read', 'manage'];
  const row = await insertClient(db, {
    id: uuidv7(),
    name: input.name,
    tokenHash: hashClientToken(token),
    scopes,
    expiresAt: input.expiresAt ?? null,
  });
  return { clientId: row.id, clientToken: token, name: row.name, scopes };
}

const unauthorized = (code: string, message: string) => new AppError(code, 401, message);

/**
 * Authenticates by client id + token (the spec's headers) or by the token alone (Authorization: Bearer).
 * The stored value is a hash; the comparison is constant-time.
 */
export async function authenticate(db: Db, clientId: string | undefined, token: string): Promise<Principal> {
  const hash = hashClientToken(token);
  let client: Awaited<ReturnType<typeof findClientById>>;
  if (clientId !== undefined) {
    client = UUID_PATTERN.test(clientId) ? await findClientById(db, clientId) : undefined;
    if (client && !sameDigest(client.tokenHash, hash)) client = undefined;
  } else {
    client = await findClientByTokenHash(db, hash);
  }
  if (!client) throw unauthorized('invalid_credentials', 'client id or token is not valid');
  if (!client.isActive) throw unauthorized('client_disabled', 'this API client is disabled');
  if (client.expiresAt && client.expiresAt.getTime() <= Date.now()) {
    throw unauthorized('token_expired', 'this API client token has expired');
  }
  return {
    clientId: client.id,
    name: client.name,
    scopes: client.scopes as Scope[],
    rateLimits: client.rateLimits ?? {},
  };
}
