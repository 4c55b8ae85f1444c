/**
 * Templates: CRUD with tenant-unique names, cursor pagination and filters, bad input that writes nothing,
 * previews with variables and locale variants, the lookup the send path uses, and isolation between tenants.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { createClient } from '../src/services/clients.service.ts';
import { loadTemplateForSend } from '../src/services/templates.service.ts';
import { errorOf, type Method, startTestServer, type Tenant, type TestServer } from './helpers.ts';

let server: TestServer;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  server = await startTestServer();
  a = await server.tenant('templates-a');
  b = await server.tenant('templates-b');
});
afterAll(() => server?.close());

const asA = (method: Method, url: string, payload?: unknown) => server.as(a, method, url, payload);

const orderShipped = {
  name: 'order_shipped',
  description: 'Sent when the parcel leaves the warehouse',
  title: 'Order {{order_id}} shipped',
  body: 'Hi {{ name }}, it arrives {{eta}}.',
  data: { order_id: '{{order_id}}', screen: 'orders' },
  options: { priority: 'normal', collapse_key: 'orders', ttl_seconds: 3600 },
  platform_overrides: { android: { notification: { tag: 'order-{{order_id}}' } } },
  locales: {
    fr: { title: 'Commande {{order_id}} expédiée', body: 'Bonjour {{prenom}}, livraison {{eta}}.' },
    'pt-BR': { body: 'Olá {{name}}', data: { screen: 'pedidos' } },
  },
};

async function createTemplate(tenant: Tenant, input: Record<string, unknown>): Promise<string> {
  const response = await server.as(tenant, 'POST', '/api/v1/templates/', input);
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

async function templateCount(): Promise<number> {
  const [row] = await query<{ count: number }>(
    server.runtime.deps.db,
    sql`select count(*)::int as count from templates`,
  );
  return row!.count;
}

describe('template CRUD', () => {
  it('creates, reads, replaces and deletes', async () => {
    const created = await asA('POST', '/api/v1/templates/', orderShipped);
    expect(created.statusCode, created.body).toBe(201);
    const template = created.json();
    expect(template).toEqual({
      ...orderShipped,
      id: expect.any(String),
      variables: ['eta', 'name', 'order_id', 'prenom'],
      is_active: true,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await asA('GET', `/api/v1/templates/${template.id}/`)).json()).toEqual(template);

    const replaced = await asA('PUT', `/api/v1/templates/${template.id}/`, {
      name: 'order_shipped_v2',
      body: 'Your order is on its way',
      is_active: false,
    });
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json()).toMatchObject({
      id: template.id,
      name: 'order_shipped_v2',
      description: null,
      title: null,
      body: 'Your order is on its way',
      data: {},
      options: {},
      platform_overrides: {},
      locales: {},
      variables: [],
      is_active: false,
      created_at: template.created_at,
    });

    expect((await asA('DELETE', `/api/v1/templates/${template.id}/`)).statusCode).toBe(204);
    expect((await asA('GET', `/api/v1/templates/${template.id}/`)).statusCode).toBe(404);
    expect((await asA('DELETE', `/api/v1/templates/${template.id}/`)).statusCode).toBe(404);
    const gone = await asA('PUT', `/api/v1/templates/${template.id}/`, { name: 'x', body: 'y' });
    expect(errorOf(gone).code).toBe('not_found');
  });

  it('keeps names unique per tenant: 409 template_exists on create and rename', async () => {
    await createTemplate(a, { name: 'welcome', title: 'Welcome' });
    const other = await createTemplate(a, { name: 'goodbye', title: 'Bye' });
    const before = await templateCount();

    const duplicate = await asA('POST', '/api/v1/templates/', { name: 'welcome', body: 'again' });
    expect(duplicate.statusCode).toBe(409);
    expect(errorOf(duplicate)).toMatchObject({
      code: 'template_exists',
      details: [expect.objectContaining({ field: 'name' })],
    });
    const rename = await asA('PUT', `/api/v1/templates/${other}/`, { name: 'welcome', title: 'Bye' });
    expect(rename.statusCode).toBe(409);
    expect(errorOf(rename).code).toBe('template_exists');
    expect(await templateCount()).toBe(before);
    expect((await asA('GET', `/api/v1/templates/${other}/`)).json().name).toBe('goodbye');

    // Another tenant may use the same name.
    await createTemplate(b, { name: 'welcome', title: 'Welcome to B' });
  });

  it('accepts a silent template without title or body', async () => {
    const created = await asA('POST', '/api/v1/templates/', {
      name: 'sync',
      data: { kind: 'sync', since: '{{since}}' },
      options: { silent: true },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().variables).toEqual(['since']);
  });
});

describe('listing', () => {
  it('paginates by id with a stable cursor and filters by active and name prefix', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await createTemplate(a, { name: `promo.${i}`, title: `Promo ${i}`, is_active: i % 2 === 0 }));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/templates/?name_prefix=promo.&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await asA('GET', url);
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((t: { id: string }) => t.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);

    const active = (await asA('GET', '/api/v1/templates/?name_prefix=promo.&active=true')).json();
    expect(active.items.map((t: { name: string }) => t.name)).toEqual(['promo.0', 'promo.2', 'promo.4']);
    const inactive = (await asA('GET', '/api/v1/templates/?name_prefix=promo.&active=false')).json();
    expect(inactive.items.map((t: { name: string }) => t.name)).toEqual(['promo.1', 'promo.3']);

    // Tenant B sees none of A's templates.
    const ofB = (await server.as(b, 'GET', '/api/v1/templates/?name_prefix=promo.')).json();
    expect(ofB.items).toEqual([]);

    expect((await asA('GET', '/api/v1/templates/?active=yes')).statusCode).toBe(400);
    expect((await asA('GET', '/api/v1/templates/?cursor=nonsense')).statusCode).toBe(400);
  });
});

describe('bad input', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['unknown field', { name: 'x1', title: 't', colour: 'red' }, 'body'],
    ['name with a space', { name: 'bad name', title: 't' }, 'body.name'],
    ['empty name', { name: '', title: 't' }, 'body.name'],
    ['name too long', { name: 'n'.repeat(101), title: 't' }, 'body.name'],
    ['non-string data value', { name: 'x2', title: 't', data: { count: 3 } }, 'body.data.count'],
    ['bad locale key', { name: 'x3', title: 't', locales: { 'fr!': { title: 'x' } } }, 'body.locales.fr!'],
    [
      'unknown locale field',
      { name: 'x4', title: 't', locales: { fr: { subtitle: 'x' } } },
      'body.locales.fr',
    ],
    [
      'unknown override block',
      { name: 'x5', title: 't', platform_overrides: { ios: {} } },
      'body.platform_overrides',
    ],
    ['unknown option', { name: 'x6', title: 't', options: { colour: 'red' } }, 'body.options'],
    [
      'bad option value',
      { name: 'x7', title: 't', options: { priority: 'urgent' } },
      'body.options.priority',
    ],
    ['http link', { name: 'x8', title: 't', options: { link: 'http://example.com' } }, 'body.options.link'],
    [
      'data over 4 KB',
      { name: 'x9', title: 't', data: { a: 'x'.repeat(4000), b: 'y'.repeat(200) } },
      'body.data',
    ],
    [
      'too many locales',
      {
        name: 'x10',
        title: 't',
        locales: Object.fromEntries(
          Array.from({ length: 51 }, (_, i) => [
            `l${String.fromCharCode(97 + (i % 26))}-r${i}`,
            { title: 'x' },
          ]),
        ),
      },
      'body.locales',
    ],
  ];

  it.each(cases)('%s → 422 naming the field, nothing written', async (_label, payload, field) => {
    const before = await templateCount();
    const response = await asA('POST', '/api/v1/templates/', payload);
    expect(response.statusCode, response.body).toBe(422);
    const error = errorOf(response);
    expect(error.code).toBe('validation_error');
    expect(error.details.map((d) => (d as { field?: string }).field)).toContainEqual(
      expect.stringMatching(new RegExp(`^${field.replaceAll('.', '\\.')}`)),
    );
    expect(await templateCount()).toBe(before);
  });

  it('rejects malformed placeholders, naming every field', async () => {
    const before = await templateCount();
    const response = await asA('POST', '/api/v1/templates/', {
      name: 'broken',
      title: 'Hi {{ }}',
      body: 'Order {{order_id',
      data: { k: '{{1x}}' },
      locales: { fr: { title: 'Salut {{a b}}' } },
      platform_overrides: { apns: { payload: { aps: { 'thread-id': '{{{x}}}' } } } },
    });
    expect(response.statusCode, response.body).toBe(422);
    const error = errorOf(response);
    expect(error.code).toBe('validation_error');
    expect(error.details.map((d) => (d as { field: string }).field)).toEqual([
      'title',
      'body',
      'data.k',
      'locales.fr.title',
      'platform_overrides.apns.payload.aps.thread-id',
    ]);
    expect(error.details[1]).toMatchObject({ message: expect.stringContaining('unclosed placeholder') });
    expect(await templateCount()).toBe(before);
  });

  it('needs a title or a body unless silent, and distinct locales', async () => {
    const before = await templateCount();
    const empty = await asA('POST', '/api/v1/templates/', { name: 'empty', data: { a: 'b' } });
    expect(empty.statusCode).toBe(422);
    expect(errorOf(empty).details).toEqual([expect.objectContaining({ field: 'title' })]);
    const twice = await asA('POST', '/api/v1/templates/', {
      name: 'twice',
      title: 't',
      locales: { 'pt-BR': { title: 'a' }, pt_br: { title: 'b' } },
    });
    expect(twice.statusCode).toBe(422);
    expect(errorOf(twice).details).toEqual([expect.objectContaining({ field: 'locales.pt_br' })]);
    expect(await templateCount()).toBe(before);
  });

  it('validates a replacement the same way and leaves the template as it was', async () => {
    const id = await createTemplate(a, { name: 'stable', title: 'Stable {{x}}' });
    const response = await asA('PUT', `/api/v1/templates/${id}/`, { name: 'stable', title: '{{' });
    expect(response.statusCode).toBe(422);
    expect(errorOf(response).details).toEqual([expect.objectContaining({ field: 'title' })]);
    expect((await asA('GET', `/api/v1/templates/${id}/`)).json().title).toBe('Stable {{x}}');
  });
});

describe('preview', () => {
  let id: string;
  beforeAll(async () => {
    id = await createTemplate(a, { ...orderShipped, name: 'preview_me' });
  });

  it('renders the default content with variables inserted literally', async () => {
    const response = await asA('POST', `/api/v1/templates/${id}/preview/`, {
      variables: { order_id: '$1 & <b>{{eta}}</b>', name: 'Ada', eta: 'today', prenom: 'Ada', extra: 'x' },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({
      rendered: {
        title: 'Order $1 & <b>{{eta}}</b> shipped',
        body: 'Hi Ada, it arrives today.',
        data: { order_id: '$1 & <b>{{eta}}</b>', screen: 'orders' },
        priority: 'normal',
        collapse_key: 'orders',
        ttl_seconds: 3600,
        platform_overrides: { android: { notification: { tag: 'order-$1 & <b>{{eta}}</b>' } } },
      },
    });
  });

  it('picks the locale variant, its language, or the default', async () => {
    const variables = { order_id: '42', name: 'Ana', eta: 'amanhã', prenom: 'Anne' };
    const preview = async (locale: string) =>
      (await asA('POST', `/api/v1/templates/${id}/preview/`, { variables, locale })).json().rendered;
    expect(await preview('fr-CA')).toMatchObject({
      title: 'Commande 42 expédiée',
      body: 'Bonjour Anne, livraison amanhã.',
    });
    expect(await preview('pt_br')).toMatchObject({
      title: 'Order 42 shipped',
      body: 'Olá Ana',
      data: { order_id: '42', screen: 'pedidos' },
    });
    expect((await preview('de')).title).toBe('Order 42 shipped');
  });

  it('names every missing variable, whichever variant needs it', async () => {
    const response = await asA('POST', `/api/v1/templates/${id}/preview/`, {
      variables: { order_id: '42', eta: 'today' },
    });
    expect(response.statusCode).toBe(422);
    const error = errorOf(response);
    expect(error).toMatchObject({
      code: 'missing_variables',
      message: 'template "preview_me" needs variables: name, prenom',
    });
    expect(error.details).toEqual([
      { field: 'variables.name', message: 'required by template preview_me (body, locales.pt-BR.body)' },
      { field: 'variables.prenom', message: 'required by template preview_me (locales.fr.body)' },
    ]);
  });

  it('is allowed with the read scope alone', async () => {
    const reader = await createClient(server.runtime.deps, { name: 'reader', scopes: ['read'] });
    const headers = { 'client-id': reader.clientId, 'client-token': reader.clientToken };
    const preview = await server.app.inject({
      method: 'POST',
      url: `/api/v1/templates/${id}/preview/`,
      headers,
      payload: { variables: { order_id: '1', name: 'n', eta: 'e', prenom: 'p' } },
    });
    // A reader of another tenant: 404, never 403.
    expect(preview.statusCode).toBe(404);
    const create = await server.app.inject({
      method: 'POST',
      url: '/api/v1/templates/',
      headers,
      payload: { name: 'nope', title: 't' },
    });
    expect(create.statusCode).toBe(403);
  });
});

describe('tenant isolation', () => {
  it("gives tenant B a 404 for every route on A's template", async () => {
    const id = await createTemplate(a, { name: 'private', title: 'Hello {{name}}' });
    const expectNotFound = async (method: Method, url: string, payload?: unknown) => {
      const response = await server.as(b, method, url, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(errorOf(response).code).toBe('not_found');
    };
    await expectNotFound('GET', `/api/v1/templates/${id}/`);
    await expectNotFound('PUT', `/api/v1/templates/${id}/`, { name: 'stolen', title: 'x' });
    await expectNotFound('POST', `/api/v1/templates/${id}/preview/`, { variables: { name: 'x' } });
    await expectNotFound('DELETE', `/api/v1/templates/${id}/`);
    expect((await asA('GET', `/api/v1/templates/${id}/`)).json()).toMatchObject({
      name: 'private',
      title: 'Hello {{name}}',
    });
  });
});

describe('loadTemplateForSend', () => {
  it('finds the tenant’s active template by id or name, and refuses foreign, unknown and inactive ones', async () => {
    const db = server.runtime.deps.db;
    const id = await createTemplate(a, { name: 'for_send', title: 'Hi {{name}}' });
    expect((await loadTemplateForSend(db, a.clientId, { id })).name).toBe('for_send');
    expect((await loadTemplateForSend(db, a.clientId, { name: 'for_send' })).id).toBe(id);

    await expect(loadTemplateForSend(db, b.clientId, { id })).rejects.toMatchObject({
      code: 'template_not_found',
      status: 404,
    });
    await expect(loadTemplateForSend(db, b.clientId, { name: 'for_send' })).rejects.toMatchObject({
      code: 'template_not_found',
    });
    await expect(loadTemplateForSend(db, a.clientId, { id: 'not-a-uuid' })).rejects.toMatchObject({
      code: 'template_not_found',
    });

    await asA('PUT', `/api/v1/templates/${id}/`, { name: 'for_send', title: 'Hi', is_active: false });
    await expect(loadTemplateForSend(db, a.clientId, { id })).rejects.toMatchObject({
      code: 'template_inactive',
      status: 422,
    });
  });
});
