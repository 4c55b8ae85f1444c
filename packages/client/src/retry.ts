/**
 * Retries what the server asks to be retried: 429 (rate limited) and 503 (briefly unavailable), after the
 * Retry-After the answer gives, within bounds. Other answers, and network errors, go back to the caller: a
 * send that may have reached the server is safe to repeat only with its idempotency key, which the caller
 * decides to do.
 */

export interface RetryOptions {
  /** Attempts in all, the first included (default 3; 1 turns retrying off). */
  attempts?: number;
  /** The longest wait honoured; a longer Retry-After gives the answer back instead (default 30 s). */
  maxDelayMs?: number;
  /** The wait when the answer has no Retry-After, doubled each time (default 500 ms). */
  baseDelayMs?: number;
}

const RETRIED = new Set([429, 503]);

/** Retry-After in milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fetch that retries 429 and 503 answers as RetryOptions say. */
export function retryingFetch(
  fetchImpl: (request: Request) => Promise<Response>,
  options: RetryOptions = {},
): (request: Request) => Promise<Response> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const baseDelayMs = options.baseDelayMs ?? 500;
  return async (request) => {
    for (let attempt = 1; ; attempt += 1) {
      // A body can be read once: each attempt sends a copy.
      const response = await fetchImpl(attempt < attempts ? request.clone() : request);
      if (!RETRIED.has(response.status) || attempt >= attempts) return response;
      const delay = retryAfterMs(response.headers.get('retry-after')) ?? baseDelayMs * 2 ** (attempt - 1);
      if (delay > maxDelayMs) return response;
      await response.body?.cancel();
      await sleep(delay);
    }
  };
}
