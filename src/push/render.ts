/** Turns platform-independent notification content into the FCM HTTP v1 message for one device. */
import { createHash } from 'node:crypto';
import type { NotificationContent } from '../domain/content.ts';
import type { Platform } from '../domain/platform.ts';
import { validateSendRequest } from './fcm-validation.ts';
import type { FcmMessage } from './push-provider.ts';

/** FCM rejects messages whose payload exceeds this many bytes. */
export const FCM_MAX_PAYLOAD_BYTES = 4096;

/** Data keys FCM reserves for itself (exact names); keys starting with a reserved prefix are rejected too. */
export const RESERVED_DATA_KEYS: readonly string[] = ['from', 'notification', 'message_type'];
export const RESERVED_DATA_KEY_PREFIXES: readonly string[] = ['google.', 'gcm.'];

export interface RenderOptions {
  /** Clock for `apns-expiration` (an absolute time); defaults to now. */
  now?: Date;
}

/** Renders the FCM v1 `Message` for one device, with only the block of the device's platform. */
export function renderMessage(
  content: NotificationContent,
  device: { platform: Platform; token: string },
  extraData?: Record<string, string>,
  options: RenderOptions = {},
): FcmMessage {
  const message: FcmMessage = { token: device.token };
  if (!content.silent) {
    const notification = compact({ title: content.title, body: content.body, image: content.imageUrl });
    if (notification) message.notification = notification;
  }
  const data: Record<string, string> = { ...content.data, ...actionData(content), ...extraData };
  if (Object.keys(data).length > 0) message.data = data;

  const overrides = content.overrides ?? {};
  if (device.platform === 'android') {
    const android = withOverride(renderAndroid(content), overrides.android);
    if (android) message.android = android;
  } else if (device.platform === 'ios') {
    const apns = withOverride(renderApns(content, options.now ?? new Date()), overrides.apns);
    if (apns) message.apns = apns;
  } else {
    const webpush = withOverride(renderWebpush(content), overrides.webpush);
    if (webpush) message.webpush = webpush;
  }

  if (content.analyticsLabel) message.fcm_options = { analytics_label: content.analyticsLabel };
  return message;
}

function renderAndroid(content: NotificationContent): FcmMessage['android'] {
  const notification = content.silent
    ? undefined
    : compact({
        channel_id: content.androidChannelId,
        sound: content.sound,
        click_action: content.clickAction,
        image: content.imageUrl,
      });
  return compact({
    priority: content.priority === 'high' ? 'HIGH' : 'NORMAL',
    ttl: content.ttlSeconds === undefined ? undefined : `${content.ttlSeconds}s`,
    collapse_key: content.collapseKey,
    notification,
  });
}

function renderApns(content: NotificationContent, now: Date): FcmMessage['apns'] {
  const silent = content.silent === true;
  const headers = compact({
    // Apple rejects priority 10 for background pushes; they must be sent with 5.
    'apns-priority': content.priority === 'high' && !silent ? '10' : '5',
    'apns-push-type': silent ? 'background' : 'alert',
    'apns-collapse-id': content.collapseKey,
    'apns-expiration': apnsExpiration(content.ttlSeconds, now),
  });
  // A background push may carry only content-available (Apple's rule), so sound, badge and images are dropped.
  const aps = silent
    ? { 'content-available': 1 }
    : compact({
        sound: content.sound,
        badge: content.badge,
        'mutable-content': content.imageUrl ? 1 : undefined,
        category: content.clickAction,
      });
  const fcmOptions = silent ? undefined : compact({ image: content.imageUrl });
  return compact({ headers, payload: aps ? { aps } : undefined, fcm_options: fcmOptions });
}

/** `0` asks APNs to try once and not store the notification; otherwise an absolute unix time in seconds. */
function apnsExpiration(ttlSeconds: number | undefined, now: Date): string | undefined {
  if (ttlSeconds === undefined) return undefined;
  if (ttlSeconds === 0) return '0';
  return String(Math.floor(now.getTime() / 1000) + ttlSeconds);
}

function renderWebpush(content: NotificationContent): FcmMessage['webpush'] {
  const headers = compact({
    Urgency: content.priority === 'high' ? 'high' : 'normal',
    TTL: content.ttlSeconds === undefined ? undefined : String(content.ttlSeconds),
    Topic: content.collapseKey === undefined ? undefined : webpushTopic(content.collapseKey),
  });
  const notification = content.silent
    ? undefined
    : compact<unknown>({
        title: content.title,
        body: content.body,
        image: content.imageUrl,
        actions: content.actions?.map((a) => compact({ action: a.id, title: a.title, icon: a.icon })),
      });
  const fcmOptions = compact({ link: content.link });
  return compact({ headers, notification, fcm_options: fcmOptions });
}

/** Action buttons as data for the apps (FCM has no cross-platform field for them). */
function actionData(content: NotificationContent): Record<string, string> {
  if (!content.actions || content.actions.length === 0 || content.silent) return {};
  // Fixed key order: stored content is JSONB, which does not keep the request's order.
  const actions = content.actions.map((a) =>
    compact({ id: a.id, title: a.title, link: a.link, icon: a.icon }),
  );
  return { fcms_actions: JSON.stringify(actions) };
}

type Block = Record<string, unknown>;
const isBlock = (value: unknown): value is Block =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Deep-merges a tenant's raw FCM block over the rendered one: objects merge, anything else replaces. */
export function withOverride<T extends Block>(
  rendered: T | undefined,
  override: Block | undefined,
): T | undefined {
  if (!override || Object.keys(override).length === 0) return rendered;
  return mergeBlocks(rendered ?? {}, override) as T;
}

function mergeBlocks(base: Block, over: Block): Block {
  const out: Block = { ...base };
  for (const [key, value] of Object.entries(over)) {
    // Prototype keys from JSON input must not reach Object.prototype.
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    const current = out[key];
    out[key] = isBlock(current) && isBlock(value) ? mergeBlocks(current, value) : value;
  }
  return out;
}

/**
 * Web Push `Topic` must be at most 32 characters of the URL-safe base64 alphabet (RFC 8030). A key that already
 * fits is kept; any other becomes a hash of it, so the same collapse key always maps to the same topic.
 */
export function webpushTopic(collapseKey: string): string {
  if (/^[A-Za-z0-9_-]{1,32}$/.test(collapseKey)) return collapseKey;
  return createHash('sha256').update(collapseKey).digest('base64url').slice(0, 32);
}

/** Bytes FCM counts for the message: the UTF-8 length of the request body `{"message": …}`. */
export function messageSize(msg: FcmMessage): number {
  return Buffer.byteLength(JSON.stringify({ message: msg }), 'utf8');
}

export interface ContentProblem {
  /** Dotted path of the offending field, e.g. `data.from`. */
  field: string;
  message: string;
}

/** A token as long as the longest FCM tokens seen in practice, so size checks are not optimistic. */
const PLACEHOLDER_TOKEN = 'x'.repeat(200);

/**
 * Lists what FCM would reject in this content, so the API can refuse it before anything is queued.
 * `extraData` is what the send path adds to every message (ids), so the size check counts it.
 */
export function validateContentForFcm(
  content: NotificationContent,
  extraData?: Record<string, string>,
): ContentProblem[] {
  const problems: ContentProblem[] = [];
  for (const [key, value] of Object.entries(content.data ?? {})) {
    const field = `data.${key}`;
    if (typeof value !== 'string') {
      problems.push({
        field,
        message: `data values must be strings, got ${value === null ? 'null' : typeof value}`,
      });
    }
    if (RESERVED_DATA_KEYS.includes(key)) {
      problems.push({ field, message: `"${key}" is a reserved FCM data key` });
    } else if (RESERVED_DATA_KEY_PREFIXES.some((prefix) => key.startsWith(prefix))) {
      problems.push({
        field,
        message: `data keys must not start with ${RESERVED_DATA_KEY_PREFIXES.join(' or ')}`,
      });
    }
  }
  if (problems.length > 0) return problems;

  const platforms: Platform[] = ['android', 'ios', 'web'];
  let largest = 0;
  for (const platform of platforms) {
    const message = renderMessage(content, { platform, token: PLACEHOLDER_TOKEN }, extraData);
    largest = Math.max(largest, messageSize(message));
    // Overrides are raw FCM: check the result the way FCM will (types, field names, reserved keys).
    const verdict = validateSendRequest(JSON.stringify({ message }));
    if ('error' in verdict && !/too big/.test(verdict.error)) {
      problems.push({ field: `platform_overrides (${platform})`, message: verdict.error });
    }
  }
  if (largest > FCM_MAX_PAYLOAD_BYTES) {
    problems.push({
      field: 'content',
      message: `the FCM message would be ${largest} bytes; FCM accepts at most ${FCM_MAX_PAYLOAD_BYTES}`,
    });
  }
  return problems;
}

/** Drops undefined values; returns undefined when nothing is left, so empty blocks vanish from the JSON. */
function compact<V>(record: Record<string, V | undefined>): Record<string, V> | undefined {
  const out: Record<string, V> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value !== undefined && value !== '') out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
