/**
 * The HTTP client webhooks are POSTed with (undici): a timeout for the whole exchange, no redirects followed,
 * and, unless private targets are allowed, the SSRF guard on every connection.
 */
import { Agent, type Dispatcher, request } from 'undici';
import { publicOnlyAgent } from './ssrf.ts';

export interface WebhookResponse {
  /** The HTTP status, or null when no response came (timeout, connection error, refused target). */
  status: number | null;
  /** Why the attempt failed (null on a 2xx): the status and the start of the body, or the network error. */
  error: string | null;
  durationMs: number;
}

export interface WebhookSender {
  post(url: string, headers: Record<string, string>, body: string): Promise<WebhookResponse>;
  close(): Promise<void>;
}

/** How much of a failed response's body the attempt log keeps. */
const BODY_SNIPPET_CHARS = 256;

async function snippet(body: Dispatcher.ResponseData['body']): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length >= BODY_SNIPPET_CHARS) break;
  }
  return text.slice(0, BODY_SNIPPET_CHARS).trim();
}

function describe(error: unknown, timeoutMs: number): string {
  const { name, code, message } = (error ?? {}) as { name?: string; code?: string; message?: string };
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return `timed out after ${timeoutMs} ms`;
  }
  if (code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
    return `timed out after ${timeoutMs} ms`;
  if (code === 'ESSRF') return `refused: ${message} (private targets are not allowed)`;
  return `${code ?? name ?? 'Error'}: ${message ?? String(error)}`.slice(0, 500);
}

export function createWebhookSender(options: {
  timeoutMs: number;
  allowPrivateTargets: boolean;
  userAgent: string;
}): WebhookSender {
  const timeouts = { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs };
  const agent = options.allowPrivateTargets
    ? new Agent({ ...timeouts, connect: { timeout: options.timeoutMs } })
    : publicOnlyAgent({ ...timeouts, connectTimeoutMs: options.timeoutMs });
  return {
    async post(url, headers, body) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      try {
        const response = await request(url, {
          method: 'POST',
          headers: { ...headers, 'user-agent': options.userAgent },
          body,
          dispatcher: agent,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        if (response.statusCode >= 200 && response.statusCode < 300) {
          await response.body.dump();
          return { status: response.statusCode, error: null, durationMs: elapsed() };
        }
        const text = await snippet(response.body).catch(() => '');
        return {
          status: response.statusCode,
          error: `HTTP ${response.statusCode}${text ? `: ${text}` : ''}`,
          durationMs: elapsed(),
        };
      } catch (error) {
        return { status: null, error: describe(error, options.timeoutMs), durationMs: elapsed() };
      }
    },
    close: () => agent.close(),
  };
}
