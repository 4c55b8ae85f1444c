/**
 * The emulator's own judge of a messages:send body: the field model generated from Google's description of the
 * FCM v1 API (fcm-schema.generated.ts), plus the rules FCM documents beyond types, each next to the page that
 * states it. Deliberately independent of the sender's validator (src/push/fcm-validation.ts): a field the
 * sender renders wrongly must be caught here, not accepted by the same code twice.
 */
import { FCM_SCHEMAS, type FcmFieldType, type FcmSchemaName } from './fcm-schema.generated.ts';

export interface AcceptedRequest {
  message: Record<string, unknown>;
  validateOnly: boolean;
  /** Which of token / topic / condition the message targets, and its value. */
  target: { kind: 'token' | 'topic' | 'condition'; value: string };
}

/** Returns the accepted request, or the INVALID_ARGUMENT message FCM would answer with. */
export function judgeSendRequest(rawBody: string): AcceptedRequest | { error: string } {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch (error) {
    return { error: `Invalid JSON payload received. ${error instanceof Error ? error.message : error}` };
  }
  if (!isObject(body)) return { error: 'Invalid JSON payload received. Expected an object.' };
  const typeProblem = checkMessageType(body, 'SendMessageRequest', '');
  if (typeProblem) return { error: typeProblem };
  const message = field(body, 'message');
  if (!isObject(message)) return { error: 'Recipient of the message is not set.' };
  const outcome = checkRules(message);
  if (typeof outcome === 'string') return { error: outcome };
  return { message, validateOnly: field(body, 'validateOnly') === true, target: outcome };
}

/** A field by its JSON name, or by its proto name: FCM's JSON parser accepts both (`fcmOptions`, `fcm_options`). */
function field(object: Record<string, unknown>, jsonName: string): unknown {
  return object[jsonName] ?? object[snakeCase(jsonName)];
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The schema's types: unknown field names and values of the wrong JSON type are refused. */
function checkMessageType(
  object: Record<string, unknown>,
  schema: FcmSchemaName,
  path: string,
): string | undefined {
  const fields = FCM_SCHEMAS[schema];
  const byName = new Map<string, string>();
  for (const name of Object.keys(fields)) {
    byName.set(name, name);
    byName.set(snakeCase(name), name);
  }
  for (const [key, value] of Object.entries(object)) {
    const name = byName.get(key);
    if (name === undefined) {
      return `Invalid JSON payload received. Unknown name ${JSON.stringify(key)}${path ? ` at '${path}'` : ''}: Cannot find field.`;
    }
    // proto3 JSON: null is the field's default value.
    if (value === null) continue;
    const problem = checkValue(value, fields[name]!, path ? `${path}.${key}` : key);
    if (problem) return problem;
  }
  return undefined;
}

function checkValue(value: unknown, type: FcmFieldType, path: string): string | undefined {
  if (typeof type === 'object') {
    return isObject(value)
      ? checkMessageType(value, type.message, path)
      : invalid(path, 'TYPE_MESSAGE', value);
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? undefined : invalid(path, 'TYPE_STRING', value);
    case 'boolean':
      return typeof value === 'boolean' ? undefined : invalid(path, 'TYPE_BOOL', value);
    case 'number':
      // proto3 JSON takes a number, or a string holding one.
      return (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        ? undefined
        : invalid(path, 'TYPE_NUMBER', value);
    case 'string[]':
      if (!Array.isArray(value)) return invalid(path, 'TYPE_STRING', value);
      for (const [index, item] of value.entries()) {
        if (typeof item !== 'string') return invalid(`${path}[${index}]`, 'TYPE_STRING', item);
      }
      return undefined;
    case 'map<string,string>':
      if (!isObject(value)) return invalid(path, 'TYPE_MESSAGE', value);
      for (const [index, item] of Object.values(value).entries()) {
        if (typeof item !== 'string') return invalid(`${path}[${index}].value`, 'TYPE_STRING', item);
      }
      return undefined;
    case 'struct':
      return isObject(value) ? undefined : invalid(path, 'TYPE_MESSAGE', value);
  }
}

/** FCM's documented rules beyond the field types; returns the message's target or the refusal. */
function checkRules(message: Record<string, unknown>): AcceptedRequest['target'] | string {
  // "Union field target can be only one of: token, topic, condition" (`Message`): https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#Message
  const targets = (['token', 'topic', 'condition'] as const).filter((kind) => message[kind] != null);
  if (targets.length === 0 || message[targets[0]!] === '') return 'Recipient of the message is not set.';
  if (targets.length > 1) {
    return `Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '${targets[1]}'`;
  }
  const kind = targets[0]!;
  const value = message[kind] as string;
  // Topic names match [a-zA-Z0-9-_.~%]+, and "/topics/" should not be given (though FCM still accepts it):
  // https://firebase.google.com/docs/cloud-messaging/send/topic-messages and `Message.topic` at https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
  if (kind === 'topic' && !/^[a-zA-Z0-9\-_.~%]+$/.test(value.replace(/^\/topics\//, ''))) {
    return 'Invalid topic name.';
  }
  // A condition joins at most five topics with &&, || and ! (and parentheses):
  // https://firebase.google.com/docs/cloud-messaging/send/topic-messages
  if (kind === 'condition') {
    const problem = checkCondition(value);
    if (problem) return problem;
  }

  const problem =
    checkData(field(message, 'data'), 'message.data') ??
    checkAndroid(field(message, 'android')) ??
    checkApns(field(message, 'apns')) ??
    checkWebpush(field(message, 'webpush'));
  if (problem) return problem;

  // "Maximum payload for both message types is 4096 bytes":
  // https://firebase.google.com/docs/cloud-messaging/concept-options (the whole message, as FCM measures it)
  const size = Buffer.byteLength(JSON.stringify({ message }), 'utf8');
  if (size > 4096) return `Message is too big: ${size} bytes, the maximum is 4096 bytes.`;
  return { kind, value };
}

/**
 * "The key should not be a reserved word ("from", "message_type", or any word starting with "google." or
 * "gcm.notification.")" (`Message.data`): https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#Message
 */
function checkData(data: unknown, path: string): string | undefined {
  if (!isObject(data)) return undefined;
  for (const key of Object.keys(data)) {
    if (
      key === 'from' ||
      key === 'message_type' ||
      key.startsWith('google.') ||
      key.startsWith('gcm.notification.')
    ) {
      return `Invalid data payload key: ${key} (at '${path}')`;
    }
  }
  return undefined;
}

/** A protobuf Duration in JSON: seconds with an optional fraction of up to 9 digits, then "s". */
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
/** `ttl`: "The maximum time to live supported is 4 weeks" (`AndroidConfig.ttl`): https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#AndroidConfig */
const MAX_TTL_SECONDS = 4 * 7 * 24 * 3600;

function checkAndroid(android: unknown): string | undefined {
  if (!isObject(android)) return undefined;
  // `AndroidMessagePriority`: NORMAL or HIGH (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#AndroidMessagePriority).
  const priority = field(android, 'priority');
  if (priority != null && priority !== 'NORMAL' && priority !== 'HIGH') {
    return enumError('message.android.priority', 'AndroidMessagePriority', priority);
  }
  const ttl = field(android, 'ttl');
  if (ttl != null) {
    if (typeof ttl !== 'string' || !DURATION.test(ttl) || ttl.startsWith('-')) {
      return `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Illegal duration format; duration must end with 's'`;
    }
    if (Number.parseFloat(ttl) > MAX_TTL_SECONDS) {
      return `Invalid value at 'message.android.ttl': the maximum time to live is 4 weeks (${MAX_TTL_SECONDS}s).`;
    }
  }
  const dataProblem = checkData(field(android, 'data'), 'message.android.data');
  if (dataProblem) return dataProblem;
  const notification = field(android, 'notification');
  return isObject(notification) ? checkAndroidNotification(notification) : undefined;
}

/** The enums of `AndroidNotification` https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#NotificationPriority (#Visibility, #Proxy). */
const ANDROID_NOTIFICATION_ENUMS: Record<string, [string, readonly string[]]> = {
  notificationPriority: [
    'NotificationPriority',
    [
      'PRIORITY_UNSPECIFIED',
      'PRIORITY_MIN',
      'PRIORITY_LOW',
      'PRIORITY_DEFAULT',
      'PRIORITY_HIGH',
      'PRIORITY_MAX',
    ],
  ],
  visibility: ['Visibility', ['VISIBILITY_UNSPECIFIED', 'PRIVATE', 'PUBLIC', 'SECRET']],
  proxy: ['Proxy', ['PROXY_UNSPECIFIED', 'ALLOW', 'DENY', 'IF_PRIORITY_LOWERED']],
};

function checkAndroidNotification(notification: Record<string, unknown>): string | undefined {
  for (const [name, [enumName, values]] of Object.entries(ANDROID_NOTIFICATION_ENUMS)) {
    const value = field(notification, name);
    if (value != null && !values.includes(value as string)) {
      return enumError(`message.android.notification.${snakeCase(name)}`, enumName, value);
    }
  }
  // `color`: "in #rrggbb format" (`AndroidNotification.color`): https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#AndroidNotification
  const color = field(notification, 'color');
  if (typeof color === 'string' && !/^#[0-9a-fA-F]{6}$/.test(color)) {
    return `Invalid value at 'message.android.notification.color': expected #rrggbb, got ${JSON.stringify(color)}`;
  }
  // `eventTime` is a Timestamp: RFC 3339, "Z"-normalized (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#AndroidNotification).
  const eventTime = field(notification, 'eventTime');
  if (
    typeof eventTime === 'string' &&
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(eventTime)
  ) {
    return `Invalid value at 'message.android.notification.event_time' (type.googleapis.com/google.protobuf.Timestamp), ${JSON.stringify(eventTime)}`;
  }
  // `vibrateTimings` are Durations (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#AndroidNotification).
  const timings = field(notification, 'vibrateTimings');
  if (Array.isArray(timings) && timings.some((timing) => !DURATION.test(String(timing)))) {
    return `Invalid value at 'message.android.notification.vibrate_timings' (type.googleapis.com/google.protobuf.Duration), Illegal duration format; duration must end with 's'`;
  }
  return undefined;
}

function checkApns(apns: unknown): string | undefined {
  if (!isObject(apns)) return undefined;
  const headers = field(apns, 'headers');
  if (!isObject(headers)) return undefined;
  // apns-priority is 10, 5 or 1: https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
  // (the page `ApnsConfig.headers` refers to, https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#ApnsConfig).
  const priority = Object.entries(headers).find(([name]) => name.toLowerCase() === 'apns-priority')?.[1];
  if (priority !== undefined && !['10', '5', '1'].includes(priority as string)) {
    return `Invalid value at 'message.apns.headers' (apns-priority): ${JSON.stringify(priority)}; expected 10, 5 or 1`;
  }
  return undefined;
}

function checkWebpush(webpush: unknown): string | undefined {
  if (!isObject(webpush)) return undefined;
  const dataProblem = checkData(field(webpush, 'data'), 'message.webpush.data');
  if (dataProblem) return dataProblem;
  // `link`: "For all URL values, HTTPS is required" (`WebpushFcmOptions.link`): https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#WebpushFcmOptions
  const options = field(webpush, 'fcmOptions');
  const link = isObject(options) ? field(options, 'link') : undefined;
  if (typeof link === 'string' && !link.startsWith('https://')) {
    return `Invalid value at 'message.webpush.fcm_options.link': HTTPS is required, got ${JSON.stringify(link)}`;
  }
  return undefined;
}

/** `'a' in topics && ('b' in topics || !('c' in topics))`, at most five topics. */
function checkCondition(condition: string): string | undefined {
  const topics = [...condition.matchAll(/'([^']*)'\s+in\s+topics/g)].map((match) => match[1]!);
  const skeleton = condition
    .replace(/'[a-zA-Z0-9\-_.~%]+'\s+in\s+topics/g, 'T')
    .replace(/\s+/g, '')
    .replace(/&&|\|\|/g, '&');
  // Reduce the boolean skeleton: T, !T, (T), T&T… until one T remains, or the condition is malformed.
  let reduced = skeleton;
  for (let previous = ''; previous !== reduced; ) {
    previous = reduced;
    reduced = reduced.replace(/!T/g, 'T').replace(/\(T\)/g, 'T').replace(/T&T/g, 'T');
  }
  if (reduced !== 'T') return `Invalid condition expression provided: ${condition}`;
  if (topics.length > 5) return `Invalid condition: at most 5 topics, got ${topics.length}.`;
  return undefined;
}

/** The topics a condition mentions, and whether a set of subscriptions satisfies it. */
export function conditionMatches(condition: string, subscribed: ReadonlySet<string>): boolean {
  const expression = condition
    .replace(/'([a-zA-Z0-9\-_.~%]+)'\s+in\s+topics/g, (_, topic: string) =>
      subscribed.has(topic) ? '1' : '0',
    )
    .replace(/\s+/g, '');
  // Evaluate the reduced boolean expression of 0/1, !, &&, || and parentheses.
  let reduced = expression;
  for (let previous = ''; previous !== reduced; ) {
    previous = reduced;
    reduced = reduced
      .replace(/!0/g, '1')
      .replace(/!1/g, '0')
      .replace(/\(([01])\)/g, '$1')
      .replace(/([01])&&([01])/, (_, a: string, b: string) => (a === '1' && b === '1' ? '1' : '0'))
      .replace(/([01])\|\|([01])(?!&&)/, (_, a: string, b: string) => (a === '1' || b === '1' ? '1' : '0'));
  }
  return reduced === '1';
}

function enumError(path: string, enumName: string, value: unknown): string {
  return `Invalid value at '${path}' (type.googleapis.com/google.firebase.fcm.v1.${enumName}), ${JSON.stringify(value)}`;
}

function invalid(path: string, type: string, value: unknown): string {
  return `Invalid value at '${path}' (${type}), ${JSON.stringify(value)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
