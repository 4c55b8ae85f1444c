import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signAssertion } from '../push/oauth.ts';
import type { ServiceAccount } from '../push/push-provider.ts';
import { createEmulator, type Emulator } from './emulator.ts';
import { createTestServiceAccount } from './test-account.ts';

const projectId = 'emu-project';
let emulator: Emulator;
let account: ServiceAccount;
let accessToken: string;

/** Plain fetch speaks HTTP/1.1, so these tests also cover the emulator's HTTP/1.1 side. */
async function mintToken(assertion: string): Promise<Response> {
  return fetch(emulator.tokenUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
  });
}

async function send(body: unknown, token = accessToken, project = projectId): Promise<Response> {
  return fetch(`${emulator.url}/v1/projects/${project}/messages:send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  emulator = await createEmulator({ maxRecorded: 3 });
  account = createTestServiceAccount({ projectId, tokenUri: emulator.tokenUri }).account;
  emulator.addServiceAccount(account);
  const response = await mintToken(await signAssertion(account, Math.floor(Date.now() / 1000)));
  accessToken = ((await response.json()) as { access_token: string }).access_token;
});

beforeEach(() => emulator.reset());

afterAll(() => emulator.close());

describe('token endpoint', () => {
  it('issues a Google-shaped access token over HTTP/1.1', async () => {
    const response = await mintToken(await signAssertion(account, Math.floor(Date.now() / 1000)));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      expires_in: 3600,
      token_type: 'Bearer',
    });
  });

  it('refuses a wrong audience, an old assertion and an unknown issuer like Google', async () => {
    const wrongAudience = await mintToken(
      await signAssertion({ ...account, token_uri: 'https://elsewhere/token' }, 0),
    );
    expect(wrongAudience.status).toBe(400);
    expect(await wrongAudience.json()).toMatchObject({ error: 'invalid_grant' });

    const old = await mintToken(await signAssertion(account, Math.floor(Date.now() / 1000) - 7200));
    expect(await old.json()).toMatchObject({ error_description: expect.stringMatching(/iat and exp/) });

    const stranger = createTestServiceAccount({ projectId, tokenUri: emulator.tokenUri }).account;
    const unknown = await mintToken(await signAssertion(stranger, Math.floor(Date.now() / 1000)));
    expect(await unknown.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'Invalid grant: account not found',
    });
  });
});

describe('token endpoint audiences and open projects', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it("accepts Google's token URL as audience, as Google's SDKs sign it", async () => {
    const google = await mintToken(
      await signAssertion({ ...account, token_uri: 'https://oauth2.googleapis.com/token' }, now()),
    );
    expect(google.status).toBe(200);
    const wrong = await mintToken(await signAssertion({ ...account, token_uri: 'https://x/token' }, now()));
    expect(await wrong.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/Failed audience check/),
    });
  });

  it('with projects, trusts an unregistered service account of that project only', async () => {
    const open = await createEmulator({ projects: ['demo'] });
    try {
      const mint = async (email: string, issuedAt = now()) => {
        const { account: unregistered } = createTestServiceAccount({
          projectId: 'demo',
          tokenUri: open.tokenUri,
          clientEmail: email,
        });
        return fetch(open.tokenUri, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
            assertion: await signAssertion(unregistered, issuedAt),
          }),
        });
      };
      const accepted = await mint('firebase-adminsdk-x@demo.iam.gserviceaccount.com');
      expect(accepted.status).toBe(200);
      const { access_token } = (await accepted.json()) as { access_token: string };
      const sent = await fetch(`${open.url}/v1/projects/demo/messages:send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access_token}` },
        body: JSON.stringify({ message: { token: 'abc' } }),
      });
      expect(sent.status).toBe(200);
      // Another project, a non-service-account issuer and an expired assertion are refused as before.
      for (const refused of [
        await mint('firebase-adminsdk-x@other.iam.gserviceaccount.com'),
        await mint('someone@demo.example.com'),
        await mint('firebase-adminsdk-x@demo.iam.gserviceaccount.com', now() - 7200),
      ]) {
        expect(refused.status).toBe(400);
      }
    } finally {
      await open.close();
    }
  });
});

describe('messages:send', () => {
  it('accepts a valid message over HTTP/1.1 and records it', async () => {
    const response = await send({ message: { token: 'abc', data: { a: '1' } } });
    expect(response.status).toBe(200);
    const { name } = (await response.json()) as { name: string };
    expect(name).toMatch(/^projects\/emu-project\/messages\/0:/);
    expect(emulator.received()).toMatchObject([{ projectId, message: { token: 'abc' }, messageId: name }]);
  });

  it('answers 401 UNAUTHENTICATED without a valid bearer token', async () => {
    const response = await send({ message: { token: 'abc' } }, 'nope');
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
  });

  it('answers 403 PERMISSION_DENIED for another project', async () => {
    const response = await send({ message: { token: 'abc' } }, accessToken, 'other-project');
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { status: 'PERMISSION_DENIED' } });
  });

  it.each([
    ['no target', { message: { data: { a: '1' } } }, /Recipient of the message is not set/],
    ['two targets', { message: { token: 'a', topic: 'news' } }, /oneof field 'target'/],
    ['a number in data', { message: { token: 'a', data: { n: 1 } } }, /message\.data\[0\]\.value/],
    [
      'a reserved data key',
      { message: { token: 'a', data: { 'google.x': '1' } } },
      /Invalid data payload key/,
    ],
    [
      'a bad android priority',
      { message: { token: 'a', android: { priority: 'URGENT' } } },
      /android\.priority/,
    ],
    ['a bad android ttl', { message: { token: 'a', android: { ttl: '60' } } }, /android\.ttl/],
    [
      'a non-string apns header',
      { message: { token: 'a', apns: { headers: { 'apns-priority': 10 } } } },
      /apns\.headers/,
    ],
    [
      'a non-string webpush header',
      { message: { token: 'a', webpush: { headers: { TTL: 60 } } } },
      /webpush\.headers/,
    ],
    ['an unknown message field', { message: { token: 'a', priority: 'high' } }, /Unknown name "priority"/],
    ['an unknown body field', { message: { token: 'a' }, dry_run: true }, /Unknown name "dry_run"/],
    ['a payload over 4096 bytes', { message: { token: 'a', data: { x: 'x'.repeat(4100) } } }, /too big/],
    ['malformed JSON', '{"message":', /Invalid JSON payload/],
  ])('rejects %s with FCM INVALID_ARGUMENT', async (_case, body, expected) => {
    const response = await send(body);
    expect(response.status).toBe(400);
    const json = (await response.json()) as { error: { message: string } };
    expect(json).toEqual({
      error: {
        code: 400,
        message: expect.stringMatching(expected),
        status: 'INVALID_ARGUMENT',
        details: [
          { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'INVALID_ARGUMENT' },
        ],
      },
    });
  });

  it('keeps only the newest maxRecorded messages', async () => {
    for (const token of ['t1', 't2', 't3', 't4']) await send({ message: { token } });
    expect(emulator.received().map((entry) => entry.message.token)).toEqual(['t2', 't3', 't4']);
    expect(emulator.stats().delivered).toBe(4);
  });

  it('numbers recorded messages in order, and keeps counting after a reset', async () => {
    await send({ message: { token: 'n1' } });
    await send({ message: { token: 'n2' } });
    const [first, second] = emulator.received();
    expect(second!.seq).toBe(first!.seq + 1);
    emulator.reset();
    await send({ message: { token: 'n3' } });
    expect(emulator.received()[0]!.seq).toBeGreaterThan(second!.seq);
  });

  it('fails real sends to the magic token prefixes, but lets their validate_only dry runs pass', async () => {
    for (const [token, status, code] of [
      ['unregistered-abc12345', 404, 'UNREGISTERED'],
      ['invalid-abc12345', 400, 'INVALID_ARGUMENT'],
    ] as const) {
      const dryRun = await send({ message: { token }, validate_only: true });
      expect(dryRun.status, token).toBe(200);
      const real = await send({ message: { token } });
      expect(real.status, token).toBe(status);
      expect(await real.json()).toMatchObject({ error: { details: [{ errorCode: code }] } });
    }
    // A token configured to fail is refused by dry runs too, as FCM refuses a dead token's dry run.
    emulator.setFaults({ tokens: { 'dead-token-1': 'UNREGISTERED' } });
    expect((await send({ message: { token: 'dead-token-1' }, validate_only: true })).status).toBe(404);
  });

  it('injects faults by rate', async () => {
    emulator.setFaults({ rates: { INTERNAL: 1 }, retryAfter: 2 });
    const response = await send({ message: { token: 'abc' } });
    expect(response.status).toBe(500);
    expect(response.headers.get('retry-after')).toBe('2');
  });
});

describe('control API', () => {
  it('registers accounts, sets faults, lists and clears messages over HTTP', async () => {
    const created = createTestServiceAccount({ projectId: 'ctl', tokenUri: emulator.tokenUri });
    const registered = await fetch(`${emulator.url}/__emulator/accounts`, {
      method: 'POST',
      body: JSON.stringify({
        client_email: created.account.client_email,
        project_id: 'ctl',
        public_key_pem: created.publicKeyPem,
      }),
    });
    expect(registered.status).toBe(201);
    const minted = await mintToken(await signAssertion(created.account, Math.floor(Date.now() / 1000)));
    const ctlToken = ((await minted.json()) as { access_token: string }).access_token;

    const faults = await fetch(`${emulator.url}/__emulator/faults`, {
      method: 'PUT',
      body: JSON.stringify({ tokens: { gone: 'UNREGISTERED' } }),
    });
    expect(faults.status).toBe(200);
    expect((await send({ message: { token: 'gone' } }, ctlToken, 'ctl')).status).toBe(404);
    expect((await send({ message: { token: 'fine' } }, ctlToken, 'ctl')).status).toBe(200);
    await send({ message: { token: 'elsewhere' } });

    const listed = await fetch(`${emulator.url}/__emulator/messages?project_id=ctl`);
    const body = (await listed.json()) as { count: number; messages: Array<{ message: { token: string } }> };
    expect(body.count).toBe(2);
    expect(body.messages.map((entry) => entry.message.token)).toEqual(['gone', 'fine']);

    const badFaults = await fetch(`${emulator.url}/__emulator/faults`, {
      method: 'PUT',
      body: JSON.stringify({ rates: { EXPLODE: 1 } }),
    });
    expect(badFaults.status).toBe(400);

    expect((await fetch(`${emulator.url}/__emulator/messages`, { method: 'DELETE' })).status).toBe(204);
    expect(emulator.received()).toEqual([]);
  });
});
