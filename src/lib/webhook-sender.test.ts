import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookSender, type WebhookSender } from './webhook-sender.ts';

describe('the webhook sender', () => {
  let server: Server;
  let base: string;
  let sender: WebhookSender;
  const seen: { headers: Record<string, unknown>; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        if (req.url === '/ok') res.writeHead(204).end();
        else if (req.url === '/error') res.writeHead(500).end(`overloaded ${'x'.repeat(1000)}`);
        else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
        // '/hang': never answers
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Long enough for a loopback answer on a loaded CI machine; the hanging target still times out in a test's time.
    sender = createWebhookSender({ timeoutMs: 2000, allowPrivateTargets: true, userAgent: 'test-agent/1' });
  });
  afterAll(async () => {
    await sender.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('POSTs the body with the headers and its user agent; a 2xx is a success', async () => {
    const result = await sender.post(
      `${base}/ok`,
      { 'content-type': 'application/json', 'webhook-id': 'evt_1' },
      '{}',
    );
    expect(result).toMatchObject({ status: 204, error: null });
    expect(seen.at(-1)).toMatchObject({
      body: '{}',
      headers: { 'user-agent': 'test-agent/1', 'webhook-id': 'evt_1', 'content-type': 'application/json' },
    });
  });

  it('reports other statuses with the start of the body, and does not follow redirects', async () => {
    const failed = await sender.post(`${base}/error`, {}, '{}');
    expect(failed.status).toBe(500);
    expect(failed.error).toMatch(/^HTTP 500: overloaded x+$/);
    expect(failed.error!.length).toBeLessThan(300);
    const before = seen.length;
    expect(await sender.post(`${base}/redirect`, {}, '{}')).toMatchObject({ status: 302, error: 'HTTP 302' });
    expect(seen.length).toBe(before + 1);
  });

  it('gives up after the timeout, and reports connection errors', async () => {
    const hung = await sender.post(`${base}/hang`, {}, '{}');
    expect(hung).toMatchObject({ status: null, error: 'timed out after 2000 ms' });
    expect(hung.durationMs).toBeGreaterThanOrEqual(250);
    const refused = await sender.post('http://127.0.0.1:1/', {}, '{}');
    expect(refused.status).toBeNull();
    expect(refused.error).toMatch(/ECONNREFUSED/);
  });
});
