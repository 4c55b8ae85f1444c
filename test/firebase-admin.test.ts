/**
 * The real firebase-admin SDK (from npm) against the FCM emulator: send() over HTTP/1.1 and sendEach() over
 * HTTP/2, for success and for each FCM error, asserting the SDK's own error codes. The SDK runs in a child
 * process preloaded with bin/emulator-preload.mjs, which redirects its connections to Google's hosts to the
 * emulator's port (no port 443, no root, no clash between parallel runs) and trusts the emulator's certificate
 * through NODE_EXTRA_CA_CERTS, as docs/emulator.md tells any developer to do.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selfSignedCredentials } from '../src/emulator/certificate.ts';
import { createEmulator, type Emulator, type FaultCode } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import type { ServiceAccount } from '../src/push/push-provider.ts';

const run = promisify(execFile);
const projectId = 'admin-sdk-demo';
const preload = new URL('../bin/emulator-preload.mjs', import.meta.url).pathname;
const client = new URL('./firebase-admin/client.mjs', import.meta.url).pathname;

let tlsDir: string;
let certPath: string;
let emulator: Emulator;
let account: ServiceAccount;

beforeAll(async () => {
  tlsDir = mkdtempSync(join(tmpdir(), 'fcm-emulator-tls-'));
  const tls = await selfSignedCredentials(tlsDir);
  certPath = tls.certPath;
  emulator = await createEmulator({ tls });
  // The key file's token_uri is Google's, as in a real key file: the SDK signs for Google's audience anyway.
  account = createTestServiceAccount({ projectId, tokenUri: 'https://oauth2.googleapis.com/token' }).account;
  emulator.addServiceAccount(account);
});

beforeEach(() => emulator.reset());

afterAll(async () => {
  await emulator.close();
  rmSync(tlsDir, { recursive: true, force: true });
});

type Outcome = { id?: string; error?: string; retryAfter?: string | null; each?: Outcome[] } & Record<
  string,
  unknown
>;

/** Runs the SDK in a child process with the preload, and returns what each call ended with. */
async function runFirebaseAdmin(calls: unknown[]): Promise<Outcome[]> {
  const plan = { projectId, clientEmail: account.client_email, privateKey: account.private_key, calls };
  const { port } = new URL(emulator.url);
  const { stdout } = await run(process.execPath, ['--import', preload, client, JSON.stringify(plan)], {
    env: { ...process.env, FCM_EMULATOR_HOST: `127.0.0.1:${port}`, NODE_EXTRA_CA_CERTS: certPath },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Outcome[];
}

/** Each FCM error the emulator can answer with, and the code firebase-admin turns it into. */
const SDK_CODES: Array<[Exclude<FaultCode, 'CONNECTION_RESET'>, string]> = [
  ['UNREGISTERED', 'messaging/registration-token-not-registered'],
  ['INVALID_ARGUMENT', 'messaging/invalid-argument'],
  ['SENDER_ID_MISMATCH', 'messaging/mismatched-credential'],
  ['QUOTA_EXCEEDED', 'messaging/message-rate-exceeded'],
  ['UNAVAILABLE', 'messaging/server-unavailable'],
  ['INTERNAL', 'messaging/internal-error'],
  ['THIRD_PARTY_AUTH_ERROR', 'messaging/third-party-auth-error'],
];

describe('firebase-admin against the emulator', () => {
  it('sends with send() over HTTP/1.1 and sendEach() over HTTP/2, and gets the SDK error code of every FCM error', async () => {
    // Retry-After 1: the SDK retries 503 four times, honouring it; QUOTA_EXCEEDED carries it to the caller.
    emulator.setFaults({
      tokens: Object.fromEntries(SDK_CODES.map(([fault]) => [`token-${fault}`, fault])),
      retryAfter: 1,
    });
    const message = (token: string) => ({
      token,
      notification: { title: 'Hello', body: 'from firebase-admin' },
    });
    const calls = [
      { kind: 'send', message: message('token-ok') },
      ...SDK_CODES.map(([fault]) => ({ kind: 'send', message: message(`token-${fault}`) })),
      {
        kind: 'sendEach',
        messages: [message('token-ok'), ...SDK_CODES.map(([fault]) => message(`token-${fault}`))],
      },
    ];
    const outcomes = await runFirebaseAdmin(calls);

    const [sent, ...rest] = outcomes;
    const sendErrors = rest.slice(0, SDK_CODES.length);
    const batch = rest.at(-1)!.each!;
    expect(sent!.id).toMatch(new RegExp(`^projects/${projectId}/messages/`));
    expect(batch[0]!.id).toMatch(new RegExp(`^projects/${projectId}/messages/`));
    for (const [index, [fault, code]] of SDK_CODES.entries()) {
      expect(sendErrors[index]!.error, `send() ${fault}`).toBe(code);
      expect(batch[index + 1]!.error, `sendEach() ${fault}`).toBe(code);
    }
    const quota = SDK_CODES.findIndex(([fault]) => fault === 'QUOTA_EXCEEDED');
    expect(sendErrors[quota]!.retryAfter).toBe('1');
    expect(batch[quota + 1]!.retryAfter).toBe('1');

    // send() came over HTTP/1.1 and sendEach() over HTTP/2; UNAVAILABLE was retried by the SDK (1 + 4 tries).
    const received = emulator.received();
    const versions = (token: string) =>
      received.filter((entry) => entry.message.token === token).map((entry) => entry.httpVersion);
    expect(versions('token-ok')).toEqual(['1.1', '2.0']);
    expect(versions('token-UNAVAILABLE')).toEqual([...Array(5).fill('1.1'), ...Array(5).fill('2.0')]);
    expect(received.find((entry) => entry.message.token === 'token-ok')?.message).toMatchObject({
      notification: { title: 'Hello', body: 'from firebase-admin' },
    });
  }, 60_000);

  it('subscribes and unsubscribes tokens through both topic APIs, and a topic or condition send reaches the subscribers', async () => {
    const topics = (method: string, tokens: string[], topic = 'news') => ({
      kind: 'topics',
      method,
      tokens,
      topic,
    });
    const [subscribed, legacy, unsubscribed, legacyOut, toTopic, toCondition] = await runFirebaseAdmin([
      topics('subscribeToTopic', ['token-a', 'token-b', 'unregistered-gone']),
      topics('subscribeToTopicLegacy', ['token-c', 'token-d', 'invalid-token']),
      topics('unsubscribeFromTopic', ['token-b']),
      topics('unsubscribeFromTopicLegacy', ['token-d']),
      { kind: 'send', message: { topic: 'news', notification: { title: 'To the topic' } } },
      { kind: 'send', message: { condition: "'news' in topics && !('sport' in topics)", data: { k: 'v' } } },
    ]);
    expect(subscribed).toEqual({
      successCount: 2,
      failureCount: 1,
      errors: [{ index: 2, code: 'messaging/registration-token-not-registered' }],
    });
    expect(legacy).toEqual({
      successCount: 2,
      failureCount: 1,
      errors: [{ index: 2, code: 'messaging/invalid-registration-token' }],
    });
    expect(unsubscribed).toMatchObject({ successCount: 1, failureCount: 0 });
    expect(legacyOut).toMatchObject({ successCount: 1, failureCount: 0 });
    expect(toTopic!.id).toMatch(/^projects\//);
    expect(toCondition!.id).toMatch(/^projects\//);

    const received = emulator.received();
    expect(received.map((entry) => entry.deliveredTo)).toEqual([
      ['token-a', 'token-c'],
      ['token-a', 'token-c'],
    ]);
    expect(emulator.subscriptions(projectId)).toEqual({ news: ['token-a', 'token-c'] });
  }, 60_000);
});
