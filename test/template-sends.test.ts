/**
 * Sends that name a template: variables substituted in title, body, data and overrides, the device's locale
 * choosing the variant, explicit fields over the template, per-target variables in bulk sends, and a missing
 * variable refused with a 422 that names it (never a literal "{{name}}" on a phone).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { errorOf, startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;
let templateId: string;
const tokens = { sw: `tpl-sw-${Date.now()}`, pt: `tpl-pt-${Date.now()}`, en: `tpl-en-${Date.now()}` };
const phone = '+255713000111';

const post = (url: string, payload: unknown, headers: Record<string, string> = tenant.headers) =>
  server.app.inject({ method: 'POST', url, headers, payload: payload as object });

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('templates');
  const created = await post('/api/v1/templates/', {
    name: 'order_ready',
    title: 'Hello {{name}}',
    body: 'Your order #{{ order_id }} is {{status}}',
    data: { order_id: '{{order_id}}', screen: 'orders' },
    options: { android_channel_id: 'orders', priority: 'high' },
    platform_overrides: { android: { notification: { tag: 'order-{{order_id}}' } } },
    locales: {
      sw: { title: 'Habari {{name}}', body: 'Oda yako #{{order_id}} iko {{status}}' },
      'pt-BR': { title: 'Olá {{name}}' },
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  templateId = created.json().id;
  const locales = { sw: 'sw-TZ', pt: 'pt_BR', en: 'en-US' } as const;
  for (const key of ['sw', 'pt', 'en'] as const) {
    const response = await post('/api/v1/devices/', {
      platform: 'android',
      token: tokens[key],
      phone_number: phone,
      locale: locales[key],
    });
    expect(response.statusCode).toBe(201);
  }
});
afterAll(() => server?.close());

const lastMessageTo = (token: string) =>
  server.emulator
    .received()
    .filter((r) => r.message.token === token)
    .at(-1)!.message as {
    notification: { title: string; body: string };
    data: Record<string, string>;
    android: { notification: Record<string, string> };
  };

async function notificationCount(): Promise<number> {
  const [row] = await query<{ n: number }>(
    server.runtime.deps.db,
    sql`select count(*)::int as n from notifications`,
  );
  return row!.n;
}

describe('sending with a template', () => {
  it('substitutes variables everywhere and picks the variant of each device locale', async () => {
    const response = await post('/api/v1/notify/', {
      phone_number: phone,
      template: 'order_ready',
      variables: { name: 'Asha', order_id: '1234', status: 'ready', unused: 'ignored' },
    });
    expect(response.statusCode, response.body).toBe(202);
    const notification = await waitForNotification(server, tenant, response.json().notification_id);
    expect(notification).toMatchObject({ status: 'completed', template_id: templateId });
    expect(notification.content).toMatchObject({ title: 'Hello Asha', android_channel_id: 'orders' });
    expect(Object.keys(notification.variants).sort()).toEqual(['pt-BR', 'sw']);

    const sw = lastMessageTo(tokens.sw);
    expect(sw.notification).toEqual({ title: 'Habari Asha', body: 'Oda yako #1234 iko ready' });
    const pt = lastMessageTo(tokens.pt);
    // pt-BR sets only the title; the body falls back to the default's.
    expect(pt.notification).toEqual({ title: 'Olá Asha', body: 'Your order #1234 is ready' });
    const en = lastMessageTo(tokens.en);
    expect(en.notification).toEqual({ title: 'Hello Asha', body: 'Your order #1234 is ready' });
    for (const message of [sw, pt, en]) {
      expect(message.data).toMatchObject({ order_id: '1234', screen: 'orders' });
      expect(message.android.notification).toMatchObject({ channel_id: 'orders', tag: 'order-1234' });
    }
  });

  it('lets explicit fields override the template and merges data', async () => {
    const response = await post('/api/v1/notify/', {
      phone_number: phone,
      template: templateId,
      variables: { name: 'Asha', order_id: '9', status: 'late' },
      title: 'Sorry!',
      data: { screen: 'apology', extra: '1' },
    });
    expect(response.statusCode, response.body).toBe(202);
    await waitForNotification(server, tenant, response.json().notification_id);
    const en = lastMessageTo(tokens.en);
    expect(en.notification).toEqual({ title: 'Sorry!', body: 'Your order #9 is late' });
    expect(en.data).toMatchObject({ order_id: '9', screen: 'apology', extra: '1' });
    // The explicit title wins over the locale variant too.
    expect(lastMessageTo(tokens.sw).notification.title).toBe('Sorry!');
  });

  it('fills variables into a deep link option', async () => {
    const created = await post('/api/v1/templates/', {
      name: 'deep_link',
      title: 'Order {{order_id}}',
      options: { link: 'https://shop.example/orders/{{order_id}}' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const response = await post('/api/v1/notify/', {
      phone_number: phone,
      template: 'deep_link',
      variables: { order_id: '77' },
    });
    expect(response.statusCode, response.body).toBe(202);
    const notification = await waitForNotification(server, tenant, response.json().notification_id);
    expect(notification.content.link).toBe('https://shop.example/orders/77');
  });

  it('inserts values literally: no re-expansion, no code', async () => {
    const response = await post('/api/v1/notify/', {
      phone_number: phone,
      template: 'order_ready',
      variables: { name: '{{status}} $& <script>', order_id: '1', status: 'ok' },
    });
    expect(response.statusCode).toBe(202);
    await waitForNotification(server, tenant, response.json().notification_id);
    expect(lastMessageTo(tokens.en).notification.title).toBe('Hello {{status}} $& <script>');
  });

  it('refuses a missing variable with a 422 naming it, and writes nothing', async () => {
    const before = await notificationCount();
    const response = await post('/api/v1/notify/', {
      phone_number: phone,
      template: 'order_ready',
      variables: { name: 'Asha' },
    });
    expect(response.statusCode).toBe(422);
    const error = errorOf(response);
    expect(error.code).toBe('missing_variables');
    expect(error.message).toContain('order_id');
    expect(error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'variables.status' })]),
    );
    expect(await notificationCount()).toBe(before);
  });

  it("answers 404 for an unknown or another tenant's template and 422 for variables without one", async () => {
    const other = await server.tenant('templates-other');
    const before = await notificationCount();
    const unknown = await post('/api/v1/notify/', { phone_number: phone, template: 'nope', variables: {} });
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown).code).toBe('template_not_found');
    const foreign = await post(
      '/api/v1/notify/',
      { all_devices: true, template: templateId, variables: { name: 'x', order_id: '1', status: 's' } },
      other.headers,
    );
    expect(foreign.statusCode).toBe(404);
    const stray = await post('/api/v1/notify/', { phone_number: phone, title: 'x', variables: { a: 'b' } });
    expect(stray.statusCode).toBe(422);
    expect(await notificationCount()).toBe(before);
  });
});

describe('bulk sends with per-target variables', () => {
  it('renders each target with its own variables; a target missing one is invalid, the others go', async () => {
    const devices: string[] = [];
    for (let i = 0; i < 3; i++) {
      const token = `tpl-bulk-${i}-${Date.now()}`;
      const response = await post('/api/v1/devices/', {
        platform: 'ios',
        token,
        external_id: `tpl-user-${i}`,
      });
      expect(response.statusCode).toBe(201);
      devices.push(token);
    }
    const response = await post('/api/v1/notify/bulk/', {
      template: 'order_ready',
      variables: { status: 'ready' },
      targets: [
        { external_id: 'tpl-user-0', variables: { name: 'Ana', order_id: '1' } },
        { external_id: 'tpl-user-1', variables: { name: 'Ben', order_id: '2', status: 'shipped' } },
        { external_id: 'tpl-user-2', variables: { name: 'Cy' } },
      ],
    });
    expect(response.statusCode, response.body).toBe(202);
    const reply = response.json();
    expect(reply.summary).toMatchObject({ accepted: 2, invalid: 1 });
    expect(reply.rejected[0]).toMatchObject({ index: 2, status: 'invalid' });
    expect(reply.rejected[0].reason).toContain('order_id');
    await waitForNotification(server, tenant, reply.notification_id);
    expect(lastMessageTo(devices[0]!).notification).toEqual({
      title: 'Hello Ana',
      body: 'Your order #1 is ready',
    });
    expect(lastMessageTo(devices[1]!).notification).toEqual({
      title: 'Hello Ben',
      body: 'Your order #2 is shipped',
    });
    expect(server.emulator.received().filter((r) => r.message.token === devices[2])).toHaveLength(0);
  });
});
