/** @fcm-server/client: the typed client of the fcm-server HTTP API, for Node ≥ 22 and browsers. */
export { type ClientOptions, createClient, type FcmClient, type ListItem, type ListPath } from './client.ts';
export { FcmServerError, WebhookVerificationError } from './errors.ts';
export { EventStreamError, type EventStreamOptions, type StreamEvent, streamEvents } from './events.ts';
export { type RetryOptions, retryAfterMs } from './retry.ts';
export type { components, operations, paths } from './schema.d.ts';
export { verifyWebhook, type WebhookEvent, type WebhookHeaders } from './webhooks.ts';
