/**
 * The one retry-delay rule, for deliveries and webhooks alike: exponential backoff with jitter, so that the
 * retries of a burst of failures spread out instead of arriving together again.
 */

export interface Backoff {
  /** The first step: attempt 1 waits at most this long, and each further attempt doubles it. */
  baseMs: number;
  /** No step grows past this. */
  maxMs: number;
  /**
   * How much of the step is random. `full`: anywhere from 0 to the step (spreads retries the most; FCM
   * deliveries). `equal`: from half the step to the whole of it (never retries almost at once; webhooks).
   */
  jitter: 'full' | 'equal';
}

/**
 * The delay before the attempt after `attempt` (1 for the first try): min(max, base × 2^(attempt-1)) with
 * jitter, and never less than `atLeastMs` (a server's Retry-After).
 */
export function backoffDelayMs(
  attempt: number,
  backoff: Backoff,
  options: { atLeastMs?: number | undefined; random?: (() => number) | undefined } = {},
): number {
  const step = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (attempt - 1));
  const floor = backoff.jitter === 'full' ? 0 : step / 2;
  const delay = Math.round(floor + (options.random ?? Math.random)() * (step - floor));
  return Math.max(options.atLeastMs ?? 0, delay);
}
