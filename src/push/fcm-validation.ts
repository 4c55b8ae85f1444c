/** The checks FCM v1 makes on a messages:send body, with messages close to FCM's own wording. */

const MAX_PAYLOAD_BYTES = 4096;
const MESSAGE_FIELDS = new Set([
  'name',
  'data',
  'notification',
  'android',
  'webpush',
  'apns',
  'fcm_options',
  'token',
  'topic',
  'condition',
]);
const BODY_FIELDS = new Set(['message', 'validate_only']);
/** Field names of the proto messages FCM parses strictly (webpush.notification and apns.payload are free JSON). */
const ANDROID_FIELDS = new Set([
  'collapse_key',
  'priority',
  'ttl',
  'restricted_package_name',
  'data',
  'notification',
  'fcm_options',
  'direct_boot_ok',
  'bandwidth_constrained_ok',
  'restricted_satellite_ok',
]);
const ANDROID_NOTIFICATION_FIELDS = new Set([
  'title',
  'body',
  'icon',
  'color',
  'sound',
  'tag',
  'click_action',
  'body_loc_key',
  'body_loc_args',
  'title_loc_key',
  'title_loc_args',
  'channel_id',
  'ticker',
  'sticky',
  'event_time',
  'local_only',
  'notification_priority',
  'default_sound',
  'default_vibrate_timings',
  'default_light_settings',
  'vibrate_timings',
  'visibility',
  'notification_count',
  'light_settings',
  'image',
  'bypass_proxy_notification',
  'proxy',
]);
const APNS_FIELDS = new Set(['headers', 'payload', 'fcm_options', 'live_activity_token']);
const WEBPUSH_FIELDS = new Set(['headers', 'data', 'notification', 'fcm_options']);
const NOTIFICATION_FIELDS = new Set(['title', 'body', 'image']);
const RESERVED_KEYS = new Set(['from', 'notification', 'message_type']);
const RESERVED_PREFIXES = ['google.', 'gcm.'];

export interface ValidRequest {
  message: Record<string, unknown>;
  validateOnly: boolean;
  /** Which of token / topic / condition the message targets, and its value. */
  target: { kind: 'token' | 'topic' | 'condition'; value: string };
}

/** Returns the parsed request, or the INVALID_ARGUMENT message FCM would answer with. */
export function validateSendRequest(rawBody: string): ValidRequest | { error: string } {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { error: `Invalid JSON payload received. ${reason}` };
  }
  if (!isObject(body)) return { error: 'Invalid JSON payload received. Expected an object.' };
  for (const key of Object.keys(body)) {
    if (!BODY_FIELDS.has(key)) return { error: unknownName(key, '') };
  }
  if (body.validate_only !== undefined && typeof body.validate_only !== 'boolean') {
    return { error: `Invalid value at 'validate_only' (TYPE_BOOL), ${JSON.stringify(body.validate_only)}` };
  }
  const message = body.message;
  if (!isObject(message)) return { error: 'Recipient of the message is not set.' };
  for (const key of Object.keys(message)) {
    if (!MESSAGE_FIELDS.has(key)) return { error: unknownName(key, 'message') };
  }

  const targets = (['token', 'topic', 'condition'] as const).filter((kind) => message[kind] !== undefined);
  if (targets.length === 0) return { error: 'Recipient of the message is not set.' };
  if (targets.length > 1) {
    return {
      error: `Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '${targets[1]}'`,
    };
  }
  const kind = targets[0]!;
  const value = message[kind];
  if (typeof value !== 'string' || value === '') {
    return { error: `Invalid value at 'message.${kind}' (TYPE_STRING), ${JSON.stringify(value)}` };
  }
  if (kind === 'topic' && !/^[a-zA-Z0-9-_.~%]+$/.test(value.replace(/^\/topics\//, ''))) {
    return { error: 'Invalid topic name.' };
  }

  const problem =
    checkStringMap(message.data, 'message.data', true) ??
    checkFieldNames(message.notification, NOTIFICATION_FIELDS, 'message.notification') ??
    checkStringFields(message.notification, 'message.notification') ??
    checkAndroid(message.android) ??
    checkApns(message.apns) ??
    checkWebpush(message.webpush) ??
    checkStringFields(message.fcm_options, 'message.fcm_options');
  if (problem) return { error: problem };

  const size = Buffer.byteLength(JSON.stringify({ message }), 'utf8');
  if (size > MAX_PAYLOAD_BYTES) {
    return { error: `Message is too big: ${size} bytes, the maximum is ${MAX_PAYLOAD_BYTES} bytes.` };
  }
  return { message, validateOnly: body.validate_only === true, target: { kind, value } };
}

function checkAndroid(android: unknown): string | undefined {
  if (android === undefined) return undefined;
  if (!isObject(android)) return typeError('message.android', 'TYPE_MESSAGE', android);
  const unknown =
    checkFieldNames(android, ANDROID_FIELDS, 'message.android') ??
    checkFieldNames(android.notification, ANDROID_NOTIFICATION_FIELDS, 'message.android.notification');
  if (unknown) return unknown;
  if (android.priority !== undefined && android.priority !== 'NORMAL' && android.priority !== 'HIGH') {
    return `Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), ${JSON.stringify(android.priority)}`;
  }
  if (android.ttl !== undefined && (typeof android.ttl !== 'string' || !/^\d+(\.\d+)?s$/.test(android.ttl))) {
    return `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Illegal duration format; duration must end with 's'`;
  }
  for (const key of ['collapse_key', 'restricted_package_name'] as const) {
    if (android[key] !== undefined && typeof android[key] !== 'string') {
      return typeError(`message.android.${key}`, 'TYPE_STRING', android[key]);
    }
  }
  return (
    checkStringMap(android.data, 'message.android.data', true) ??
    (android.notification === undefined || isObject(android.notification)
      ? undefined
      : typeError('message.android.notification', 'TYPE_MESSAGE', android.notification))
  );
}

function checkApns(apns: unknown): string | undefined {
  if (apns === undefined) return undefined;
  if (!isObject(apns)) return typeError('message.apns', 'TYPE_MESSAGE', apns);
  const unknown = checkFieldNames(apns, APNS_FIELDS, 'message.apns');
  if (unknown) return unknown;
  if (apns.payload !== undefined && !isObject(apns.payload)) {
    return typeError('message.apns.payload', 'TYPE_MESSAGE', apns.payload);
  }
  return (
    checkStringMap(apns.headers, 'message.apns.headers', false) ??
    checkStringFields(apns.fcm_options, 'message.apns.fcm_options')
  );
}

function checkWebpush(webpush: unknown): string | undefined {
  if (webpush === undefined) return undefined;
  if (!isObject(webpush)) return typeError('message.webpush', 'TYPE_MESSAGE', webpush);
  const unknown = checkFieldNames(webpush, WEBPUSH_FIELDS, 'message.webpush');
  if (unknown) return unknown;
  if (webpush.notification !== undefined && !isObject(webpush.notification)) {
    return typeError('message.webpush.notification', 'TYPE_MESSAGE', webpush.notification);
  }
  return (
    checkStringMap(webpush.headers, 'message.webpush.headers', false) ??
    checkStringMap(webpush.data, 'message.webpush.data', true) ??
    checkStringFields(webpush.fcm_options, 'message.webpush.fcm_options')
  );
}

/** FCM answers INVALID_ARGUMENT for a field name its proto does not have. */
function checkFieldNames(value: unknown, known: ReadonlySet<string>, path: string): string | undefined {
  if (!isObject(value)) return undefined;
  const name = Object.keys(value).find((key) => !known.has(key));
  return name === undefined ? undefined : unknownName(name, path);
}

/** A `map<string, string>`: FCM rejects any non-string value (and, for data, reserved keys). */
function checkStringMap(value: unknown, path: string, isData: boolean): string | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return typeError(path, 'TYPE_MESSAGE', value);
  for (const [index, [key, item]] of Object.entries(value).entries()) {
    if (typeof item !== 'string') return typeError(`${path}[${index}].value`, 'TYPE_STRING', item);
    if (isData && (RESERVED_KEYS.has(key) || RESERVED_PREFIXES.some((prefix) => key.startsWith(prefix)))) {
      return `Invalid data payload key: ${key}`;
    }
  }
  return undefined;
}

/** Blocks such as `notification` whose fields are all strings. */
function checkStringFields(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return typeError(path, 'TYPE_MESSAGE', value);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') return typeError(`${path}.${key}`, 'TYPE_STRING', item);
  }
  return undefined;
}

function typeError(path: string, type: string, value: unknown): string {
  return `Invalid value at '${path}' (${type}), ${JSON.stringify(value)}`;
}

function unknownName(key: string, at: string): string {
  return `Invalid JSON payload received. Unknown name ${JSON.stringify(key)}${at ? ` at '${at}'` : ''}: Cannot find field.`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
