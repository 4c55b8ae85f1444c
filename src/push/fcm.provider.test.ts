import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEmulator, type Emulator } from '../emulator/emulator.ts';
import { createTestServiceAccount } from '../emulator/test-account.ts';
import { FcmProvider, mapFcmResponse, parseRetryAfter } from './fcm.provider.ts';
import type { FcmMessage, ServiceAccount } from './push-provider.ts';

const projectId = 'demo-project';
let emulator: Emulator;
let account: ServiceAccount;
let provider: FcmProvider;
const extraProviders: FcmProvider[] = [];

function newProvider(options: Partial<ConstructorParameters<typeof FcmProvider>[0]> = {}): FcmProvider {
  const created = new FcmProvider({ baseUrl: emulator.url, timeoutMs: 2000, ...options });
  extraProviders.push(created);
  return created;
}

const message = (token: string, data: Record<string, string> = { k: 'v' }): FcmMessage => ({
  token,
  notification: { title: 'Hi', body: 'There' },
  data,
});

beforeAll(async () => {
  emulator = await createEmulator();
  const created = createTestServiceAccount({ projectId, tokenUri: emulator.tokenUri });
  account = created.account;
  emulator.addServiceAccount({
    client_email: account.client_email,
    project_id: projectId,
    public_key_pem: created.publicKeyPem,
  });
  provider = new FcmProvider({ baseUrl: emulator.url, timeoutMs: 2000 });
});

beforeEach(() => emulator.reset());

afterEach(async () => {
  await Promise.all(extraProviders.splice(0).map((extra) => extra.close()));
});

afterAll(async () => {
  await provider.close();
  await emulator.close();
});

describe('FcmProvider against the emulator (HTTP/2)', () => {
  it('sends a message and the emulator receives exactly that message', async () => {
    const [outcome] = await provider.send(account, [message('device-1')]);
    expect(outcome).toEqual({
      kind: 'sent',
      messageId: expect.stringMatching(/^projects\/demo-project\/messages\//),
    });
    const [received] = emulator.received({ projectId });
    expect(received).toMatchObject({
      projectId,
      message: message('device-1'),
      validateOnly: false,
      status: 200,
    });
    expect(received?.messageId).toBe(outcome?.kind === 'sent' ? outcome.messageId : undefined);
  });

  it('maps every FCM error to its outcome', async () => {
    emulator.setFaults({
      tokens: {
        dead: 'UNREGISTERED',
        other: 'SENDER_ID_MISMATCH',
        bad: 'INVALID_ARGUMENT',
        quota: 'QUOTA_EXCEEDED',
        down: 'UNAVAILABLE',
        broken: 'INTERNAL',
        apns: 'THIRD_PARTY_AUTH_ERROR',
        reset: 'CONNECTION_RESET',
      },
    });
    const tokens = [
      'dead',
      'other',
      'bad',
      'quota',
      'down',
      'broken',
      'apns',
      'reset',
      'unregistered-x',
      'invalid-y',
    ];
    const outcomes = await provider.send(
      account,
      tokens.map((token) => message(token)),
    );
    const summary = outcomes.map((outcome) =>
      outcome.kind === 'permanent'
        ? [outcome.kind, outcome.errorCode, outcome.tokenInvalid]
        : outcome.kind === 'retryable'
          ? [outcome.kind, outcome.errorCode, outcome.retryAfterMs]
          : [outcome.kind],
    );
    expect(summary).toEqual([
      ['permanent', 'UNREGISTERED', true],
      ['permanent', 'SENDER_ID_MISMATCH', true],
      ['permanent', 'INVALID_ARGUMENT', true],
      ['retryable', 'QUOTA_EXCEEDED', 60_000],
      ['retryable', 'UNAVAILABLE', undefined],
      ['retryable', 'INTERNAL', undefined],
      ['permanent', 'THIRD_PARTY_AUTH_ERROR', false],
      ['retryable', 'CONNECTION_ERROR', undefined],
      ['permanent', 'UNREGISTERED', true],
      ['permanent', 'INVALID_ARGUMENT', true],
    ]);
  });

  it('passes on Retry-After in seconds and as an HTTP date', async () => {
    emulator.setFaults({ rates: { UNAVAILABLE: 1 }, retryAfter: 7 });
    const [seconds] = await provider.send(account, [message('t')]);
    expect(seconds).toMatchObject({ kind: 'retryable', errorCode: 'UNAVAILABLE', retryAfterMs: 7000 });

    const at = new Date(Date.now() + 120_000).toUTCString();
    emulator.setFaults({ rates: { QUOTA_EXCEEDED: 1 }, retryAfter: at });
    const [date] = await provider.send(account, [message('t')]);
    expect(date?.kind === 'retryable' && date.retryAfterMs).toBeGreaterThan(110_000);
    expect(date?.kind === 'retryable' && date.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('mints one token for 200 concurrent sends and refreshes it once after a 401', async () => {
    const fresh = newProvider();
    const batch = Array.from({ length: 200 }, (_, i) => message(`device-${i}`));
    const first = await fresh.send(account, batch);
    expect(first.every((outcome) => outcome.kind === 'sent')).toBe(true);
    expect(emulator.stats().tokenRequests).toBe(1);

    emulator.revokeTokens();
    const second = await fresh.send(account, batch);
    expect(second.every((outcome) => outcome.kind === 'sent')).toBe(true);
    expect(emulator.stats().tokenRequests).toBe(2);
    expect(emulator.stats().errors.UNAUTHENTICATED).toBe(200);
  });

  it('answers AUTH_ERROR when FCM still refuses the refreshed token', async () => {
    let mints = 0;
    const fakeTokenEndpoint: typeof fetch = async () => {
      mints++;
      return Response.json({ access_token: `forged-${mints}`, expires_in: 3600, token_type: 'Bearer' });
    };
    const [outcome] = await newProvider({ fetchImpl: fakeTokenEndpoint }).send(account, [message('t')]);
    expect(outcome).toMatchObject({ kind: 'permanent', errorCode: 'AUTH_ERROR', tokenInvalid: false });
    expect(mints).toBe(2);
  });

  it('refuses a JWT signed with a key the token endpoint does not know, for every message', async () => {
    const impostor = createTestServiceAccount({
      projectId,
      tokenUri: emulator.tokenUri,
      clientEmail: account.client_email,
    }).account;
    const outcomes = await provider.send(impostor, [message('a'), message('b')]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ kind: 'permanent', errorCode: 'AUTH_ERROR', tokenInvalid: false });
      expect(outcome.kind === 'permanent' && outcome.message).toMatch(/Invalid JWT Signature/);
    }
    await expect(provider.checkCredentials(impostor)).rejects.toThrow(/Invalid JWT Signature/);
    await expect(provider.checkCredentials(account)).resolves.toBeUndefined();
    expect(emulator.received()).toEqual([]);
  });

  it('treats an unreachable or failing token endpoint as retryable', async () => {
    const unreachable = { ...account, token_uri: 'http://127.0.0.1:1/token' };
    const [outcome] = await provider.send(unreachable, [message('t')]);
    expect(outcome).toMatchObject({ kind: 'retryable', errorCode: 'AUTH_ERROR' });
    await expect(provider.checkCredentials(unreachable)).rejects.toThrow(/unreachable/);

    const failing = newProvider({ fetchImpl: async () => new Response('oops', { status: 503 }) });
    const [five] = await failing.send(account, [message('t')]);
    expect(five).toMatchObject({ kind: 'retryable', errorCode: 'AUTH_ERROR' });
  });

  it('answers AUTH_ERROR when the account belongs to another project', async () => {
    const [outcome] = await provider.send({ ...account, project_id: 'someone-elses-project' }, [
      message('t'),
    ]);
    expect(outcome).toMatchObject({ kind: 'permanent', errorCode: 'AUTH_ERROR', tokenInvalid: false });
  });

  it('records validate_only messages as validated, not delivered', async () => {
    const [outcome] = await provider.send(account, [message('t')], { validateOnly: true });
    expect(outcome?.kind).toBe('sent');
    expect(emulator.received()).toMatchObject([{ validateOnly: true, status: 200 }]);
    expect(emulator.stats()).toMatchObject({ delivered: 0, validated: 1 });
  });

  it('gets INVALID_ARGUMENT (token still valid) for a payload over 4096 bytes', async () => {
    const [outcome] = await provider.send(account, [message('t', { blob: 'x'.repeat(4100) })]);
    expect(outcome).toMatchObject({ kind: 'permanent', errorCode: 'INVALID_ARGUMENT', tokenInvalid: false });
    expect(outcome?.kind === 'permanent' && outcome.message).toMatch(/too big/);
  });

  it('sends 500 messages concurrently over a small pool', async () => {
    const small = newProvider({ sessions: 2, maxConcurrentStreams: 50 });
    const batch = Array.from({ length: 500 }, (_, i) => message(`device-${i}`));
    const outcomes = await small.send(account, batch);
    expect(outcomes.filter((outcome) => outcome.kind === 'sent')).toHaveLength(500);
    expect(emulator.stats().delivered).toBe(500);
  });

  it('times out a slow answer as a retryable TIMEOUT', async () => {
    emulator.setFaults({ latencyMs: 300 });
    const [outcome] = await newProvider({ timeoutMs: 50 }).send(account, [message('t')]);
    expect(outcome).toMatchObject({ kind: 'retryable', errorCode: 'TIMEOUT' });
  });

  it('reconnects after the server dropped its connections', async () => {
    const [before] = await provider.send(account, [message('t')]);
    expect(before?.kind).toBe('sent');
    emulator.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const after = await provider.send(account, [message('t'), message('u')]);
    expect(after.map((outcome) => outcome.kind)).toEqual(['sent', 'sent']);
  });

  it('a connection cut while requests are in flight is a retryable CONNECTION_ERROR', async () => {
    emulator.setFaults({ latencyMs: 300 });
    const fresh = newProvider();
    const before = emulator.stats().sendRequests;
    const pending = fresh.send(account, [message('t'), message('u')]);
    while (emulator.stats().sendRequests < before + 2)
      await new Promise((resolve) => setTimeout(resolve, 10));
    emulator.dropConnections();
    const outcomes = await pending;
    expect(outcomes).toMatchObject([
      { kind: 'retryable', errorCode: 'CONNECTION_ERROR' },
      { kind: 'retryable', errorCode: 'CONNECTION_ERROR' },
    ]);
    emulator.setFaults({});
    expect((await fresh.send(account, [message('t')]))[0]?.kind).toBe('sent');
  });

  it('reports CONNECTION_ERROR when nothing listens at the FCM URL', async () => {
    const nowhere = newProvider({ baseUrl: 'http://127.0.0.1:1' });
    const [outcome] = await nowhere.send(account, [message('t')]);
    expect(outcome).toMatchObject({ kind: 'retryable', errorCode: 'CONNECTION_ERROR' });
  });
});

describe('mapFcmResponse', () => {
  const fcmBody = (code: number, status: string, errorCode: string, text = 'msg') =>
    JSON.stringify({
      error: {
        code,
        message: text,
        status,
        details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }],
      },
    });

  it('marks a token invalid only for FCM error codes that say so', () => {
    expect(
      mapFcmResponse(400, {}, fcmBody(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'Bad ttl')),
    ).toMatchObject({
      tokenInvalid: false,
    });
    expect(mapFcmResponse(404, {}, '{"error":{"code":404,"status":"NOT_FOUND"}}')).toMatchObject({
      kind: 'permanent',
      errorCode: 'UNSPECIFIED_ERROR',
      tokenInvalid: false,
    });
    expect(mapFcmResponse(403, {}, '<html>')).toMatchObject({ errorCode: 'AUTH_ERROR', tokenInvalid: false });
  });

  it('INVALID_ARGUMENT deactivates only when FCM blames the registration token', () => {
    const invalid = (text: string, extra: object[] = []) =>
      mapFcmResponse(
        400,
        {},
        JSON.stringify({
          error: {
            code: 400,
            message: text,
            status: 'INVALID_ARGUMENT',
            details: [
              {
                '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError',
                errorCode: 'INVALID_ARGUMENT',
              },
              ...extra,
            ],
          },
        }),
      );
    expect(invalid('The registration token is not a valid FCM registration token')).toMatchObject({
      errorCode: 'INVALID_ARGUMENT',
      tokenInvalid: true,
    });
    expect(
      invalid('Request contains an invalid argument.', [
        {
          '@type': 'type.googleapis.com/google.rpc.BadRequest',
          fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }],
        },
      ]),
    ).toMatchObject({ tokenInvalid: true });
    for (const text of [
      'Request contains an invalid argument.',
      "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl'",
      'Message is too big. Max size is 4096 bytes.',
      'Invalid data payload key: from',
    ]) {
      expect(invalid(text)).toMatchObject({ errorCode: 'INVALID_ARGUMENT', tokenInvalid: false });
    }
    expect(
      invalid('Request contains an invalid argument.', [
        {
          '@type': 'type.googleapis.com/google.rpc.BadRequest',
          fieldViolations: [{ field: 'message.data[0].key', description: 'Invalid data key' }],
        },
      ]),
    ).toMatchObject({ tokenInvalid: false });
  });

  it('retries 429, 500 and 503 (with or without an FCM error detail), never 4xx', () => {
    for (const [status, code] of [
      [429, 'QUOTA_EXCEEDED'],
      [500, 'INTERNAL'],
      [503, 'UNAVAILABLE'],
    ] as const) {
      expect(mapFcmResponse(status, {}, fcmBody(status, 'X', code))).toMatchObject({
        kind: 'retryable',
        errorCode: code,
      });
      expect(mapFcmResponse(status, {}, '')).toMatchObject({ kind: 'retryable', errorCode: code });
    }
    expect(mapFcmResponse(404, {}, fcmBody(404, 'NOT_FOUND', 'UNREGISTERED'))).toMatchObject({
      kind: 'permanent',
      tokenInvalid: true,
    });
  });

  it('treats gateway errors without a body as retryable', () => {
    expect(mapFcmResponse(502, { 'retry-after': '3' }, 'Bad Gateway')).toEqual({
      kind: 'retryable',
      errorCode: 'UNAVAILABLE',
      message: 'HTTP 502 from FCM: Bad Gateway',
      retryAfterMs: 3000,
    });
  });

  it('parses Retry-After', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
