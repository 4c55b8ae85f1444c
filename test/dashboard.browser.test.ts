/**
 * The dashboard in a real browser (Chromium): a new user signs in, adds a sandbox test device, sends a first
 * notification, watches it reach `completed` live, and finds it in the sandbox inbox; another tenant signed in
 * sees none of it. Everything goes through the public API, as the dashboard does.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { createClient } from '../src/services/clients.service.ts';
import { cspViolations, type DashboardRig, go, signedInPage, startDashboardRig } from './browser.ts';
import { startHookReceiver, type Tenant } from './helpers.ts';

let rig: DashboardRig;
let a: Tenant;
let b: Tenant;
let page: Page;

beforeAll(async () => {
  // Two attempts, so a delivery FCM keeps answering 503 is dead quickly.
  rig = await startDashboardRig({ SEND_MAX_ATTEMPTS: '2' });
  a = await rig.server.tenant('shop-a');
  b = await rig.server.tenant('shop-b');
  page = await signedInPage(rig, a);
}, 90_000);
afterAll(async () => {
  await rig?.close();
  // Nothing the pages did was refused by the CSP: no inline script or style, no other origin.
  expect(cspViolations).toEqual([]);
});

/** For expect.poll: presses the page's Refresh, then the table's text ('' while the table is not there yet). */
const refreshed = (table: Locator) => async () => {
  await page.getByRole('button', { name: 'Refresh' }).click();
  return (await table.count()) > 0 ? ((await table.textContent()) ?? '') : '';
};

describe('a first notification, from sign-in to the sandbox inbox', () => {
  it('a wrong token is refused in our error format, with its request id', async () => {
    const other = await rig.browser.newPage();
    await other.goto(`${rig.origin}/dashboard/`);
    await other.getByLabel('Client ID').fill(a.clientId);
    await other.getByLabel('Client token').fill('not-the-token');
    await other.getByRole('button', { name: 'Sign in' }).click();
    const alert = other.getByRole('alert');
    await expect.poll(() => alert.textContent()).toMatch(/invalid_credentials · HTTP 401 · request id \S+/);
    await other.close();
  });

  it('adds a test device, sends to all devices, watches it complete, and finds it in the inbox', async () => {
    await go(page, 'Sandbox inbox');
    await page.getByText('The emulator has received nothing').waitFor();
    await page.getByRole('button', { name: 'Add an Android test device' }).click();
    await expect
      .poll(() => page.getByRole('table', { name: 'Test devices' }).locator('tbody tr').count())
      .toBe(1);

    await go(page, 'Compose');
    await page.getByLabel('Title').fill('Hello from the browser');
    await page.getByLabel('Body').fill('It works');
    // The curl shown is the request the button makes.
    await expect
      .poll(() => page.locator('pre.curl').textContent())
      .toContain('"title": "Hello from the browser"');
    // The preview is what FCM would get per platform.
    await page.getByRole('button', { name: 'Preview' }).click();
    await expect.poll(() => page.locator('pre.preview').textContent()).toContain('"priority": "HIGH"');
    await page.getByRole('radio', { name: 'ios' }).check();
    await expect.poll(() => page.locator('pre.preview').textContent()).toContain('"apns"');
    await page.getByRole('button', { name: 'Send now' }).click();

    await page.getByRole('heading', { name: 'Notification' }).waitFor();
    await page.locator('.badge', { hasText: 'completed' }).first().waitFor({ timeout: 20_000 });
    const id = new URL(page.url()).pathname.split('/').at(-1)!;
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    await expect.poll(() => deliveries.textContent()).toContain('sent');

    await go(page, 'Sandbox inbox');
    const bubble = page.locator('article.bubble').first();
    await expect.poll(() => bubble.textContent()).toContain('Hello from the browser');
    expect(await bubble.textContent()).toContain('emulator answered sent');
    expect(await bubble.getByRole('link', { name: 'notification' }).getAttribute('href')).toBe(
      `/dashboard/notifications/${id}`,
    );

    await go(page, 'Notifications');
    await expect.poll(() => page.locator('table').textContent()).toContain('Hello from the browser');
  });

  it('another tenant, signed in in the same tab, sees none of the first tenant’s data', async () => {
    await page.getByLabel('Tenant').selectOption('+');
    await page.getByLabel('Client ID').fill(b.clientId);
    await page.getByLabel('Client token').fill(b.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The tab stays on the page it was on, now as the other tenant.
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await go(page, 'Notifications');
    await page.getByText('No notifications match.').waitFor();
    await go(page, 'Sandbox inbox');
    await page.getByText('The emulator has received nothing').waitFor();
    await page.getByText('No devices yet').waitFor();
    // Both sign-ins are kept for the tab; switching back shows the first tenant's data again.
    await page.getByLabel('Tenant').selectOption(a.clientId);
    await page.locator('article.bubble').first().waitFor();
  });
});

describe('fixing what went wrong', () => {
  it('requeues a dead letter, which is then sent', async () => {
    const token = `flaky-android-${Date.now()}`;
    const device = await rig.server.as(a, 'POST', '/api/v1/devices/', { platform: 'android', token });
    rig.server.emulator.setFaults({ tokens: { [token]: 'UNAVAILABLE' } });
    const sent = await rig.server.as(a, 'POST', '/api/v1/notify/', {
      device_ids: [device.json().id],
      title: 'Will die first',
    });
    const id = sent.json().notification_id as string;
    await expect
      .poll(async () => (await rig.server.as(a, 'GET', '/api/v1/dead-letters/')).json().items.length, {
        timeout: 20_000,
      })
      .toBe(1);
    rig.server.emulator.setFaults({});

    await go(page, 'Dead letters');
    await expect.poll(() => page.locator('table').textContent()).toContain('UNAVAILABLE');
    await page.getByRole('button', { name: 'Requeue', exact: true }).click();
    await page.getByText('Requeued 1 delivery(ies).').waitFor();
    await page.getByText('No dead letters').waitFor();
    await expect
      .poll(async () => (await rig.server.as(a, 'GET', `/api/v1/notifications/${id}/`)).json().counts.sent, {
        timeout: 20_000,
      })
      .toBe(1);
  });

  it('registers a webhook, sends it a test event and shows the attempt', async () => {
    const receiver = await startHookReceiver();
    try {
      await go(page, 'Webhooks');
      await page.getByText('No webhooks').waitFor();
      await page.getByLabel('Endpoint URL').fill(receiver.url('/hooks'));
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByText('Its signing secret (shown once)').waitFor();
      await page.getByRole('button', { name: 'Send a test event' }).click();
      await expect.poll(() => receiver.received.join(''), { timeout: 20_000 }).toContain('webhook.test');
      const attempts = page.getByRole('table', { name: 'Attempts' });
      await expect.poll(refreshed(attempts), { timeout: 20_000 }).toMatch(/webhook\.test.*succeeded/);
    } finally {
      await receiver.close();
    }
  });
});

describe('the first run of a new user', () => {
  it('goes from sign-in to a notification in the sandbox inbox by what the screens say, within two minutes', async () => {
    const started = Date.now();
    const fresh = await createClient(rig.server.runtime.deps, { name: 'newcomer' });
    const context = await rig.browser.newContext({ viewport: { width: 390, height: 800 } });
    const tab = await context.newPage();
    tab.setDefaultTimeout(10_000);
    await tab.goto(`${rig.origin}/dashboard`);
    // Without a client, the sign-in page says how to get one, open, not behind a click.
    await tab.getByText('npx fcm-server create-client --name me').waitFor();
    await tab.getByLabel('Client ID').fill(fresh.clientId);
    await tab.getByLabel('Client token').fill(fresh.clientToken);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    // Each step follows a link or button of the screen before, never the menu.
    const main = tab.getByRole('main');
    await main.getByRole('link', { name: 'Sandbox inbox' }).click();
    await main.getByRole('button', { name: 'Add an Android test device' }).click();
    await main.getByRole('link', { name: 'compose a notification' }).click();
    await tab.getByRole('heading', { level: 1, name: 'Compose' }).waitFor();
    await main.getByLabel('Title').fill('My first push');
    await main.getByRole('button', { name: 'Send now' }).click();
    await main.locator('.badge', { hasText: 'completed' }).first().waitFor({ timeout: 30_000 });
    await main.getByRole('link', { name: 'See what the devices received' }).click();
    const bubble = main.locator('article.bubble', { hasText: 'My first push' });
    await expect.poll(() => bubble.textContent(), { timeout: 20_000 }).toContain('emulator answered sent');
    expect(Date.now() - started).toBeLessThan(120_000);
    await context.close();
  });
});

describe('sandbox faults', () => {
  it('a 503 burst shows the retries and a dead delivery; unregistered deactivates the device', async () => {
    const stamp = Date.now();
    const register = async (token: string) =>
      (await rig.server.as(a, 'POST', '/api/v1/devices/', { platform: 'android', token })).json() as {
        id: string;
      };
    const burst = await register(`burst-${stamp}-Bb11Bb11`);
    const gone = await register(`gone-${stamp}-Gg22Gg22`);
    await go(page, 'Sandbox inbox');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: '503 burst for android …Bb11Bb11' }).click();
    await page.getByText('UNAVAILABLE × 3.').waitFor();
    await page.getByRole('button', { name: 'Unregister android …Gg22Gg22' }).click();
    await page.getByText('UNREGISTERED on every send.').waitFor();

    const sent = await rig.server.as(a, 'POST', '/api/v1/notify/', {
      device_ids: [burst.id, gone.id],
      title: 'Faulty',
    });
    expect(sent.statusCode).toBe(202);
    // The page refreshes itself after a fault is set: the answers and the deactivation appear without a click.
    const devices = page.getByRole('table', { name: 'Test devices' });
    await expect
      .poll(() => devices.getByRole('row', { name: /Gg22Gg22/ }).textContent(), { timeout: 20_000 })
      .toMatch(/inactive.*UNREGISTERED/);
    const answers = () =>
      page
        .locator('article.bubble', { hasText: 'Faulty' })
        .locator('footer')
        .allTextContents()
        .then((texts) => texts.map((t) => t.replace(/.*emulator answered (\S+).*/, '$1')).sort());
    // Two attempts (SEND_MAX_ATTEMPTS=2) of the burst, both answered 503; one UNREGISTERED.
    await expect.poll(answers, { timeout: 20_000 }).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'UNREGISTERED']);
    await page.getByRole('button', { name: 'Clear the fault of android …Bb11Bb11' }).click();
    await page.getByText('No fault.').waitFor();
  });
});

describe('schedules', () => {
  it('pauses, resumes and cancels a recurring schedule', async () => {
    const created = await rig.server.as(a, 'POST', '/api/v1/notify/schedule/', {
      all_devices: true,
      name: 'weekday reminder',
      title: 'Every day',
      scheduled_at: new Date(Date.now() + 86_400_000).toISOString(),
      recurrence: 'daily',
      timezone: 'Africa/Dar_es_Salaam',
    });
    expect(created.statusCode, created.body).toBe(201);
    await go(page, 'Schedules');
    const row = page.getByRole('row', { name: /weekday reminder/ });
    await expect.poll(() => row.textContent()).toMatch(/active.*daily.*Africa\/Dar_es_Salaam/);
    await row.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Schedule paused.').waitFor();
    await row.locator('.badge', { hasText: 'paused' }).waitFor();
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.locator('.badge', { hasText: 'active' }).waitFor();
    await row.getByRole('button', { name: 'Cancel' }).click();
    await row.locator('.badge', { hasText: 'cancelled' }).waitFor();
    expect(await row.getByRole('button').count()).toBe(0);
    // The filter asks the API: no active schedule is left.
    await page.getByLabel('Status').selectOption('active');
    await page.getByText('No schedules match.').waitFor();
  });
});

describe('audience', () => {
  it('finds devices and profiles, subscribes a device to a topic and previews a template', async () => {
    const created = async (path: string, body: Record<string, unknown>): Promise<string> => {
      const answer = await rig.server.as(a, 'POST', path, body);
      expect(answer.statusCode, answer.body).toBe(201);
      return answer.json().id as string;
    };
    const profile = await created('/api/v1/profiles/', { phone_number: '+442079460123', name: 'Asha' });
    const device = await created('/api/v1/devices/', {
      platform: 'web',
      token: `web-token-${Date.now()}-abcd1234`,
      profile_id: profile,
      tags: ['beta'],
    });
    await created('/api/v1/devices/', {
      platform: 'android',
      token: `android-${Date.now()}`,
      tags: ['beta'],
    });
    await created('/api/v1/topics/', { name: 'launches', description: 'new things' });
    await created('/api/v1/templates/', { name: 'greeting', title: 'Hi {{name}}', body: 'Welcome' });

    await go(page, 'Devices');
    const rows = page.locator('tbody tr');
    const search = page.getByRole('form', { name: 'Search' });
    await expect.poll(() => rows.count()).toBeGreaterThan(1);
    await search.getByLabel('Platform').selectOption('web');
    await search.getByLabel('Tag').fill('beta');
    await search.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.textContent()).toMatch(/…abcd1234.*web.*active.*beta/);
    await search.getByLabel('Active').selectOption('false');
    await page.getByText('No devices match.').waitFor();
    await search.getByLabel('Active').selectOption('');
    await search.getByLabel('Platform').selectOption('');
    await search.getByLabel('Tag').fill('');
    // By the end of the token (stored in clear, searched by the API), and by the owner's phone number.
    await search.getByLabel('Token ends with').fill('abcd1234');
    await search.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.textContent()).toContain('…abcd1234');
    await search.getByLabel('Token ends with').fill('');
    await search.getByLabel('Phone number').fill('+442079460123');
    await search.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => rows.textContent()).toContain('…abcd1234');
    expect(await rows.count()).toBe(1);
    await search.getByLabel('Phone number').fill('+442079460999');
    await search.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No devices match.').waitFor();

    await go(page, 'Profiles');
    const profileSearch = page.getByRole('form', { name: 'Search' });
    await profileSearch.getByLabel('Phone number').fill('+442079460123');
    await profileSearch.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => rows.textContent()).toContain('Asha');
    await profileSearch.getByLabel('Phone number').fill('+442079460999');
    await profileSearch.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No profiles match.').waitFor();

    await go(page, 'Topics');
    const topic = page.getByRole('article', { name: 'Topic launches' });
    await expect.poll(() => topic.textContent()).toContain('0 subscriber(s) · new things');
    await topic.getByLabel('Device ids').fill(device);
    await topic.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await topic.getByText('Subscribed 1, already subscribed 0, not found 0.').waitFor();
    await expect.poll(() => topic.textContent()).toContain('1 subscriber(s)');
    await topic.getByRole('button', { name: 'Unsubscribe' }).click();
    await expect.poll(() => topic.textContent()).toContain('0 subscriber(s)');

    await go(page, 'Templates');
    const template = page.getByRole('article', { name: 'Template greeting' });
    await template.getByLabel('Variables (JSON)').fill('{"name": "Asha"}');
    await template.getByRole('button', { name: 'Preview' }).click();
    await expect.poll(() => template.locator('pre.preview').textContent()).toContain('Hi Asha');
    // Bad input is refused before any request, in the same error box as the API's errors.
    await template.getByLabel('Variables (JSON)').fill('{name');
    await template.getByRole('button', { name: 'Preview' }).click();
    await template.getByRole('alert').getByText('Variables must be a JSON object').waitFor();
  });
});

describe('a notification and a device, in detail', () => {
  it("shows a notification's webhook attempts, and a device's deliveries on its page", async () => {
    const receiver = await startHookReceiver();
    try {
      const hook = await rig.server.as(a, 'POST', '/api/v1/webhooks/', {
        url: receiver.url('/detail'),
        event_types: ['notification.completed'],
      });
      expect(hook.statusCode, hook.body).toBe(201);
      await go(page, 'Devices');
      await page.getByText('Register a device').click();
      const form = page.getByRole('form', { name: 'Register a device' });
      await form.getByLabel('Platform').selectOption('ios');
      await form.getByLabel('FCM token').fill(`form-ios-${Date.now()}-Zz99Yy88`);
      await form.getByLabel('External id (optional)').fill('form-user');
      await form.getByRole('button', { name: 'Register' }).click();
      await page.getByRole('link', { name: 'ios …Zz99Yy88' }).click();
      await page.getByRole('heading', { level: 1, name: 'Device', exact: true }).waitFor();
      const deviceId = new URL(page.url()).pathname.split('/').at(-1)!;
      await page.getByText('Nothing was sent to this device yet').waitFor();

      const sent = await rig.server.as(a, 'POST', '/api/v1/notify/', {
        device_ids: [deviceId],
        title: 'Just for you',
      });
      const notificationId = sent.json().notification_id as string;
      const history = page.getByRole('table', { name: 'Deliveries' });
      await expect.poll(refreshed(history), { timeout: 20_000 }).toContain('sent');
      await history.getByRole('link').first().click();
      await page.getByRole('heading', { level: 1, name: 'Notification' }).waitFor();
      expect(page.url()).toContain(notificationId);
      const attempts = page.getByRole('table', { name: 'Webhook attempts' });
      await expect
        .poll(refreshed(attempts), { timeout: 20_000 })
        .toMatch(/notification\.completed.*succeeded/);

      // Editing the device from its page.
      await page.goBack();
      await page.getByLabel('Tags').fill('vip, form');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Saved.').waitFor();
      expect((await rig.server.as(a, 'GET', `/api/v1/devices/${deviceId}/`)).json().tags).toEqual([
        'vip',
        'form',
      ]);
      await rig.server.as(a, 'DELETE', `/api/v1/webhooks/${hook.json().id}/`);
    } finally {
      await receiver.close();
    }
  });
});

describe('create and edit', () => {
  it('creates and edits a profile, creates a topic and a template from forms', async () => {
    await go(page, 'Profiles');
    await page.getByText('Create a profile').click();
    const create = page.getByRole('form', { name: 'Create a profile' });
    await create.getByLabel('Phone number').fill('+255700000111');
    await create.getByLabel('Name').fill('Baraka');
    await create.getByRole('button', { name: 'Create' }).click();
    const said = await page.getByText(/Created profile \S+\./).textContent();
    const profileId = /Created profile (\S+)\./.exec(said ?? '')![1]!;
    const table = page.getByRole('table', { name: 'Profiles' });
    await expect.poll(() => table.textContent()).toContain('Baraka');
    await page.getByText('Edit a profile').click();
    const edit = page.getByRole('form', { name: 'Edit a profile' });
    await edit.getByLabel('Profile id').fill(profileId);
    await edit.getByLabel('Phone number').fill('+255700000111');
    await edit.getByLabel('Name').fill('Baraka Juma');
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => table.textContent()).toContain('Baraka Juma');

    await go(page, 'Topics');
    await page.getByText('Create a topic').click();
    const topicForm = page.getByRole('form', { name: 'Create a topic' });
    await topicForm.getByLabel('Name').fill('offers');
    await topicForm.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('article', { name: 'Topic offers' }).waitFor();

    await go(page, 'Templates');
    await page.getByText('Create a template').click();
    const templateForm = page.getByRole('form', { name: 'Create a template' });
    await templateForm.getByLabel('Name').fill('receipt');
    await templateForm.getByLabel('Title').fill('Paid {{amount}}');
    await templateForm.getByRole('button', { name: 'Create' }).click();
    const template = page.getByRole('article', { name: 'Template receipt' });
    await template.getByLabel('Variables (JSON)').fill('{"amount": "5 USD"}');
    await template.getByRole('button', { name: 'Preview' }).click();
    await expect.poll(() => template.locator('pre.preview').textContent()).toContain('Paid 5 USD');
    // The API's refusal is shown in our error format.
    await templateForm.getByLabel('Name').fill('receipt');
    await templateForm.getByLabel('Title').fill('Again');
    await templateForm.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/HTTP 409/);
  });

  it('an admin creates an API client (its token shown once), rotates and revokes it', async () => {
    const admin = await createClient(rig.server.runtime.deps, {
      name: 'ops-forms',
      scopes: ['admin', 'read'],
    });
    const adminPage = await signedInPage(rig, { clientId: admin.clientId, token: admin.clientToken });
    await go(adminPage, 'Settings');
    await adminPage.getByText('Create an API client').click();
    const form = adminPage.getByRole('form', { name: 'Create an API client' });
    await form.getByLabel('Name').fill('partner');
    await form.getByRole('button', { name: 'Create' }).click();
    const first = (await adminPage.locator('code.secret').first().textContent())!.trim();
    const clients = adminPage.getByRole('table', { name: 'API clients' });
    const row = clients.getByRole('row', { name: /partner/ });
    await expect.poll(() => row.textContent()).toContain('active');
    const partnerId = /[0-9a-f-]{36}/.exec((await row.textContent()) ?? '')![0];
    const asPartner = (token: string) =>
      rig.server.as({ 'client-id': partnerId, 'client-token': token }, 'GET', '/api/v1/clients/me');
    expect((await asPartner(first)).statusCode).toBe(200);

    await row.getByRole('button', { name: 'Rotate the token of partner' }).click();
    const second = row.locator('code.secret');
    await expect.poll(async () => ((await second.count()) > 0 ? second.textContent() : '')).not.toBe('');
    const rotated = (await second.textContent())!.trim();
    expect(rotated).not.toBe(first);
    expect((await asPartner(rotated)).statusCode).toBe(200);

    adminPage.once('dialog', (dialog) => dialog.accept());
    await row.getByRole('button', { name: 'Revoke partner' }).click();
    await expect.poll(() => row.textContent()).toContain('revoked');
    expect((await asPartner(rotated)).statusCode).toBe(401);
    await adminPage.context().close();
  });
});

describe('live', () => {
  it('shows the tenant’s events as they happen, filtered by type', async () => {
    await go(page, 'Live');
    await page.getByText('Live: every event.').waitFor();
    const feed = page.getByRole('list', { name: 'Events' });
    await rig.server.as(a, 'POST', '/api/v1/devices/', { platform: 'ios', token: `live-ios-${Date.now()}` });
    await expect.poll(() => feed.textContent()).toContain('device.registered');

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('notification.completed').check();
    await page.getByText('Live: only notification.completed.').waitFor();
    await rig.server.as(a, 'POST', '/api/v1/devices/', { platform: 'ios', token: `live-ios2-${Date.now()}` });
    const sent = await rig.server.as(a, 'POST', '/api/v1/notify/', { all_devices: true, title: 'Live one' });
    const id = sent.json().notification_id as string;
    const item = feed.getByRole('listitem').first();
    await expect.poll(() => item.textContent(), { timeout: 20_000 }).toContain('notification.completed');
    expect(await item.getByRole('link', { name: 'notification' }).getAttribute('href')).toBe(
      `/dashboard/notifications/${id}`,
    );
    // Only the chosen type: the device registered after the filter is not in the feed.
    expect(await feed.textContent()).not.toContain('device.registered');
  });
});

describe('settings', () => {
  it('uploads a service-account file, pages the audit log, and lists API clients for an admin only', async () => {
    const projectId = `uploaded-${Date.now()}`;
    const { account } = createTestServiceAccount({ projectId, tokenUri: rig.server.emulator.tokenUri });
    rig.server.emulator.addServiceAccount(account);
    const file = join(mkdtempSync(join(tmpdir(), 'dashboard-')), 'service-account.json');
    writeFileSync(file, JSON.stringify(account));

    await go(page, 'Settings');
    const projects = page.getByRole('table', { name: 'Firebase projects' });
    await expect.poll(() => projects.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Service-account file (JSON)').setInputFiles(file);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByText(`Added ${projectId}`).waitFor();
    await expect.poll(() => projects.locator('tbody tr').count()).toBe(2);
    await page.getByText('Listing API clients needs the admin scope').waitFor();
    const audit = page.getByRole('table', { name: 'Audit log' });
    await expect.poll(() => audit.textContent()).toContain('firebase');

    // An admin client sees every API client (names only; tokens are never listed).
    const admin = await createClient(rig.server.runtime.deps, { name: 'ops', scopes: ['admin', 'read'] });
    const adminPage = await signedInPage(rig, { clientId: admin.clientId, token: admin.clientToken });
    await go(adminPage, 'Settings');
    const clients = adminPage.getByRole('table', { name: 'API clients' });
    await expect.poll(() => clients.textContent()).toMatch(/shop-a.*shop-b.*ops|ops.*shop-b.*shop-a/);
    await adminPage.context().close();
  });
});

/** DASHBOARD_SCREENSHOTS=docs/dashboard writes the pictures of docs/dashboard.md (each page at 1280 and 390 px). */
const screenshots = process.env.DASHBOARD_SCREENSHOTS;
describe.runIf(screenshots)('screenshots for the docs', () => {
  it('takes each page at both widths', async () => {
    const notification = (await rig.server.as(a, 'GET', '/api/v1/notifications/')).json().items[0]
      .id as string;
    const device = (await rig.server.as(a, 'GET', '/api/v1/devices/?limit=1')).json().items[0].id as string;
    const pages: Array<[string, string]> = [
      ['overview', '/'],
      ['compose', '/compose'],
      ['notifications', '/notifications'],
      ['notification', `/notifications/${notification}`],
      ['live', '/live'],
      ['sandbox', '/sandbox'],
      ['devices', '/devices'],
      ['device', `/devices/${device}`],
      ['profiles', '/profiles'],
      ['topics', '/topics'],
      ['templates', '/templates'],
      ['schedules', '/schedules'],
      ['dead-letters', '/dead-letters'],
      ['webhooks', '/webhooks'],
      ['settings', '/settings'],
    ];
    for (const width of [1280, 390]) {
      const shot = await signedInPage(rig, a, width);
      for (const [name, path] of pages) {
        await shot.goto(`${rig.origin}/dashboard${path}`);
        await shot.locator('h1').first().waitFor();
        await shot.waitForLoadState('networkidle');
        if (name === 'compose') await shot.getByRole('button', { name: 'Preview' }).click();
        await shot.waitForTimeout(300);
        await shot.evaluate('window.scrollTo(0, 0)');
        await shot.screenshot({ path: `${screenshots}/${name}-${width}.png`, fullPage: width === 1280 });
      }
      await shot.context().close();
    }
    const signIn = await rig.browser.newPage({ viewport: { width: 1280, height: 700 } });
    await signIn.goto(`${rig.origin}/dashboard/`);
    await signIn.getByLabel('Client ID').waitFor();
    await signIn.screenshot({ path: `${screenshots}/sign-in-1280.png` });
    await signIn.close();
  }, 120_000);
});
