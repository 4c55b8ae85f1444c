/**
 * Webhook endpoints: the tenant's callback URLs, the event types each wants, their signing secrets (shown once,
 * rotated with a grace period), test sends and the attempt log.
 */
import { findNotification } from '../db/notifications.repository.ts';
import {
  ATTEMPT_STATUSES,
  type AttemptRow,
  type AttemptStatus,
  deleteEndpoint,
  type EndpointRow,
  findEndpoint,
  insertDispatchedEvent,
  insertEndpoint,
  listAttempts,
  listEndpoints,
  rotateEndpointSecret,
  updateEndpoint,
} from '../db/webhooks.repository.ts';
import { AppError, invalid, notFound } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import { type Resolver, systemResolver, targetProblem } from '../lib/ssrf.ts';
import { generateWebhookSecret } from '../lib/standard-webhooks.ts';
import { QUEUES, type WebhookJob } from '../queue/contract.ts';
import type { ServiceDeps } from './deps.ts';
import { type EventType, newEventId } from './events.ts';
import { assertIdCursor, isoOrNull, type PageView, pageView } from './views.ts';

export { ATTEMPT_STATUSES };

export interface WebhookView {
  id: string;
  url: string;
  description: string | null;
  /** Empty: every event type. */
  event_types: string[];
  is_active: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  consecutive_failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  /** While set and in the future, messages also carry a signature made with the previous secret. */
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

function toView(row: EndpointRow): WebhookView {
  const graceEnds = row.previousSecretExpiresAt;
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    event_types: row.eventTypes,
    is_active: row.isActive,
    disabled_reason: row.disabledReason,
    disabled_at: isoOrNull(row.disabledAt),
    consecutive_failures: row.consecutiveFailures,
    last_success_at: isoOrNull(row.lastSuccessAt),
    last_failure_at: isoOrNull(row.lastFailureAt),
    previous_secret_expires_at: graceEnds && graceEnds > new Date() ? graceEnds.toISOString() : null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * A 422 unless the URL is one we may POST to: https (http only where allowed), no credentials in it, and,
 * where private targets are not allowed, a host that is and resolves to public addresses only.
 */
export async function assertAllowedUrl(
  policy: ServiceDeps['config']['webhooks'],
  text: string,
  resolve: Resolver = systemResolver,
): Promise<void> {
  const url = new URL(text);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    const allowed = policy.allowHttp ? 'an http:// or https:// URL' : 'an https:// URL';
    throw invalid('webhook url is not valid', [{ field: 'url', message: `must be ${allowed}` }]);
  }
  if (url.username || url.password) {
    throw invalid('webhook url is not valid', [
      { field: 'url', message: 'must not contain credentials; authenticate messages by their signature' },
    ]);
  }
  if (policy.allowPrivateTargets) return;
  const problem = await targetProblem(url, resolve);
  if (problem) {
    throw new AppError(
      'webhook_url_not_allowed',
      422,
      `webhook url is not allowed: ${problem}; webhooks may only target public internet addresses`,
      [{ field: 'url', message: problem }],
    );
  }
}

/** Event types in a stable order without repeats. */
const normalizeTypes = (types: readonly EventType[] | undefined) =>
  types === undefined ? undefined : [...new Set(types)].sort();

export interface WebhookInput {
  url: string;
  description?: string | undefined;
  event_types?: EventType[] | undefined;
}

/** Creates an endpoint; its secret is in this reply only. */
export async function createWebhook(
  deps: ServiceDeps,
  tenantId: string,
  input: WebhookInput,
): Promise<WebhookView & { secret: string }> {
  await assertAllowedUrl(deps.config.webhooks, input.url);
  const secret = generateWebhookSecret();
  const row = await insertEndpoint(deps.db, {
    id: uuidv7(),
    apiClientId: tenantId,
    url: input.url,
    description: input.description ?? null,
    eventTypes: normalizeTypes(input.event_types) ?? [],
    secretCiphertext: deps.cipher.encrypt(secret),
  });
  return { ...toView(row), secret };
}

export async function getWebhook(deps: ServiceDeps, tenantId: string, id: string): Promise<WebhookView> {
  const row = await findEndpoint(deps.db, tenantId, id);
  if (!row) throw notFound('webhook');
  return toView(row);
}

export async function listWebhooks(
  deps: ServiceDeps,
  tenantId: string,
  filter: { active?: boolean | undefined },
  limit: number,
  cursor: string | undefined,
): Promise<PageView<WebhookView>> {
  const page = await listEndpoints(deps.db, tenantId, filter, limit, cursor);
  return pageView(page, toView);
}

/** An update: the fields of the input (a description of null clears it) and is_active; absent ones are kept. */
export type WebhookChanges = Partial<Omit<WebhookInput, 'description'>> &
  Partial<Pick<WebhookView, 'description' | 'is_active'>>;

/** Changes the fields given; switching an endpoint back on resets its failure count. */
export async function updateWebhook(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  changes: WebhookChanges,
): Promise<WebhookView> {
  if (changes.url !== undefined) await assertAllowedUrl(deps.config.webhooks, changes.url);
  const row = await updateEndpoint(deps.db, tenantId, id, {
    url: changes.url,
    description: changes.description,
    eventTypes: normalizeTypes(changes.event_types),
    isActive: changes.is_active,
  });
  if (!row) throw notFound('webhook');
  return toView(row);
}

export async function deleteWebhook(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deleteEndpoint(deps.db, tenantId, id))) throw notFound('webhook');
}

export const DEFAULT_GRACE_SECONDS = 24 * 3600;
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

/**
 * A new secret, in this reply only. The old one keeps signing (a second signature in the same header) for
 * `graceSeconds`, so receivers can switch over without losing a message; 0 drops it at once. A rotation during
 * another's grace period drops the oldest secret.
 */
export async function rotateWebhookSecret(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  graceSeconds: number = DEFAULT_GRACE_SECONDS,
): Promise<WebhookView & { secret: string }> {
  const secret = generateWebhookSecret();
  const graceEnds = graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000) : null;
  const row = await rotateEndpointSecret(deps.db, tenantId, id, deps.cipher.encrypt(secret), graceEnds);
  if (!row) throw notFound('webhook');
  return { ...toView(row), secret };
}

/** Sends a `webhook.test` event to this endpoint only, through the normal delivery job. */
export async function sendTestEvent(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
): Promise<{ event_id: string; webhook_id: string }> {
  return deps.db.transaction(async (tx) => {
    const row = await findEndpoint(tx, tenantId, id);
    if (!row) throw notFound('webhook');
    if (!row.isActive) {
      throw new AppError(
        'webhook_inactive',
        409,
        'this webhook is disabled: set is_active to true to send it events again',
      );
    }
    const eventId = newEventId();
    await insertDispatchedEvent(tx, {
      eventId,
      tenantId,
      type: 'webhook.test' satisfies EventType,
      payload: { webhook_id: id, message: 'A test event sent from the API' },
    });
    const job: WebhookJob = { tenantId, endpointId: id, eventId, attempt: 1 };
    await deps.queue.enqueue(tx, QUEUES.webhook, job);
    return { event_id: eventId, webhook_id: id };
  });
}

/** An attempt as the API shows it: the row with its times as ISO 8601 text. */
export type AttemptView = Omit<AttemptRow, 'next_attempt_at' | 'created_at'> & {
  next_attempt_at: string | null;
  created_at: string;
};

const attemptView = (row: AttemptRow): AttemptView => ({
  ...row,
  next_attempt_at: isoOrNull(row.next_attempt_at),
  created_at: new Date(row.created_at).toISOString(),
});

/** The endpoint's delivery attempts, newest first. */
export async function listWebhookAttempts(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  options: { limit: number; cursor?: string | undefined; status?: AttemptStatus | undefined },
): Promise<PageView<AttemptView>> {
  assertIdCursor(options.cursor);
  if (!(await findEndpoint(deps.db, tenantId, id))) throw notFound('webhook');
  const filter = { endpointId: id, status: options.status };
  return pageView(await listAttempts(deps.db, tenantId, filter, options.limit, options.cursor), attemptView);
}

/** The attempts to deliver a notification's events, to every endpoint, newest first. */
export async function listNotificationWebhookAttempts(
  deps: ServiceDeps,
  tenantId: string,
  notificationId: string,
  options: { limit: number; cursor?: string | undefined; status?: AttemptStatus | undefined },
): Promise<PageView<AttemptView>> {
  assertIdCursor(options.cursor);
  if (!(await findNotification(deps.db, tenantId, notificationId))) throw notFound('notification');
  const filter = { notificationId, status: options.status };
  return pageView(await listAttempts(deps.db, tenantId, filter, options.limit, options.cursor), attemptView);
}
