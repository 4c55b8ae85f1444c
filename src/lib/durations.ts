/** Short durations as the API writes them ("30m", "24h", "7d"): one number and one unit. */

export const DURATION_PATTERN = /^\d{1,6}[mhd]$/;

const UNIT_SECONDS = { m: 60, h: 3600, d: 86_400 } as const;

/** "24h" → 86400. The text must match DURATION_PATTERN (the request schemas check it first). */
export function durationSeconds(text: string): number {
  return Number(text.slice(0, -1)) * UNIT_SECONDS[text.slice(-1) as keyof typeof UNIT_SECONDS];
}
