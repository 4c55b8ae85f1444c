/**
 * Secrets never reach the logs: with every log line captured at trace level, requests carrying client tokens
 * (Client-Token and Bearer), service-account uploads with private keys, device registrations with push tokens,
 * refused requests (401, 422) and forced server errors (500) leave none of those values in the output.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { createLogger } from '../src/logger.ts';
import { startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

const lines: string[] = [];
const logger = createLogger('trace', { write: (line: string) => void lines.push(line) });
let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  server = await startTestServer({}, { logger });
  tenant = await server.tenant('secretive');
});
afterAll(() => server?.close());

const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: unknown) =>
  server.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

/** Every distinctive piece of a secret, so a partial or re-encoded leak is caught too. */
function piecesOf(secret: string): string[] {
  const pieces = [secret, JSON.stringify(secret).slice(1, -1)];
  for (const line of secret.split('\n'))
    if (line.length >= 40 && !line.startsWith('-----')) pieces.push(line);
  return pieces;
}

describe('secrets in logs', () => {
  it('never logs client tokens, private keys or push tokens, whatever the outcome', async () => {
    const secrets: string[] = [tenant.token, tenant.account.private_key];
    const bearer = { authorization: `Bearer ${tenant.token}` };
    const pushTokens = ['secret-push-token-android-1', 'secret-push-token-ios-2', 'secret-push-token-fail-3'];
    secrets.push(...pushTokens);

    // Successful requests under both header styles.
    expect(
      (
        await inject('POST', '/api/v1/devices/', tenant.headers, {
          platform: 'android',
          token: pushTokens[0],
          external_id: 'leaky',
        })
      ).statusCode,
    ).toBe(201);
    expect(
      (
        await inject('POST', '/api/v1/devices/', bearer, {
          platform: 'ios',
          token: pushTokens[1],
          external_id: 'leaky',
        })
      ).statusCode,
    ).toBe(201);
    const { account } = createTestServiceAccount({
      projectId: `secrets-${Date.now()}`,
      tokenUri: server.emulator.tokenUri,
    });
    server.emulator.addServiceAccount(account);
    secrets.push(account.private_key);
    expect(
      (await inject('POST', '/api/v1/firebase-projects/', bearer, { service_account: account })).statusCode,
    ).toBe(201);
    const accepted = await inject('POST', '/api/v1/notify/', tenant.headers, {
      external_id: 'leaky',
      title: 'Hi',
    });
    expect(accepted.statusCode).toBe(202);
    await waitForNotification(server, tenant, accepted.json().notification_id);

    // Refused requests: wrong token, invalid bodies that carry secrets.
    const wrongToken = 'fcms_this-is-a-wrong-but-secret-looking-token-000000000';
    secrets.push(wrongToken);
    expect(
      (await inject('GET', '/api/v1/profiles/', { authorization: `Bearer ${wrongToken}` })).statusCode,
    ).toBe(401);
    expect(
      (
        await inject('POST', '/api/v1/devices/', tenant.headers, {
          platform: 'blackberry',
          token: pushTokens[2],
        })
      ).statusCode,
    ).toBe(422);
    const broken = { ...account, client_email: 'not-an-email' };
    expect(
      (await inject('POST', '/api/v1/firebase-projects/', tenant.headers, { service_account: broken }))
        .statusCode,
    ).toBe(422);

    // Forced server errors while handling secrets: the tables are away for a moment.
    const db = server.runtime.deps.db;
    await query(db, sql`alter table devices rename to devices_away`);
    await query(db, sql`alter table firebase_projects rename to firebase_projects_away`);
    try {
      const failedDevice = await inject('POST', '/api/v1/devices/', tenant.headers, {
        platform: 'android',
        token: pushTokens[2],
      });
      expect(failedDevice.statusCode).toBe(500);
      const failedProject = await inject('POST', '/api/v1/firebase-projects/', tenant.headers, {
        service_account: account,
      });
      expect(failedProject.statusCode).toBe(500);
    } finally {
      await query(db, sql`alter table devices_away rename to devices`);
      await query(db, sql`alter table firebase_projects_away rename to firebase_projects`);
    }

    const output = lines.join('');
    // The capture saw the traffic, including the server errors with their stack.
    expect(output).toMatch(/"msg":"POST \/api\/v1\/devices 500 /);
    expect(output).toMatch(/"msg":"request failed"/);
    expect(output).toMatch(/relation \\"devices\\" does not exist/);
    // Bound query parameters (ciphertexts, blind indexes, phone numbers) are left out of error logs.
    expect(output).toContain('params: [redacted]');
    expect(output).not.toMatch(/v1:[0-9a-f]{8}:/);
    for (const secret of secrets) {
      for (const piece of piecesOf(secret))
        expect(output.includes(piece), `leaked: ${piece.slice(0, 24)}…`).toBe(false);
    }
  });

  it('redacts secrets a log call passes as fields, top level or nested', () => {
    const captured: string[] = [];
    const log = createLogger('info', { write: (line: string) => void captured.push(line) });
    log.info(
      {
        token: 'top-level-push-token',
        secret: 'whsec_top',
        device: { token: 'nested-push-token' },
        request: { headers: { authorization: 'Bearer fcms_nested', 'client-token': 'fcms_header' } },
        account: { private_key: '-----BEGIN PRIVATE KEY-----abc', client_email: 'kept@example.com' },
      },
      'fields',
    );
    const text = captured.join('');
    for (const secret of [
      'top-level-push-token',
      'whsec_top',
      'nested-push-token',
      'fcms_nested',
      'fcms_header',
      'BEGIN PRIVATE',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('kept@example.com');
  });
});
