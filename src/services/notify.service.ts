/**
 * Accepting a send: validate the content (rendering a template when one is named), resolve who it reaches, and
 * write the notification with its fan-out in one transaction: a send to a person or to named devices makes its
 * first page of deliveries there (and is usually done with it), any other enqueues its fan-out job. Used by the
 * API and by the scheduler.
 */
import {
  findDevicesForTargets,
  findProfilesForTargets,
  findTopicId,
  insertRecipients,
} from '../db/audience.repository.ts';
import type { Executor } from '../db/client.ts';
import { defaultFirebaseProjectId } from '../db/firebase-projects.repository.ts';
import { insertNotification, type NotificationRow } from '../db/notifications.repository.ts';
import type { TemplateRow } from '../db/templates.repository.ts';
import type { NotificationContent } from '../domain/content.ts';
import { PLATFORMS, type Platform } from '../domain/platform.ts';
import { AppError, type ErrorDetail, invalid, notFound } from '../lib/errors.ts';
import { UUID_PATTERN, uuidv7 } from '../lib/ids.ts';
import { renderMessage, validateContentForFcm } from '../push/render.ts';
import { QUEUES } from '../queue/contract.ts';
import { pickVariant, renderTemplate, type TemplateContent } from '../templates/engine.ts';
import { deviceFilters, type StoredTarget } from './audience.ts';
import { logCompleted, receiptData } from './delivery.service.ts';
import type { ServiceDeps } from './deps.ts';
import { type FanoutPageResult, makeFanoutPage } from './fanout.service.ts';
import { chooseProjectForSend, requireServerDefault } from './firebase-projects.service.ts';
import { normalizePhoneNumber, resolveProfile } from './profiles.service.ts';
import {
  type ContentInput,
  type ControlInput,
  contentFields,
  type PreviewBody,
  type SegmentFilters,
  type SendBody,
  toContent,
} from './send-request.ts';
import { resolveTiming } from './send-timing.ts';
import { loadTemplateForSend, templateRefOf } from './templates.service.ts';

export type { StoredTarget } from './audience.ts';

/** Locale → content; "default" is always present and is what devices without a matching locale get. */
export type Contents = Record<string, NotificationContent>;

export interface SendMeta {
  idempotencyKey?: string | undefined;
  requestId?: string | undefined;
  scheduleId?: string | undefined;
  occurrenceAt?: Date | undefined;
}

/** Checks the content the way FCM will, so a message FCM would refuse is a 422 now, not a failure later. */
export function assertSendable(content: NotificationContent): void {
  if (!content.silent && !content.title && !content.body) {
    throw invalid('a notification needs a title or a body (or set silent: true and send data only)', [
      { field: 'title', message: 'title or body is required unless silent is true' },
    ]);
  }
  if (content.silent && (!content.data || Object.keys(content.data).length === 0)) {
    throw invalid('a silent notification carries data only: data must not be empty', [
      { field: 'data', message: 'required when silent is true' },
    ]);
  }
  // Room for the receipt fields every message carries.
  const problems = validateContentForFcm(content, receiptData('9223372036854775807', 'x'.repeat(24)));
  if (problems.length > 0) {
    const details = problems.map((p) => ({ field: p.field, message: p.message }));
    const tooLarge = problems.some((p) => p.field === 'content' && /bytes/.test(p.message));
    if (tooLarge) {
      throw new AppError(
        'payload_too_large',
        413,
        'the message is larger than FCM allows (4096 bytes)',
        details,
      );
    }
    throw invalid('the message would be rejected by FCM', details);
  }
}

const CONTENT_KEYS = (Object.keys(contentFields) as (keyof ContentInput)[]).filter(
  (key) => key !== 'firebase_project_id',
);

/** A template variant with the request's explicit content fields over it (data and overrides merge). */
function overTemplate(
  variant: TemplateContent,
  request: ContentInput,
  extraData: Record<string, string> | undefined,
): ContentInput {
  const merged: Record<string, unknown> = { ...variant };
  for (const key of CONTENT_KEYS) {
    if (request[key] !== undefined) merged[key] = request[key];
  }
  const data = { ...variant.data, ...request.data, ...extraData };
  merged.data = Object.keys(data).length > 0 ? data : undefined;
  const overrides = { ...variant.platform_overrides, ...request.platform_overrides };
  merged.platform_overrides = Object.keys(overrides).length > 0 ? overrides : undefined;
  return merged as ContentInput;
}

/**
 * The contents of a send: the request's own content, or the template rendered with the variables (one entry per
 * locale variant) under the request's explicit fields. Throws a 422 naming missing variables or FCM problems.
 */
export function buildContents(
  template: TemplateRow | undefined,
  request: ContentInput & { variables?: Record<string, string> | undefined },
  extra: { variables?: Record<string, string> | undefined; data?: Record<string, string> | undefined } = {},
): Contents {
  const contents: Contents = {};
  if (!template) {
    const data = { ...request.data, ...extra.data };
    contents.default = toContent({ ...request, data: Object.keys(data).length > 0 ? data : undefined });
  } else {
    const rendered = renderTemplate(template, { ...request.variables, ...extra.variables });
    for (const [locale, variant] of Object.entries(rendered)) {
      contents[locale] = toContent(overTemplate(variant, request, extra.data));
    }
  }
  for (const content of Object.values(contents)) assertSendable(content);
  return contents;
}

async function loadTemplate(ex: Executor, tenantId: string, body: SendBody | BulkBody | PreviewBody) {
  if (body.template === undefined) {
    if (body.variables !== undefined) {
      throw invalid('variables are only used with a template', [
        { field: 'variables', message: 'name a template, or drop variables' },
      ]);
    }
    return undefined;
  }
  return loadTemplateForSend(ex, tenantId, templateRefOf(body.template));
}

async function resolveTarget(ex: Executor, tenantId: string, body: SendBody): Promise<StoredTarget> {
  const filters: { filters?: SegmentFilters } = body.filters ? { filters: body.filters } : {};
  if (body.phone_number !== undefined) {
    const phoneNumber = normalizePhoneNumber(body.phone_number);
    const profile = await resolveProfile(ex, tenantId, { phoneNumber });
    return { kind: 'profile', phone_number: phoneNumber, profile_id: profile.id, ...filters };
  }
  if (body.external_id !== undefined) {
    const profile = await resolveProfile(ex, tenantId, { externalId: body.external_id });
    return { kind: 'profile', external_id: body.external_id, profile_id: profile.id, ...filters };
  }
  if (body.profile_id !== undefined) {
    await resolveProfile(ex, tenantId, { id: body.profile_id });
    return { kind: 'profile', profile_id: body.profile_id, ...filters };
  }
  if (body.topic !== undefined) {
    const topicId = await findTopicId(ex, tenantId, body.topic);
    if (!topicId) throw notFound('topic');
    return { kind: 'topic', topic: body.topic, topic_id: topicId, ...filters };
  }
  if (body.all_devices) return { kind: 'all', ...filters };
  return { kind: 'devices', device_ids: [...new Set(body.device_ids ?? [])], ...filters };
}

function splitContents(contents: Contents): {
  content: Record<string, unknown>;
  variants: Record<string, Record<string, unknown>> | null;
} {
  const { default: fallback, ...variants } = contents;
  return {
    content: fallback as unknown as Record<string, unknown>,
    variants:
      Object.keys(variants).length > 0
        ? (variants as unknown as Record<string, Record<string, unknown>>)
        : null,
  };
}

type NotificationFields = Omit<
  Parameters<typeof insertNotification>[1],
  'id' | 'apiClientId' | 'firebaseProjectId' | 'idempotencyKey' | 'requestId'
>;

/** A send accepted in a transaction: its notification, and the fan-out's first page when it was made there. */
export interface Accepted {
  /** As inserted (status queued): what the 202 reply describes. */
  notification: NotificationRow;
  /** The fan-out's first page, made in the accepting transaction (a send to a person or to named devices). */
  fanout?: FanoutPageResult | undefined;
}

/**
 * Whether a target's first fan-out page is made in the accepting transaction: a person's devices or a list of
 * devices, usually a handful. A topic or all devices may be millions: their pages are the fan-out job's, so the
 * reply never waits for them; a bulk send's recipients are written after its notification.
 */
function fansOutInline(target: Record<string, unknown>): boolean {
  return target.kind === 'profile' || target.kind === 'devices';
}

/**
 * Picks the Firebase project, writes the notification and its fan-out, in the caller's transaction: the first
 * page of at most one send batch for a person or named devices, the fan-out job for the rest (or for the rest
 * of a person's devices past that page).
 */
async function writeNotification(
  deps: ServiceDeps,
  tx: Executor,
  tenantId: string,
  firebaseProject: string | undefined,
  meta: SendMeta,
  fields: NotificationFields,
): Promise<Accepted> {
  // The tenant's default project is picked by the insert itself (one round trip fewer on every send); a named
  // one is looked up first, for its 404.
  const firebaseProjectId =
    firebaseProject === undefined
      ? defaultFirebaseProjectId(tenantId)
      : await chooseProjectForSend(tx, tenantId, firebaseProject, deps.defaultAccount);
  const notification = await insertNotification(tx, {
    id: uuidv7(),
    apiClientId: tenantId,
    firebaseProjectId,
    idempotencyKey: meta.idempotencyKey ?? null,
    requestId: meta.requestId ?? null,
    // The injected clock's: its deliveries carry it (their partition), and frequency caps count by it.
    createdAt: deps.clock.now(),
    ...fields,
  });
  // Thrown before the fan-out, so the caller's transaction (or savepoint) takes the row back.
  if (notification.firebaseProjectId === null) requireServerDefault(deps.defaultAccount);
  // Not yet committed, so no other transaction can make or stop its pages: no fan-out lock to take.
  const fanout = fansOutInline(fields.target)
    ? await makeFanoutPage(deps, tx, notification, meta.requestId, {
        limit: deps.config.send.batchSize,
        caps: {},
        uncommitted: true,
      })
    : undefined;
  if (!fanout?.done) {
    await deps.queue.enqueue(tx, QUEUES.fanout, {
      notificationId: notification.id,
      requestId: meta.requestId,
    });
  }
  return { notification, fanout };
}

/**
 * The delivery controls of a send, as notification columns. An expires_at already past is refused for a request
 * made now; a schedule's stored request re-read at an occurrence keeps it (its deliveries then expire).
 */
function controlsOf(
  deps: ServiceDeps,
  body: ControlInput,
  meta: SendMeta,
): { expiresAt: Date | null; bypassFrequencyCap: boolean } {
  const bypassFrequencyCap = body.bypass_frequency_cap === true;
  if (body.expires_at === undefined) return { expiresAt: null, bypassFrequencyCap };
  const expiresAt = new Date(body.expires_at);
  if (meta.scheduleId === undefined && expiresAt.getTime() <= deps.clock.now().getTime()) {
    throw invalid('expires_at is in the past: nothing could be sent', [
      { field: 'expires_at', message: 'must be in the future' },
    ]);
  }
  return { expiresAt, bypassFrequencyCap };
}

/** The send's timing controls (local time, quiet hours, throttle) as stored on the notification, or null. */
async function timingOf(
  deps: ServiceDeps,
  tx: Executor,
  tenantId: string,
  body: ControlInput & ContentInput,
  contents: Contents,
  meta: SendMeta,
): Promise<Record<string, unknown> | null> {
  const timing = await resolveTiming(
    tx,
    tenantId,
    { ...body, silent: body.silent ?? contents.default?.silent },
    deps.clock.now(),
    { stored: meta.scheduleId !== undefined },
  );
  return timing as Record<string, unknown> | null;
}

/** Accepts one send in its own transaction, and reports it once committed. */
export async function acceptSend(
  deps: ServiceDeps,
  tenantId: string,
  body: SendBody,
  meta: SendMeta,
): Promise<NotificationRow> {
  const accepted = await deps.db.transaction((tx) => acceptSendIn(deps, tx, tenantId, body, meta));
  reportAccepted(deps, accepted);
  return accepted.notification;
}

/**
 * Accepts one send in the caller's transaction (the scheduler's, so the occurrence and its notification commit
 * together, or a dry run's savepoint that is rolled back): the caller reports it once it commits.
 */
export async function acceptSendIn(
  deps: ServiceDeps,
  tx: Executor,
  tenantId: string,
  body: SendBody,
  meta: SendMeta,
): Promise<Accepted> {
  const controls = controlsOf(deps, body, meta);
  const template = await loadTemplate(tx, tenantId, body);
  const contents = buildContents(template, body);
  const target = await resolveTarget(tx, tenantId, body);
  const timing = await timingOf(deps, tx, tenantId, body, contents, meta);
  return writeNotification(deps, tx, tenantId, body.firebase_project_id, meta, {
    ...controls,
    timing,
    target: target as unknown as Record<string, unknown>,
    ...splitContents(contents),
    templateId: template?.id ?? null,
    topicId: target.kind === 'topic' ? target.topic_id : null,
    scheduleId: meta.scheduleId ?? null,
    occurrenceAt: meta.occurrenceAt ?? null,
  });
}

/**
 * For a committed notification: moves fcms_notifications_accepted_total and logs the first line of its story,
 * with the device count when the target names its devices (other targets are counted at fan-out), then the
 * fan-out's lines when it was done in the accepting transaction, as the fan-out job logs them.
 */
export function reportAccepted(deps: ServiceDeps, { notification, fanout }: Accepted): void {
  const target = notification.target as { kind?: unknown; device_ids?: unknown; targets?: unknown };
  const kind = typeof target.kind === 'string' ? target.kind : 'unknown';
  deps.metrics.notificationAccepted(kind, notification.status);
  deps.logger.info(
    {
      notification_id: notification.id,
      request_id: notification.requestId ?? undefined,
      client_id: notification.apiClientId,
      target: kind,
      ...(Array.isArray(target.device_ids) ? { devices: target.device_ids.length } : {}),
      ...(typeof target.targets === 'number' ? { recipients: target.targets } : {}),
      ...(notification.scheduleId ? { schedule_id: notification.scheduleId } : {}),
    },
    'notification accepted',
  );
  if (!fanout?.done) return;
  const log = deps.logger.child({
    notification_id: notification.id,
    request_id: notification.requestId ?? undefined,
  });
  log.info({ deliveries: fanout.deliveries, pages: fanout.pages }, 'fan-out done');
  if (fanout.finished) logCompleted(log, fanout.finished);
}

export interface BulkTarget {
  phone_number?: string | undefined;
  profile_id?: string | undefined;
  external_id?: string | undefined;
  device_id?: string | undefined;
  variables?: Record<string, string> | undefined;
  data?: Record<string, string> | undefined;
}

export type BulkBody = ContentInput &
  ControlInput & {
    targets: BulkTarget[];
    template?: string | undefined;
    variables?: Record<string, string> | undefined;
    filters?: SegmentFilters | undefined;
  };

export type TargetStatus = 'accepted' | 'invalid' | 'not_found' | 'no_devices';

export interface TargetResult {
  index: number;
  status: TargetStatus;
  /** Why a target was not accepted. */
  reason?: string;
  details?: ErrorDetail[];
  profile_id?: string;
  device_id?: string;
  /** Devices this target reaches (after filters). */
  devices?: number;
}

export interface BulkOutcome {
  notification: NotificationRow;
  results: TargetResult[];
}

type Key =
  | { kind: 'phone'; value: string }
  | { kind: 'external'; value: string }
  | { kind: 'profile'; value: string }
  | { kind: 'device'; value: string };

/** Reads one bulk target's key; a bad one is that target's problem, never the whole request's. */
function keyOf(target: BulkTarget): Key | string {
  const given = (['phone_number', 'profile_id', 'external_id', 'device_id'] as const).filter(
    (k) => target[k] !== undefined,
  );
  if (given.length !== 1) return 'give exactly one of phone_number, profile_id, external_id, device_id';
  if (target.phone_number !== undefined) {
    try {
      return { kind: 'phone', value: normalizePhoneNumber(target.phone_number) };
    } catch (error) {
      return (error as Error).message;
    }
  }
  if (target.external_id !== undefined) return { kind: 'external', value: target.external_id };
  const id = (target.profile_id ?? target.device_id)!;
  if (!UUID_PATTERN.test(id)) return `${given[0]} must be a UUID`;
  return { kind: target.profile_id !== undefined ? 'profile' : 'device', value: id.toLowerCase() };
}

/**
 * Accepts a bulk send: one notification for every target, each target resolved and reported on its own (a bad
 * target never fails the others). Targets with their own variables or data get their own rendered contents.
 */
export async function acceptBulk(
  deps: ServiceDeps,
  tenantId: string,
  body: BulkBody,
  meta: SendMeta,
): Promise<BulkOutcome> {
  const filters = deviceFilters(body.filters);
  const controls = controlsOf(deps, body, meta);
  const outcome = await deps.db.transaction(async (tx) => {
    const template = await loadTemplate(tx, tenantId, body);
    let shared: Contents | AppError | undefined;
    const sharedContents = (): Contents | AppError => {
      if (shared === undefined) {
        try {
          shared = buildContents(template, body);
        } catch (error) {
          // Variables missing from the shared set may still come with each target; anything else is the request's.
          if (!(error instanceof AppError) || error.code !== 'missing_variables') throw error;
          shared = error;
        }
      }
      return shared;
    };

    const keys = body.targets.map(keyOf);
    const wanted = (kind: Key['kind']) =>
      keys.flatMap((k) => (typeof k !== 'string' && k.kind === kind ? [k.value] : []));
    const profiles = await findProfilesForTargets(
      tx,
      tenantId,
      { phoneNumbers: wanted('phone'), externalIds: wanted('external'), ids: wanted('profile') },
      filters,
    );
    const devices = await findDevicesForTargets(tx, tenantId, wanted('device'), filters);
    const byPhone = new Map(profiles.filter((p) => p.phone_number).map((p) => [p.phone_number!, p]));
    const byExternal = new Map(profiles.filter((p) => p.external_id).map((p) => [p.external_id!, p]));
    const byId = new Map(profiles.map((p) => [p.id, p]));
    const deviceById = new Map(devices.map((d) => [d.id, d]));

    const results: TargetResult[] = [];
    const recipients: Parameters<typeof insertRecipients>[2] = [];
    let firstContents: Contents | undefined;
    body.targets.forEach((target, index) => {
      const key = keys[index]!;
      if (typeof key === 'string') {
        results.push({ index, status: 'invalid', reason: key });
        return;
      }
      let profileId: string | null = null;
      let deviceId: string | null = null;
      let reach = 0;
      if (key.kind === 'device') {
        const device = deviceById.get(key.value);
        if (!device) {
          results.push({ index, status: 'not_found', reason: 'no such device' });
          return;
        }
        deviceId = device.id;
        reach = device.reachable ? 1 : 0;
      } else {
        const map = key.kind === 'phone' ? byPhone : key.kind === 'external' ? byExternal : byId;
        const profile = map.get(key.value);
        if (!profile) {
          results.push({ index, status: 'not_found', reason: 'no such profile' });
          return;
        }
        profileId = profile.id;
        reach = profile.reachable;
      }
      const ids = {
        ...(profileId ? { profile_id: profileId } : {}),
        ...(deviceId ? { device_id: deviceId } : {}),
      };
      if (reach === 0) {
        results.push({ index, status: 'no_devices', reason: 'no active device matches', ...ids });
        return;
      }
      const own = target.variables !== undefined || target.data !== undefined;
      let contents: Contents;
      try {
        const built = own ? buildContents(template, body, target) : sharedContents();
        if (built instanceof AppError) throw built;
        contents = built;
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        results.push({ index, status: 'invalid', reason: error.message, details: error.details, ...ids });
        return;
      }
      firstContents ??= contents;
      results.push({ index, status: 'accepted', devices: reach, ...ids });
      recipients.push({
        seq: index,
        profileId,
        deviceId,
        contents: own ? (contents as unknown as Recipient) : null,
      });
    });

    if (!firstContents) {
      throw new AppError(
        'no_deliverable_targets',
        422,
        'none of the targets can receive this notification',
        results
          .slice(0, 100)
          .map((r) => ({ field: `targets[${r.index}]`, message: `${r.status}: ${r.reason}` })),
      );
    }
    const common = sharedContents();
    const timing = await timingOf(deps, tx, tenantId, body, firstContents, meta);
    const { notification } = await writeNotification(deps, tx, tenantId, body.firebase_project_id, meta, {
      ...controls,
      timing,
      target: {
        kind: 'bulk',
        targets: body.targets.length,
        ...(body.filters ? { filters: body.filters } : {}),
      },
      ...splitContents(common instanceof AppError ? firstContents : common),
      templateId: template?.id ?? null,
    });
    // Same transaction as the fan-out job, so the job never runs before its recipients exist.
    await insertRecipients(tx, notification.id, recipients);
    return { notification, results };
  });
  reportAccepted(deps, { notification: outcome.notification });
  return outcome;
}

type Recipient = Record<string, Record<string, unknown>>;

/** Where a preview's device token goes: the real one is each device's own, known only at send time. */
export const PREVIEW_TOKEN = '<device token>';

/**
 * The FCM v1 message each platform would receive for a send's content (a template rendered with its variables,
 * the variant for `locale`), checked as a send is: what previews is what sends. The token is PREVIEW_TOKEN;
 * the receipt fields each real message also carries (fcms_delivery_id, fcms_receipt) are left out.
 */
export async function previewSend(
  deps: ServiceDeps,
  tenantId: string,
  body: PreviewBody,
): Promise<{ messages: Record<Platform, Record<string, unknown>> }> {
  const template = await loadTemplate(deps.db, tenantId, body);
  const content = pickVariant(buildContents(template, body), body.locale);
  const render = (platform: Platform): Record<string, unknown> => ({
    ...renderMessage(content, { platform, token: PREVIEW_TOKEN }),
  });
  const messages = Object.fromEntries(PLATFORMS.map((platform) => [platform, render(platform)]));
  return { messages: messages as Record<Platform, Record<string, unknown>> };
}
