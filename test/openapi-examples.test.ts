/**
 * Examples are contract: every operation's request example in /openapi.json, sent to a live server in the order
 * a user makes the calls, gets a documented success status. The document is what Swagger UI's "Try it out"
 * sends and what SDK users copy, so an example that the server refuses is a bug, found here.
 *
 * What the test adds to an example, and nothing else:
 * - the ids the server created, wherever the example uses the example id of that resource (EXAMPLE_IDS), and in
 *   the path's {id};
 * - three values no document can hold: a service account the FCM emulator trusts (a real private key), a
 *   webhook URL on loopback (nothing leaves the machine), and a delivery's receipt token (only the device that
 *   received the push knows it).
 * Dead letters need a delivery that failed for good: the test makes one by telling the emulator to refuse it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { EXAMPLE_IDS } from '../src/http/schemas.ts';
import { createClient } from '../src/services/clients.service.ts';
import {
  receiptOfLastPush,
  startTestServer,
  type Tenant,
  type TestServer,
  waitForNotification,
} from './helpers.ts';

type Json = Record<string, unknown>;
type Resource = keyof typeof EXAMPLE_IDS;

interface Operation {
  operationId: string;
  method: string;
  path: string;
  op: Json;
}

/**
 * Every operation, in an order its example can run in: whatever an operation reads, changes or deletes was
 * created by an earlier one. A new operation fails the test until it is placed here.
 */
const ORDER = [
  'getHealth',
  'getReadiness',
  'getMetrics',
  'getOwnClient',
  'getSettings',
  'createFirebaseProject',
  'listFirebaseProjects',
  'getFirebaseProject',
  'setDefaultFirebaseProject',
  'createProfile',
  'listProfiles',
  'getProfile',
  'updateProfile',
  'registerDevice',
  'importDevices',
  'createRegistrationToken',
  'registerAppDevice',
  'listDevices',
  'getDevice',
  'listDeviceDeliveries',
  'updateDevice',
  'markDeviceSeen',
  'createTopic',
  'listTopics',
  'getTopic',
  'updateTopic',
  'subscribeToTopic',
  'listTopicSubscribers',
  'createTemplate',
  'listTemplates',
  'getTemplate',
  'updateTemplate',
  'previewTemplate',
  'createWebhook',
  'listWebhooks',
  'getWebhook',
  'updateWebhook',
  'rotateWebhookSecret',
  'testWebhook',
  'listWebhookDeliveries',
  'streamEvents',
  'previewNotification',
  'sendNotification',
  'sendToTopic',
  'sendBulk',
  'listNotifications',
  'getNotification',
  'getNotificationStatus',
  'listNotificationWebhookAttempts',
  'recordReceipt',
  'cancelNotification',
  'scheduleNotification',
  'listSchedules',
  'getSchedule',
  'pauseSchedule',
  'resumeSchedule',
  'cancelSchedule',
  'getAnalytics',
  'getDailyAnalytics',
  'getWeeklyAnalytics',
  'getMonthlyAnalytics',
  'listDeadLetters',
  'getDeadLetter',
  'requeueDeadLetters',
  'discardDeadLetters',
  'createFrequencyCap',
  'listFrequencyCaps',
  'getFrequencyCap',
  'updateFrequencyCap',
  'listAuditLogs',
  'updateSettings',
  'createClient',
  'listClients',
  'getClient',
  'updateClient',
  'rotateClientToken',
  'revokeClient',
  'listAllAuditLogs',
  'unsubscribeFromTopic',
  'deleteTopic',
  'deleteDevice',
  'restoreDevice',
  'deleteProfile',
  'restoreProfile',
  'deleteTemplate',
  'deleteFrequencyCap',
  'deleteWebhook',
  'deleteFirebaseProject',
  'rotateOwnClientToken',
];

/** The operations that create a resource, and the field of their answer that holds its id. */
const CREATES: Record<string, { resource: Resource; field: string }> = {
  createFirebaseProject: { resource: 'firebaseProject', field: 'id' },
  createProfile: { resource: 'profile', field: 'id' },
  registerDevice: { resource: 'device', field: 'id' },
  createTopic: { resource: 'topic', field: 'id' },
  createTemplate: { resource: 'template', field: 'id' },
  createWebhook: { resource: 'webhook', field: 'id' },
  sendNotification: { resource: 'notification', field: 'notification_id' },
  scheduleNotification: { resource: 'schedule', field: 'id' },
  createClient: { resource: 'client', field: 'id' },
  createFrequencyCap: { resource: 'frequencyCap', field: 'id' },
};

/** Whose id fills `{id}` in a path, by the path's collection. */
const PATH_IDS: [prefix: string, resource: Resource][] = [
  ['/api/v1/firebase-projects/', 'firebaseProject'],
  ['/api/v1/profiles/', 'profile'],
  ['/api/v1/devices/', 'device'],
  ['/api/v1/topics/', 'topic'],
  ['/api/v1/templates/', 'template'],
  ['/api/v1/webhooks/', 'webhook'],
  ['/api/v1/notifications/', 'notification'],
  ['/api/v1/schedules/', 'schedule'],
  ['/api/v1/dead-letters/', 'deadLetter'],
  ['/api/v1/admin/clients/', 'client'],
  ['/api/v1/frequency-caps/', 'frequencyCap'],
];

const EXAMPLE_WEBHOOK_URL = 'https://api.example.com/hooks/fcm';

let server: TestServer;
let tenant: Tenant;
let adminHeaders: Record<string, string>;
let doc: Json;
let receiver: Server;
let receiverUrl: string;
let baseUrl: string;
const created = new Map<Resource, string>();
/** What createRegistrationToken minted: registerAppDevice's credential, as the app would send it. */
let registrationToken = '';

beforeAll(async () => {
  server = await startTestServer({
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_ALLOW_HTTP: 'true',
    SEND_MAX_ATTEMPTS: '1',
  });
  tenant = await server.tenant('examples');
  const admin = await createClient(server.runtime.deps, { name: 'ops', scopes: ['admin'] });
  adminHeaders = { authorization: `Bearer ${admin.clientToken}` };
  doc = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  receiver = createServer((request, response) => {
    request.resume();
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/fcm`;
  baseUrl = (await server.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
});

afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

function operations(): Operation[] {
  return Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      operationId: op.operationId as string,
      method: method.toUpperCase(),
      path,
      op,
    })),
  );
}

/** Puts the ids the server created where the example uses the example id of that resource. */
function withCreatedIds<T>(value: T): T {
  let text = JSON.stringify(value);
  for (const [resource, id] of created) text = text.replaceAll(`"${EXAMPLE_IDS[resource]}"`, `"${id}"`);
  return JSON.parse(text) as T;
}

function pathOf({ operationId, path, op }: Operation): string {
  let url = path;
  for (const parameter of (op.parameters as Json[] | undefined) ?? []) {
    if (parameter.in !== 'path') continue;
    const name = parameter.name as string;
    let value: string | undefined;
    if (name === 'id') {
      const resource = PATH_IDS.find(([prefix]) => path.startsWith(prefix))?.[1];
      value = resource && created.get(resource);
      if (!value) throw new Error(`${operationId}: no created resource for {id} in ${path}`);
    } else {
      value = String(parameter.example ?? (parameter.schema as Json | undefined)?.example ?? '');
      if (!value) throw new Error(`${operationId}: the path parameter ${name} has no example`);
    }
    url = url.replace(`{${name}}`, encodeURIComponent(value));
  }
  const query = new URLSearchParams();
  for (const parameter of (op.parameters as Json[] | undefined) ?? []) {
    if (parameter.in !== 'query') continue;
    const example = parameter.example ?? (parameter.schema as Json | undefined)?.example;
    if (example !== undefined) query.set(parameter.name as string, String(withCreatedIds(example)));
  }
  const search = query.toString();
  return search ? `${url}?${search}` : url;
}

/** The request body Swagger UI sends: the media type's example. */
async function bodyOf({ operationId, op }: Operation): Promise<Json | undefined> {
  const requestBody = op.requestBody as Json | undefined;
  if (!requestBody) return undefined;
  const media = (requestBody.content as Record<string, Json>)['application/json'];
  if (media?.example === undefined) throw new Error(`${operationId}: the request body has no example`);
  let body = withCreatedIds(media.example as Json);
  if (operationId === 'createFirebaseProject') {
    const projectId = String((body.service_account as Json).project_id);
    const { account } = createTestServiceAccount({ projectId, tokenUri: server.emulator.tokenUri });
    server.emulator.addServiceAccount(account);
    body = { ...body, service_account: account };
  }
  if (JSON.stringify(body).includes(EXAMPLE_WEBHOOK_URL)) {
    body = JSON.parse(JSON.stringify(body).replaceAll(EXAMPLE_WEBHOOK_URL, receiverUrl));
  }
  if (operationId === 'recordReceipt') body = { ...body, ...(await receiptOfLastPush(server.emulator)) };
  return body;
}

function headersOf({ op, path, operationId }: Operation): Record<string, string> {
  if (operationId === 'registerAppDevice') return { authorization: `Bearer ${registrationToken}` };
  if (Array.isArray(op.security) && op.security.length === 0) return {};
  return path.startsWith('/api/v1/admin/') ? adminHeaders : tenant.headers;
}

/** A delivery that failed for good (the emulator refuses its token), so that a dead letter exists. */
async function makeDeadLetter(): Promise<void> {
  const device = await server.as(tenant, 'POST', '/api/v1/devices/', {
    platform: 'android',
    token: 'dead-letter-token-0123456789',
  });
  server.emulator.setFaults({ tokens: { 'dead-letter-token-0123456789': 'UNAVAILABLE' } });
  const sent = await server.as(tenant, 'POST', '/api/v1/notify/', {
    device_ids: [device.json().id],
    title: 'Will fail',
  });
  await waitForNotification(server, tenant, sent.json().notification_id);
  server.emulator.setFaults({});
  const dead = await server.as(
    tenant,
    'GET',
    `/api/v1/dead-letters/?notification_id=${sent.json().notification_id}`,
  );
  created.set('deadLetter', dead.json().items[0].id);
}

/** The WebSocket upgrade can only be made over a real connection: 101, then the socket is open. */
async function openStream(operation: Operation): Promise<number> {
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}${pathOf(operation)}`, {
    headers: headersOf(operation),
  });
  const status = await new Promise<number>((resolve, reject) => {
    socket.on('upgrade', (response) => resolve(response.statusCode ?? 0));
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', reject);
  });
  socket.terminate();
  return status;
}

describe('the request examples of the OpenAPI document', () => {
  it('place every operation in the order exactly once', () => {
    const ids = operations().map((o) => o.operationId);
    expect(
      ids.filter((id) => !ORDER.includes(id)),
      'operations missing from ORDER',
    ).toEqual([]);
    expect(
      ORDER.filter((id) => !ids.includes(id)),
      'ORDER names unknown operations',
    ).toEqual([]);
    expect(new Set(ORDER).size).toBe(ORDER.length);
  });

  it('are each accepted by a live server with a documented success status', async () => {
    const byId = new Map(operations().map((o) => [o.operationId, o]));
    const problems: string[] = [];
    for (const operationId of ORDER) {
      const operation = byId.get(operationId)!;
      if (operationId === 'listDeadLetters') await makeDeadLetter();
      const documented = Object.keys(operation.op.responses as Json).filter((code) => /^(2|101)/.test(code));
      let status: number;
      let answer = '';
      try {
        if (operationId === 'streamEvents') {
          status = await openStream(operation);
        } else {
          const payload = await bodyOf(operation);
          const response = await server.app.inject({
            method: operation.method as 'GET',
            url: pathOf(operation),
            headers: headersOf(operation),
            ...(payload === undefined ? {} : { payload }),
          });
          status = response.statusCode;
          answer = response.body;
          const made = CREATES[operationId];
          if (made && status < 300) created.set(made.resource, String(response.json()[made.field]));
          if (operationId === 'createRegistrationToken')
            registrationToken = response.json().registration_token;
        }
      } catch (error) {
        problems.push((error as Error).message);
        continue;
      }
      if (!documented.includes(String(status))) {
        problems.push(
          `${operationId}: ${status} (documented ${documented.join(', ')}) ${answer.slice(0, 300)}`,
        );
      }
    }
    expect(problems).toEqual([]);
  });
});
