/**
 * Who may read /metrics, and a bare HTTP listener serving it on METRICS_PORT: the only way to scrape a `worker`
 * process, which has no HTTP API.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export type MetricsAccess = 'allowed' | 'unauthorized' | 'forbidden';

/**
 * With METRICS_TOKEN set, any caller presenting it as a bearer token; without, loopback callers only. (Behind a
 * reverse proxy on the same host every caller looks local: set the token, or keep /metrics off the proxy.)
 */
export function metricsAccess(
  remoteAddress: string | undefined,
  authorization: string | undefined,
  token: string | undefined,
): MetricsAccess {
  if (token === undefined) return LOOPBACK.has(remoteAddress ?? '') ? 'allowed' : 'forbidden';
  const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'allowed' : 'unauthorized';
}

export async function serveMetrics(
  metrics: Metrics,
  options: { host: string; port: number; token: string | undefined },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || (path !== '/metrics' && path !== '/metrics/')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const access = metricsAccess(request.socket.remoteAddress, request.headers.authorization, options.token);
    if (access !== 'allowed') {
      response
        .writeHead(access === 'unauthorized' ? 401 : 403, {
          'content-type': 'text/plain',
          ...(access === 'unauthorized' ? { 'www-authenticate': 'Bearer' } : {}),
        })
        .end(`${access}\n`);
      return;
    }
    metrics.scrape().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
