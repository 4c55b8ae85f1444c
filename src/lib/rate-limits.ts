/**
 * Rate-limit groups and their server-wide defaults (requests per minute, per client). The one list both the
 * limiter (src/http/rate-limit.ts) and the API that edits `api_clients.rate_limits` overrides agree on.
 */

/** Defaults from the spec; `default` covers every endpoint not in another group. */
export const RATE_LIMIT_DEFAULTS = {
  /** POST /notify, /notify/topic/{name}, /notify/schedule and other single sends. */
  send: 100,
  /** POST /notify/bulk. */
  bulk: 10,
  /** POST /devices. */
  device_registration: 50,
  /** POST /devices/import: one request carries up to 10,000 devices, and counts once. */
  device_import: 60,
  /** /analytics and everything under it. */
  analytics: 30,
  /** Everything else, and every unauthenticated request (counted per IP address). */
  default: 600,
} as const;

export type RateLimitGroup = keyof typeof RATE_LIMIT_DEFAULTS;

export const RATE_LIMIT_GROUPS = Object.keys(RATE_LIMIT_DEFAULTS) as RateLimitGroup[];

/** Requests per minute for each group. */
export type RateLimits = Record<RateLimitGroup, number>;

export const isRateLimitGroup = (name: string): name is RateLimitGroup =>
  Object.hasOwn(RATE_LIMIT_DEFAULTS, name);

/**
 * Which group a route belongs to, from its method and registered URL (e.g. `/api/v1/notify/topic/:topic_name`);
 * undefined for the one route that is not limited: device receipts come from every device, usually through a
 * load balancer or carrier NAT (one address for many devices), and each carries an HMAC checked before any
 * database work.
 */
export function rateLimitGroupOf(method: string, routeUrl: string): RateLimitGroup | undefined {
  const path = routeUrl.replace(/^\/api\/v1(?=\/)/, '').replace(/\/$/, '');
  if (method === 'POST' && path === '/receipts') return undefined;
  if (path === '/analytics' || path.startsWith('/analytics/')) return 'analytics';
  if (method !== 'POST') return 'default';
  if (path === '/notify/bulk') return 'bulk';
  if (path === '/notify' || path.startsWith('/notify/')) return 'send';
  if (path === '/devices') return 'device_registration';
  if (path === '/devices/import') return 'device_import';
  return 'default';
}

/**
 * A client's effective limit for a group: its own override from `api_clients.rate_limits` when that is a
 * whole number >= 0, the server-wide value otherwise.
 */
export function effectiveLimit(
  group: RateLimitGroup,
  serverWide: RateLimits,
  overrides: Readonly<Record<string, unknown>> | undefined,
): number {
  const own = overrides?.[group];
  return typeof own === 'number' && Number.isSafeInteger(own) && own >= 0 ? own : serverWide[group];
}
