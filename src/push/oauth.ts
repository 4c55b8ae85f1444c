/** OAuth2 access tokens for a Firebase service account: JWT bearer grant (RFC 7523) with a shared cache. */
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ServiceAccount } from './push-provider.ts';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ASSERTION_LIFETIME_SECONDS = 3600;

/**
 * Minting failed. `retryable` is true when the token endpoint was unreachable, slow or answered 5xx/429: the
 * credentials may be fine. Otherwise the credentials themselves were refused (or unusable) and repeating will not help.
 */
export class AccessTokenError extends Error {
  readonly retryable: boolean;
  /** HTTP status of the token endpoint's answer, when there was one. */
  readonly status: number | undefined;

  constructor(message: string, retryable: boolean, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AccessTokenError';
    this.retryable = retryable;
    this.status = status;
  }
}

export interface AccessTokenCacheOptions {
  fetchImpl?: typeof fetch;
  /** Refresh this long before the token expires (capped at half the token's lifetime). Default 5 minutes. */
  refreshMarginMs?: number;
  /** Abort a token request after this long. Default 10 s. */
  timeoutMs?: number;
  now?: () => number;
}

interface CachedToken {
  accessToken: string;
  refreshAt: number;
}

interface Entry {
  token?: CachedToken;
  inFlight?: Promise<string>;
}

/** Access tokens per service account, reused until shortly before expiry; concurrent callers share one refresh. */
export class AccessTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #fetch: typeof fetch;
  readonly #refreshMarginMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(options: AccessTokenCacheOptions = {}) {
    this.#fetch = options.fetchImpl ?? fetch;
    this.#refreshMarginMs = options.refreshMarginMs ?? 5 * 60_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** A valid access token for the account, minting one only when none is cached or it is about to expire. */
  getToken(account: ServiceAccount): Promise<string> {
    const key = cacheKey(account);
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = {};
      this.#entries.set(key, entry);
    }
    if (entry.token && this.#now() < entry.token.refreshAt) return Promise.resolve(entry.token.accessToken);
    if (entry.inFlight) return entry.inFlight;

    const current = entry;
    const refresh = this.#mint(account).then(
      (token) => {
        current.token = token;
        current.inFlight = undefined;
        return token.accessToken;
      },
      (error: unknown) => {
        current.inFlight = undefined;
        throw error;
      },
    );
    current.inFlight = refresh;
    return refresh;
  }

  /**
   * Forgets the cached token after FCM refused it. Pass the refused token: if another caller already replaced
   * it, the fresh one is kept, so a burst of 401s causes one refresh, not one per message.
   */
  invalidate(account: ServiceAccount, refusedToken?: string): void {
    const entry = this.#entries.get(cacheKey(account));
    if (!entry?.token) return;
    if (refusedToken === undefined || entry.token.accessToken === refusedToken) entry.token = undefined;
  }

  async #mint(account: ServiceAccount): Promise<CachedToken> {
    const issuedAt = Math.floor(this.#now() / 1000);
    const assertion = await signAssertion(account, issuedAt);
    let response: Response;
    try {
      response = await this.#fetch(account.token_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new AccessTokenError(
        `token endpoint ${account.token_uri} unreachable: ${describe(error)}`,
        true,
        undefined,
        { cause: error },
      );
    }

    const text = await response.text().catch(() => '');
    if (!response.ok) {
      const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      throw new AccessTokenError(
        `token endpoint refused the service account ${account.client_email} (HTTP ${response.status}): ${oauthErrorText(text)}`,
        retryable,
        response.status,
      );
    }
    const body = parseJson(text) as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (typeof body?.access_token !== 'string' || body.access_token === '') {
      throw new AccessTokenError(
        `token endpoint ${account.token_uri} answered without an access_token`,
        true,
        response.status,
      );
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000;
    const margin = Math.min(this.#refreshMarginMs, lifetimeMs / 2);
    return { accessToken: body.access_token, refreshAt: this.#now() + lifetimeMs - margin };
  }
}

/** The signed JWT (RS256) that the token endpoint exchanges for an access token. */
export async function signAssertion(account: ServiceAccount, issuedAtSeconds: number): Promise<string> {
  // createPrivateKey rather than jose's importPKCS8: registration accepts any PEM RSA key, PKCS#1 included.
  let key: KeyObject;
  try {
    key = createPrivateKey(account.private_key);
  } catch (error) {
    throw new AccessTokenError(
      `the private_key of service account ${account.client_email} is not a valid PEM key`,
      false,
      undefined,
      { cause: error },
    );
  }
  try {
    return await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        ...(account.private_key_id ? { kid: account.private_key_id } : {}),
      })
      .setIssuer(account.client_email)
      .setAudience(account.token_uri)
      .setIssuedAt(issuedAtSeconds)
      .setExpirationTime(issuedAtSeconds + ASSERTION_LIFETIME_SECONDS)
      .sign(key);
  } catch (error) {
    // jose refuses keys RS256 must not use (not RSA, or under 2048 bits): no retry can fix that.
    throw new AccessTokenError(
      `the private_key of service account ${account.client_email} cannot sign RS256: ${describe(error)}`,
      false,
      undefined,
      { cause: error },
    );
  }
}

/** One cache slot per identity and key: a rotated private key must not reuse the old key's token. */
function cacheKey(account: ServiceAccount): string {
  const keyHash = createHash('sha256').update(account.private_key).digest('base64url').slice(0, 16);
  return `${account.client_email}\n${account.token_uri}\n${keyHash}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Google answers `{"error": "invalid_grant", "error_description": "…"}`; keep it short for logs. */
function oauthErrorText(text: string): string {
  const body = parseJson(text) as { error?: unknown; error_description?: unknown } | undefined;
  if (body && typeof body.error === 'string') {
    return typeof body.error_description === 'string'
      ? `${body.error}: ${body.error_description}`
      : body.error;
  }
  return text.slice(0, 200) || 'empty body';
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
