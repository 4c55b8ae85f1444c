/**
 * The dashboard in a real browser (Chromium): a new user signs in, adds a sandbox test device, sends a first
 * notification, watches it reach `completed` live, and finds it in the sandbox inbox; another tenant signed in
 * sees none of it. Everything goes through the public API, as the dashboard does.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardRig, go, signedInPage, startDashboardRig } from './browser.ts';
import type { Tenant } from './helpers.ts';

let rig: DashboardRig;
let a: Tenant;
let b: Tenant;
let page: Page;

beforeAll(async () => {
  rig = await startDashboardRig();
  a = await rig.server.tenant('shop-a');
  b = await rig.server.tenant('shop-b');
  page = await signedInPage(rig, a);
}, 90_000);
afterAll(() => rig?.close());

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
    await page.getByText(/1 device\(s\)/).waitFor();

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
    const deliveries = page.locator('table').last();
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
