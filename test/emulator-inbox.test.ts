/**
 * The emulator's inbox page in a real Chromium (playwright-core): newest first, each message as Android, iOS
 * and Web show it, the filters, the fault editor, and no script or style refused by its Content-Security-Policy.
 */
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../src/emulator/emulator.ts';
import { emulatorWithToken } from './emulator-client.ts';

let emulator: Emulator;
let browser: Browser;
let accessToken: string;

beforeAll(async () => {
  ({ emulator, accessToken } = await emulatorWithToken('inbox-demo'));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
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
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await emulator.close();
});

async function send(message: Record<string, unknown>): Promise<void> {
  await fetch(`${emulator.url}/v1/projects/inbox-demo/messages:send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ message }),
  });
}

describe('the inbox page', () => {
  it('shows messages newest first as each platform would, filters them, and edits the faults', async () => {
    await send({ token: 'phone-1', notification: { title: 'Order shipped', body: 'Arrives Tuesday' } });
    await send({
      token: 'phone-2',
      notification: { title: 'Generic', body: 'for all' },
      android: { notification: { title: 'Android title' } },
      apns: { payload: { aps: { alert: { title: 'iOS title', body: 'iOS body' } } } },
      webpush: { notification: { title: 'Web title' } },
    });
    await send({ token: 'unregistered-3', notification: { title: 'Dead token' } });

    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('console', (entry) => {
      if (entry.type() === 'error') refused.push(entry.text());
    });
    const response = await page.goto(`${emulator.url}/`);
    expect(response!.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.locator('article').nth(2).waitFor();

    const targets = await page.locator('article .target').allTextContents();
    expect(targets).toEqual(['token unregistered-3', 'token phone-2', 'token phone-1']);
    await expect
      .poll(() => page.locator('article').first().locator('.outcome').textContent())
      .toBe('UNREGISTERED');
    const second = page.locator('article').nth(1);
    expect(await second.locator('.android .title').textContent()).toBe('Android title');
    expect(await second.locator('.android .body').textContent()).toBe('for all');
    expect(await second.locator('.ios .title').textContent()).toBe('iOS title');
    expect(await second.locator('.ios .body').textContent()).toBe('iOS body');
    expect(await second.locator('.web .title').textContent()).toBe('Web title');

    await page.fill('#token', 'phone-1');
    expect(await page.locator('article .target').allTextContents()).toEqual(['token phone-1']);
    await page.fill('#token', '');

    await page.fill('#faults', '{"tokens": {"phone-1": "UNREGISTERED"}}');
    await page.click('#save-faults');
    await expect.poll(() => page.locator('#faults-status').textContent()).toBe('Saved.');
    const faults = await (await fetch(`${emulator.url}/__emulator/faults`)).json();
    expect(faults).toEqual({ tokens: { 'phone-1': 'UNREGISTERED' } });
    // INBOX_SCREENSHOT=docs/emulator-inbox.png renews the picture in docs/emulator.md.
    if (process.env.INBOX_SCREENSHOT) {
      await page.setViewportSize({ width: 1280, height: 720 });
      await page.screenshot({ path: process.env.INBOX_SCREENSHOT });
    }
    await page.fill('#faults', '{"tokens": {"phone-1": "EXPLODE"}}');
    await page.click('#save-faults');
    await expect
      .poll(() => page.locator('#faults-status').textContent())
      .toMatch(/^Refused: unknown fault code EXPLODE/);

    // The refused PUT is logged by Chromium as a failed request; nothing else (no CSP violation) may be.
    expect(refused.filter((text) => !text.includes('400'))).toEqual([]);
    await page.close();
  }, 60_000);
});
