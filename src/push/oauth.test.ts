import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestServiceAccount } from '../emulator/test-account.ts';
import { AccessTokenCache, AccessTokenError, FCM_SCOPE } from './oauth.ts';

const { account, publicKeyPem } = createTestServiceAccount({
  projectId: 'p',
  tokenUri: 'http://127.0.0.1:9/custom/token',
});

/** A token endpoint that records each request and answers token-1, token-2, … */
function fakeEndpoint(expiresIn = 3600) {
  const requests: Array<{ url: string; form: URLSearchParams }> = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    requests.push({ url: String(input), form: new URLSearchParams(String(init?.body)) });
    await new Promise((resolve) => setTimeout(resolve, 5));
    return Response.json({
      access_token: `token-${requests.length}`,
      expires_in: expiresIn,
      token_type: 'Bearer',
    });
  };
  return { requests, fetchImpl };
}

describe('AccessTokenCache', () => {
  it('posts a JWT bearer grant signed RS256 to the account token_uri', async () => {
    const endpoint = fakeEndpoint();
    const cache = new AccessTokenCache({ fetchImpl: endpoint.fetchImpl, now: () => 1_800_000_000_000 });
    expect(await cache.getToken(account)).toBe('token-1');

    const [request] = endpoint.requests;
    expect(request?.url).toBe('http://127.0.0.1:9/custom/token');
    expect(request?.form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [header, claims, signature] = (request?.form.get('assertion') ?? '').split('.') as [
      string,
      string,
      string,
    ];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({
      alg: 'RS256',
      typ: 'JWT',
      kid: account.private_key_id,
    });
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toEqual({
      iss: account.client_email,
      scope: FCM_SCOPE,
      aud: account.token_uri,
      iat: 1_800_000_000,
      exp: 1_800_003_600,
    });
    const valid = verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${claims}`),
      createPublicKey(publicKeyPem),
      Buffer.from(signature, 'base64url'),
    );
    expect(valid).toBe(true);
  });

  it('shares one refresh between concurrent callers and reuses the token until 5 minutes before expiry', async () => {
    const endpoint = fakeEndpoint();
    let now = 0;
    const cache = new AccessTokenCache({ fetchImpl: endpoint.fetchImpl, now: () => now });
    const tokens = await Promise.all(Array.from({ length: 50 }, () => cache.getToken(account)));
    expect(new Set(tokens)).toEqual(new Set(['token-1']));
    expect(endpoint.requests).toHaveLength(1);

    now = 3600_000 - 300_001;
    expect(await cache.getToken(account)).toBe('token-1');
    now = 3600_000 - 300_000;
    expect(await cache.getToken(account)).toBe('token-2');
  });

  it('invalidates only the refused token, so a burst of 401s refreshes once', async () => {
    const endpoint = fakeEndpoint();
    const cache = new AccessTokenCache({ fetchImpl: endpoint.fetchImpl });
    const refused = await cache.getToken(account);
    cache.invalidate(account, refused);
    const fresh = await cache.getToken(account);
    cache.invalidate(account, refused);
    expect(await cache.getToken(account)).toBe(fresh);
    expect(endpoint.requests).toHaveLength(2);
  });

  it('does not cache failures and tells permanent from retryable ones', async () => {
    let status = 400;
    const cache = new AccessTokenCache({
      fetchImpl: async () =>
        Response.json({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }, { status }),
    });
    const permanent = await cache.getToken(account).catch((error: unknown) => error);
    expect(permanent).toBeInstanceOf(AccessTokenError);
    expect(permanent).toMatchObject({ retryable: false, status: 400 });
    expect((permanent as Error).message).toMatch(/invalid_grant: Invalid JWT Signature/);

    status = 503;
    await expect(cache.getToken(account)).rejects.toMatchObject({ retryable: true, status: 503 });
  });

  it('rejects a private key that is not PEM as a permanent error', async () => {
    const cache = new AccessTokenCache({ fetchImpl: fakeEndpoint().fetchImpl });
    await expect(cache.getToken({ ...account, private_key: 'not a key' })).rejects.toMatchObject({
      retryable: false,
      message: expect.stringMatching(/not a valid PEM key/),
    });
  });
});
