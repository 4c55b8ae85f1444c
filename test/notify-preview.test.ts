/**
 * POST /api/v1/notify/preview: the FCM message each platform would receive for a send's content or template,
 * rendered and checked as POST /notify does, with nothing stored or sent (the dashboard's compose preview).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestServer, type Tenant, type TestServer } from './helpers.ts';

let server: TestServer;
let shop: Tenant;

beforeAll(async () => {
  server = await startTestServer({}, { worker: false });
  shop = await server.tenant('preview-shop');
  const template = await server.as(shop, 'POST', '/api/v1/templates/', {
    name: 'order-paid',
    title: 'Order {{order_id}} confirmed',
    body: 'Hi {{name}}',
    locales: { fr: { title: 'Commande {{order_id}} confirmée', body: 'Bonjour {{name}}' } },
  });
  expect(template.statusCode, template.body).toBe(201);
});
afterAll(() => server?.close());

const preview = (body: unknown, who: Tenant = shop) =>
  server.as(who, 'POST', '/api/v1/notify/preview/', body);

describe('POST /api/v1/notify/preview', () => {
  it('renders the message of each platform, and neither stores nor sends anything', async () => {
    const answer = await preview({ title: 'Sale', body: 'Half price today', priority: 'high', badge: 3 });
    expect(answer.statusCode, answer.body).toBe(200);
    const { messages } = answer.json();
    for (const platform of ['android', 'ios', 'web']) {
      expect(messages[platform]).toMatchObject({
        token: '<device token>',
        notification: { title: 'Sale', body: 'Half price today' },
      });
    }
    expect(messages.android.android).toMatchObject({ priority: 'HIGH' });
    expect(messages.android.apns).toBeUndefined();
    expect(messages.ios.apns.payload.aps).toMatchObject({ badge: 3 });
    expect(messages.web.webpush).toBeDefined();
    const listed = (await server.as(shop, 'GET', '/api/v1/notifications/')).json();
    expect(listed.items).toEqual([]);
    expect(server.emulator.received()).toEqual([]);
  });

  it('renders a template with its variables in the variant of a locale', async () => {
    const answer = await preview({
      template: 'order-paid',
      variables: { order_id: '77', name: 'Asha' },
      locale: 'fr-CA',
    });
    expect(answer.statusCode, answer.body).toBe(200);
    expect(answer.json().messages.android.notification).toEqual({
      title: 'Commande 77 confirmée',
      body: 'Bonjour Asha',
    });
  });

  it('refuses what a send would refuse: a missing variable, an unknown template, nothing to show', async () => {
    const missing = await preview({ template: 'order-paid', variables: { order_id: '77' } });
    expect(missing.statusCode).toBe(422);
    expect(errorOf(missing).message).toContain('name');
    const unknown = await preview({ template: 'no-such-template' });
    expect(unknown.statusCode).toBe(404);
    const empty = await preview({ data: { a: 'b' } });
    expect(empty.statusCode).toBe(422);
    // Another tenant does not see this tenant's template.
    const other = await server.tenant('preview-other');
    expect(
      (await preview({ template: 'order-paid', variables: { order_id: '1', name: 'x' } }, other)).statusCode,
    ).toBe(404);
  });
});
