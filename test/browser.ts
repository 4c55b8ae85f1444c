/**
 * A real browser for the dashboard tests: Debian's Chromium driven by playwright-core (no downloaded browser;
 * .ci/run installs the package when it is missing), headless and offline, against a test server listening on
 * loopback with the dashboard bundle test/global-setup.ts built from the current source.
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { startTestServer, type Tenant, type TestServer } from './helpers.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface DashboardRig {
  server: TestServer;
  browser: Browser;
  /** http://127.0.0.1:<port> */
  origin: string;
  close(): Promise<void>;
}

/** A sandbox server (the emulator is the FCM endpoint) listening on loopback, and a browser. */
export async function startDashboardRig(env: Record<string, string> = {}): Promise<DashboardRig> {
  const server = await startTestServer({ FCM_EMULATOR: 'true', RATE_LIMIT_ENABLED: 'false', ...env });
  const origin = await server.app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  return {
    server,
    browser,
    origin,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** What the browser refused under the dashboard's CSP, in any page of the run: the tests expect none. */
export const cspViolations: string[] = [];

/** A fresh page (its own session storage) signed in as the tenant; CSP violations land in cspViolations. */
export async function signedInPage(
  rig: DashboardRig,
  tenant: Pick<Tenant, 'clientId' | 'token'>,
  width = 1280,
): Promise<Page> {
  const context = await rig.browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  // Fail with playwright's message (which locator, what it saw) before the test's own timeout.
  page.setDefaultTimeout(10_000);
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text()))
      cspViolations.push(message.text());
  });
  await page.goto(`${rig.origin}/dashboard/`);
  await page.getByLabel('Client ID').fill(tenant.clientId);
  await page.getByLabel('Client token').fill(tenant.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  return page;
}

/** Follows a link of the main navigation (the menu opens first on a narrow screen). */
export async function go(page: Page, name: string): Promise<void> {
  const toggle = page.getByRole('button', { name: 'Menu' });
  if (await toggle.isVisible()) await toggle.click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}
