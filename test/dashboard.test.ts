/**
 * Serving the dashboard: /dashboard answers the page under a strict CSP in every mode, its client-side routes
 * answer the same page, a missing asset is a 404, DASHBOARD_ENABLED=false removes it, and a checkout whose
 * bundle was never built says how to build it instead of serving nothing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../src/http/errors.ts';
import { DASHBOARD_CSP, dashboardRoutes } from '../src/http/routes/dashboard.routes.ts';
import { errorOf, startTestServer, type TestServer } from './helpers.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({}, { worker: false });
});
afterAll(() => server?.close());

describe('GET /dashboard', () => {
  it('serves the page and its assets from this origin under a CSP with nothing inline', async () => {
    for (const url of [
      '/dashboard',
      '/dashboard/',
      '/dashboard/notifications/0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e',
    ]) {
      const page = await server.app.inject({ method: 'GET', url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('<script type="module" src="/dashboard/assets/app.js"></script>');
      expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    }
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
    const script = await server.app.inject({ method: 'GET', url: '/dashboard/assets/app.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    const style = await server.app.inject({ method: 'GET', url: '/dashboard/assets/app.css' });
    expect(style.headers['content-type']).toMatch(/^text\/css/);
  });

  it('answers 404 for an asset that does not exist, not the page', async () => {
    const missing = await server.app.inject({ method: 'GET', url: '/dashboard/assets/old-build.js' });
    expect(missing.statusCode).toBe(404);
  });

  // A second server of its own: its start alone can take half a minute on a loaded machine.
  it('is gone with DASHBOARD_ENABLED=false', { timeout: 90_000 }, async () => {
    const off = await startTestServer({ DASHBOARD_ENABLED: 'false' }, { worker: false });
    try {
      expect((await off.app.inject({ method: 'GET', url: '/dashboard/' })).statusCode).toBe(404);
      expect((await off.app.inject({ method: 'GET', url: '/dashboard/assets/app.js' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('without a built bundle, says how to build it (503, our error format)', async () => {
    const app = Fastify();
    registerErrorHandling(app, () => {});
    await app.register(dashboardRoutes(mkdtempSync(join(tmpdir(), 'no-dashboard-'))), {
      prefix: '/dashboard',
    });
    const answer = await app.inject({ method: 'GET', url: '/dashboard/compose' });
    expect(answer.statusCode).toBe(503);
    expect(errorOf(answer)).toMatchObject({ code: 'dashboard_not_built' });
    expect(errorOf(answer).message).toContain('npm run build:dashboard');
    await app.close();
  });
});
