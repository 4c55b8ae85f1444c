/**
 * The SDK's browser module in real Chromium (headless, loopback only) against a live server over real HTTP, as
 * a web app uses it: the page registers its device with a registration token its backend minted (a client token
 * is refused there), the service worker reports the push as delivered when a push event arrives (delivered
 * through the DevTools protocol, as there is no push service offline), the page reports it read, and the
 * delivery's status follows. The SDK runs from its TypeScript sources, types stripped as they are served: no
 * build step stands between the package and a browser.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { stripTypeScriptTypes } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type components, createClient, type FcmClient } from '../packages/client/src/index.ts';
import { startTestServer, type TestServer, waitFor } from './helpers.ts';

type Device = components['schemas']['Device'];

/** Debian's chromium by default; CHROMIUM_PATH names another Chromium or Chrome (e.g. on a CI image). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SDK_SOURCES = join(import.meta.dirname, '../packages/client/src');
const OPENAPI_FETCH = join(import.meta.dirname, '../node_modules/openapi-fetch/dist/index.mjs');

/**
 * The web app: a page importing the SDK, and a module service worker. The page's code
 * is its own (a test's functions sent to the page would be rewritten by the test runner's transform).
 */
const PAGE = `<!doctype html><html><head>
<script type="module">
import { registerDevice, sendReceipt } from '/sdk/browser.ts';
window.webApp = {
  async register(baseUrl, registrationToken, token) {
    try {
      return { device: await registerDevice({ baseUrl, registrationToken, token, locale: 'sw-TZ' }) };
    } catch (error) {
      return { error: { name: error.name, code: error.code, status: error.status } };
    }
  },
  async startServiceWorker(api) {
    await navigator.serviceWorker.register('/sw.js?api=' + encodeURIComponent(api), { type: 'module' });
    await navigator.serviceWorker.ready;
  },
  // What the page the notification opens does.
  read: (baseUrl, data) => sendReceipt({ baseUrl, data, status: 'read' }),
};
</script>
</head><body>web app</body></html>`;

/** What the page's script exposes (functions sent to the page carry no closure: each names it in full). */
interface WebApp {
  register(
    baseUrl: string,
    registrationToken: string,
    token: string,
  ): Promise<{ device?: Device; error?: { name: string; code: string; status: number } }>;
  startServiceWorker(api: string): Promise<void>;
  read(baseUrl: string, data: Record<string, string>): Promise<unknown>;
}
const SERVICE_WORKER = `
import { sendReceipt } from '/sdk/browser.ts';
const baseUrl = new URL(self.location.href).searchParams.get('api');
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
// FCM's web payload: { data, notification }. The data carries fcms_delivery_id and fcms_receipt.
self.addEventListener('push', (event) => {
  event.waitUntil(sendReceipt({ baseUrl, data: event.data.json().data, status: 'delivered' }));
});
`;

let server: TestServer;
let apiUrl: string;
let app: Server;
let appOrigin: string;
let browser: Browser;
let page: Page;
let fcm: FcmClient;
let clientToken: string;

/** Serves the web app on its own loopback origin (another port: the API is cross-origin, as in production). */
function serveApp(): Server {
  return createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://app').pathname;
    const js = (body: string) => response.writeHead(200, { 'content-type': 'text/javascript' }).end(body);
    if (path === '/') response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else if (path === '/sw.js') js(SERVICE_WORKER);
    else if (path === '/vendor/openapi-fetch.mjs') js(readFileSync(OPENAPI_FETCH, 'utf8'));
    else if (/^\/sdk\/[a-z-]+\.ts$/.test(path)) {
      // What a bundler does: types stripped, the package import resolved (service workers have no import maps).
      const source = readFileSync(join(SDK_SOURCES, path.slice('/sdk/'.length)), 'utf8');
      js(stripTypeScriptTypes(source).replace(`from 'openapi-fetch'`, `from '/vendor/openapi-fetch.mjs'`));
    } else response.writeHead(404).end();
  });
}

beforeAll(async () => {
  app = serveApp();
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  server = await startTestServer({ CORS_ORIGINS: appOrigin });
  apiUrl = (await server.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  const tenant = await server.tenant('web-app');
  clientToken = tenant.token;
  fcm = createClient({ baseUrl: apiUrl, clientId: tenant.clientId, token: tenant.token });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
  await page.goto(`${appOrigin}/`);
  await page.waitForFunction(() => 'webApp' in globalThis);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await new Promise((resolve) => app?.close(resolve));
});

/** Registers the page's FCM token through the SDK's browser module, in the page. */
function registerInPage(registrationToken: string, token: string) {
  return page.evaluate(
    ({ baseUrl, registrationToken, token }) =>
      (globalThis as unknown as { webApp: WebApp }).webApp.register(baseUrl, registrationToken, token),
    {
      baseUrl: apiUrl,
      registrationToken,
      token,
    },
  );
}

describe('the SDK browser module in Chromium', () => {
  it('registers with a registration token, reports delivered from the service worker and read from the page', async () => {
    const { data: minted } = await fcm.POST('/api/v1/registration-tokens', {
      body: { external_id: 'web-user-1' },
    });

    const withClientToken = await registerInPage(clientToken, 'web-fcm-token-0123456789');
    expect(withClientToken.error).toEqual({
      name: 'FcmServerError',
      code: 'invalid_registration_token',
      status: 401,
    });

    const { device } = await registerInPage(minted!.registration_token, 'web-fcm-token-0123456789');
    expect(device).toMatchObject({ platform: 'web', locale: 'sw-TZ', is_active: true });
    const { data: profile } = await fcm.GET('/api/v1/profiles/{id}', {
      params: { path: { id: device!.profile_id! } },
    });
    expect(profile?.external_id).toBe('web-user-1');

    // The service worker, and the DevTools session that delivers a push event to it.
    const cdp = await page.context().newCDPSession(page);
    const registrationId = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
        const active = versions.find((v) => v.runningStatus === 'running' && v.status === 'activated');
        if (active) resolve(active.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    await page.evaluate(
      (api) => (globalThis as unknown as { webApp: WebApp }).webApp.startServiceWorker(api),
      apiUrl,
    );

    const { data: sent } = await fcm.POST('/api/v1/notify', {
      body: { external_id: 'web-user-1', title: 'Hello, browser' },
    });
    const notificationId = sent!.notification_id;
    const push = await waitFor(async () =>
      server.emulator
        .received()
        .find(
          (r) => r.status === 200 && !r.validateOnly && JSON.stringify(r.message).includes('Hello, browser'),
        ),
    );
    const message = push.message as { data: Record<string, string>; notification?: unknown };
    const deliveryStatus = async () => {
      const { data } = await fcm.GET('/api/v1/notifications/{id}/status', {
        params: { path: { id: notificationId } },
      });
      return data!;
    };

    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: appOrigin,
      registrationId: await registrationId,
      data: JSON.stringify({ data: message.data, notification: message.notification }),
    });
    await waitFor(async () =>
      (await deliveryStatus()).notification.counts.delivered === 1 ? true : undefined,
    );

    // The user opens the notification: the page reports it read.
    const read = await page.evaluate(
      ({ baseUrl, data }) => (globalThis as unknown as { webApp: WebApp }).webApp.read(baseUrl, data),
      {
        baseUrl: apiUrl,
        data: message.data,
      },
    );
    expect(read).toEqual({ delivery_id: message.data.fcms_delivery_id, status: 'read' });
    const final = await deliveryStatus();
    expect(final.notification.counts).toMatchObject({ delivered: 1, read: 1 });
  });
});
