/**
 * Registration tokens (the pattern of Pusher Beams' auth tokens): the tenant's backend mints, for one of its
 * users, a token that lets that user's app register its device, and do nothing else, for a few minutes. So no
 * client token ever ships in an app binary or a web page, where anyone could read it.
 *
 * A token is signed, not stored: `fcmr_<payload>.<signature>`, the payload base64url JSON naming the tenant, the
 * profile (a phone number or an external id) and the expiry; the signature an HMAC-SHA256 of the payload under
 * a key derived from ENCRYPTION_KEY (and accepted under ENCRYPTION_KEYS_PREVIOUS, so a key rotation does not cut
 * off tokens in flight). It may be used more than once until it expires (an app re-registers when FCM rotates
 * its token), always for the same profile; revoking, disabling or expiring the client ends its tokens at once,
 * as the client is checked on every use.
 */
import { findClientById } from '../db/clients.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { ServiceDeps } from './deps.ts';
import { type DeviceView, type RegisterDeviceInput, registerDevice } from './devices.service.ts';
import { normalizePhoneNumber } from './profiles.service.ts';

export const REGISTRATION_TOKEN_PREFIX = 'fcmr_';
export const DEFAULT_REGISTRATION_TOKEN_TTL_SECONDS = 600;
export const MAX_REGISTRATION_TOKEN_TTL_SECONDS = 24 * 3600;

/** Who the token registers devices for: exactly one of the two. */
export type RegistrationSubject = { phone_number: string } | { external_id: string };

export interface RegistrationTokenView {
  registration_token: string;
  expires_at: string;
  phone_number: string | null;
  external_id: string | null;
}

/** The signed payload: short keys, as it travels in every app's request. */
interface Claims {
  /** The tenant (API client id). */
  c: string;
  p?: string;
  e?: string;
  /** Expiry, Unix seconds. */
  x: number;
}

export async function mintRegistrationToken(
  deps: ServiceDeps,
  tenantId: string,
  input: RegistrationSubject & { ttl_seconds?: number | undefined },
): Promise<RegistrationTokenView> {
  const ttl = input.ttl_seconds ?? DEFAULT_REGISTRATION_TOKEN_TTL_SECONDS;
  const expiresAt = Math.floor(Date.now() / 1000) + ttl;
  // The phone number is normalised now, so that a bad one is refused to the backend, not to the app.
  const phone = 'phone_number' in input ? normalizePhoneNumber(input.phone_number) : undefined;
  const external = 'external_id' in input ? input.external_id : undefined;
  const claims: Claims = {
    c: tenantId,
    ...(phone ? { p: phone } : {}),
    ...(external ? { e: external } : {}),
    x: expiresAt,
  };
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return {
    registration_token: `${REGISTRATION_TOKEN_PREFIX}${payload}.${deps.cipher.signRegistrationToken(payload)}`,
    expires_at: new Date(expiresAt * 1000).toISOString(),
    phone_number: phone ?? null,
    external_id: external ?? null,
  };
}

const refused = (code: string, message: string) =>
  new AppError(code, 401, message, [], { 'www-authenticate': 'Bearer' });

/** The claims of a token this server signed and that has not expired; 401 otherwise. */
function verify(deps: ServiceDeps, token: string | undefined): Claims {
  if (!token?.startsWith(REGISTRATION_TOKEN_PREFIX)) {
    throw refused(
      'invalid_registration_token',
      'send Authorization: Bearer <registration token> (fcmr_…), minted by your backend with ' +
        'POST /api/v1/registration-tokens; client tokens are not accepted here',
    );
  }
  const [payload = '', signature = ''] = token.slice(REGISTRATION_TOKEN_PREFIX.length).split('.', 2);
  if (!deps.cipher.verifyRegistrationToken(payload, signature)) {
    throw refused('invalid_registration_token', 'the registration token is not valid');
  }
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
  if (claims.x * 1000 <= Date.now()) {
    throw refused(
      'registration_token_expired',
      'the registration token has expired: ask your backend for a new one',
    );
  }
  return claims;
}

/** Registers (or updates, for a known FCM token) a device of the token's profile. */
export async function registerWithRegistrationToken(
  deps: ServiceDeps,
  token: string | undefined,
  input: Omit<RegisterDeviceInput, 'profile_id' | 'phone_number' | 'external_id'>,
): Promise<{ device: DeviceView; created: boolean }> {
  const claims = verify(deps, token);
  const client = await findClientById(deps.db, claims.c);
  const now = Date.now();
  if (
    !client ||
    client.revokedAt ||
    !client.isActive ||
    (client.expiresAt && client.expiresAt.getTime() <= now)
  ) {
    throw refused(
      'invalid_registration_token',
      'the client that minted this registration token is no longer active',
    );
  }
  return registerDevice(deps, claims.c, {
    ...input,
    ...(claims.p ? { phone_number: claims.p } : {}),
    ...(claims.e ? { external_id: claims.e } : {}),
  });
}
