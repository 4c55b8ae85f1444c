/**
 * The emulator judges messages with its own model, derived from Google's description of the FCM v1 API
 * (@googleapis/fcm), never with the sender's validator: the generated model matches the installed schema, and
 * where the two judges disagree the emulator follows FCM's documentation (each case says which page).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  declarationsPath,
  installedVersion,
  parseSchemas,
  reachableSchemas,
} from '../scripts/emulator-fcm-schema.ts';
import type { Emulator } from '../src/emulator/emulator.ts';
import { FCM_SCHEMA_VERSION, FCM_SCHEMAS } from '../src/emulator/fcm-schema.generated.ts';
import { conditionMatches } from '../src/emulator/message-model.ts';
import { validateSendRequest } from '../src/push/fcm-validation.ts';
import { emulatorWithToken } from './emulator-client.ts';

describe("the emulator's field model", () => {
  it('lists the same types, fields and field types as @googleapis/fcm (run scripts/emulator-fcm-schema.ts)', () => {
    const fromGoogle = reachableSchemas(parseSchemas(readFileSync(declarationsPath(), 'utf8')));
    expect(FCM_SCHEMAS).toEqual(fromGoogle);
    expect(FCM_SCHEMA_VERSION).toBe(installedVersion());
    // The model is not empty by accident: Message and its platform blocks are there with their fields.
    expect(Object.keys(FCM_SCHEMAS.Message)).toEqual(
      expect.arrayContaining([
        'token',
        'topic',
        'condition',
        'data',
        'android',
        'apns',
        'webpush',
        'fcmOptions',
      ]),
    );
    expect(FCM_SCHEMAS.AndroidNotification.notificationCount).toBe('number');
  });
});

let emulator: Emulator;
let accessToken: string;

beforeAll(async () => {
  ({ emulator, accessToken } = await emulatorWithToken('judge'));
});

afterAll(() => emulator.close());

async function emulatorStatus(message: Record<string, unknown>): Promise<number> {
  const response = await fetch(`${emulator.url}/v1/projects/judge/messages:send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ message, validate_only: true }),
  });
  return response.status;
}

const senderAccepts = (message: Record<string, unknown>) =>
  !('error' in validateSendRequest(JSON.stringify({ message })));

describe('where the emulator and the sender disagree, the emulator follows FCM', () => {
  it.each([
    // proto3 JSON accepts lowerCamelCase names as well as the proto's (https://protobuf.dev/programming-guides/json/)
    ['camelCase field names', { token: 't', fcmOptions: { analyticsLabel: 'x' } }],
    // Reserved data keys are "from", "message_type", "google.*" and "gcm.notification.*" only
    // (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#Message)
    ['the data key "notification"', { token: 't', data: { notification: 'yes' } }],
    ['a data key starting "gcm." but not "gcm.notification."', { token: 't', data: { 'gcm.custom': '1' } }],
  ])('the emulator accepts %s, which the sender refuses', async (_case, message) => {
    expect(senderAccepts(message)).toBe(false);
    expect(await emulatorStatus(message)).toBe(200);
  });

  it.each([
    // "The maximum time to live supported is 4 weeks" (#AndroidConfig)
    ['a ttl over 4 weeks', { token: 't', android: { ttl: '2419201s' } }],
    // "For all URL values, HTTPS is required" (#WebpushFcmOptions)
    ['a webpush link over http', { token: 't', webpush: { fcm_options: { link: 'http://example.com' } } }],
    // Visibility is PRIVATE, PUBLIC or SECRET (#Visibility)
    ['an unknown android visibility', { token: 't', android: { notification: { visibility: 'LOUD' } } }],
    // color is #rrggbb (#AndroidNotification)
    ['an android color by name', { token: 't', android: { notification: { color: 'red' } } }],
    // notification_count is an int32 (#AndroidNotification)
    [
      'a notification_count that is no number',
      { token: 't', android: { notification: { notification_count: 'x' } } },
    ],
    // apns-priority is 10, 5 or 1 (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns)
    ['an apns-priority of 7', { token: 't', apns: { headers: { 'apns-priority': '7' } } }],
    // A condition names at most five topics (https://firebase.google.com/docs/cloud-messaging/send/topic-messages)
    [
      'a condition over six topics',
      { condition: ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => `'${t}' in topics`).join(' || ') },
    ],
    // Google's schema has no such AndroidConfig field (@googleapis/fcm)
    [
      'an AndroidConfig field Google does not describe',
      { token: 't', android: { restricted_satellite_ok: true } },
    ],
  ])('the emulator refuses %s, which the sender accepts', async (_case, message) => {
    expect(senderAccepts(message)).toBe(true);
    expect(await emulatorStatus(message)).toBe(400);
  });
});

describe('condition matching for topic fan-out', () => {
  it.each([
    ["'a' in topics && 'b' in topics", ['a', 'b'], true],
    ["'a' in topics && 'b' in topics", ['a'], false],
    ["'a' in topics || 'b' in topics && 'c' in topics", ['a'], true],
    ["('a' in topics || 'b' in topics) && 'c' in topics", ['a'], false],
    ["!('a' in topics) && 'b' in topics", ['b'], true],
    ["!('a' in topics) && 'b' in topics", ['a', 'b'], false],
  ])('%s with %j → %s', (condition, topics, expected) => {
    expect(conditionMatches(condition, new Set(topics))).toBe(expected);
  });
});
