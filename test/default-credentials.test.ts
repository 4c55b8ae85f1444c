/**
 * GOOGLE_APPLICATION_CREDENTIALS: a server-wide service account that tenants without a Firebase project of their
 * own send through.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmulator } from '../src/emulator/emulator.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { createClient } from '../src/services/clients.service.ts';
import { startTestServer, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer | undefined;
afterAll(() => server?.close());

describe('GOOGLE_APPLICATION_CREDENTIALS', () => {
  it('is the Firebase project of tenants that registered none', async () => {
    const emulator = await createEmulator({ host: '127.0.0.1', port: 0 });
    const { account } = createTestServiceAccount({
      projectId: 'server-wide-default',
      tokenUri: emulator.tokenUri,
    });
    emulator.addServiceAccount(account);
    const file = join(mkdtempSync(join(tmpdir(), 'fcm-gac-')), 'service-account.json');
    writeFileSync(file, JSON.stringify(account));
    server = await startTestServer({ GOOGLE_APPLICATION_CREDENTIALS: file }, { emulator });

    const client = await createClient(server.runtime.deps, { name: 'no-project' });
    const headers = { 'client-id': client.clientId, 'client-token': client.clientToken };
    const post = (url: string, payload: object) =>
      server!.app.inject({ method: 'POST', url, headers, payload });
    expect(
      (await post('/api/v1/devices/', { platform: 'android', token: 'gac-token', external_id: 'gac' }))
        .statusCode,
    ).toBe(201);
    const sent = await post('/api/v1/notify/', { external_id: 'gac', title: 'via the server-wide account' });
    expect(sent.statusCode, sent.body).toBe(202);
    const tenant = {
      clientId: client.clientId,
      token: client.clientToken,
      headers,
      account,
      firebaseProjectId: '',
    };
    const notification = await waitForNotification(server, tenant, sent.json().notification_id);
    expect(notification).toMatchObject({ status: 'completed', firebase_project_id: null });
    const received = emulator.received({ projectId: 'server-wide-default' }).filter((r) => !r.validateOnly);
    expect(received.map((r) => r.message.token)).toEqual(['gac-token']);
  });
});
