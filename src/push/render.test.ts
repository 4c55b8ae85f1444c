import { describe, expect, it } from 'vitest';
import type { NotificationContent } from '../domain/content.ts';
import { messageSize, renderMessage, validateContentForFcm, webpushTopic } from './render.ts';

const now = new Date('2026-11-25T12:00:00Z');
const nowSeconds = Math.floor(now.getTime() / 1000);

const content: NotificationContent = {
  title: 'Your order shipped',
  body: 'It arrives on Friday',
  data: { order_id: '42' },
  imageUrl: 'https://cdn.example.com/box.png',
  priority: 'high',
  ttlSeconds: 3600,
  collapseKey: 'order-42',
  sound: 'default',
  badge: 3,
  androidChannelId: 'orders',
  clickAction: 'OPEN_ORDER',
  link: 'https://shop.example.com/orders/42',
  analyticsLabel: 'shipping',
};
const extra = { notification_id: 'n-1' };

describe('renderMessage', () => {
  it('renders the android block', () => {
    const message = renderMessage(content, { platform: 'android', token: 'tok-a' }, extra, { now });
    expect(JSON.parse(JSON.stringify(message))).toStrictEqual({
      token: 'tok-a',
      notification: {
        title: 'Your order shipped',
        body: 'It arrives on Friday',
        image: 'https://cdn.example.com/box.png',
      },
      data: { order_id: '42', notification_id: 'n-1' },
      android: {
        priority: 'HIGH',
        ttl: '3600s',
        collapse_key: 'order-42',
        notification: {
          channel_id: 'orders',
          sound: 'default',
          click_action: 'OPEN_ORDER',
          image: 'https://cdn.example.com/box.png',
        },
      },
      fcm_options: { analytics_label: 'shipping' },
    });
  });

  it('renders the apns block', () => {
    const message = renderMessage(content, { platform: 'ios', token: 'tok-i' }, extra, { now });
    expect(JSON.parse(JSON.stringify(message))).toStrictEqual({
      token: 'tok-i',
      notification: {
        title: 'Your order shipped',
        body: 'It arrives on Friday',
        image: 'https://cdn.example.com/box.png',
      },
      data: { order_id: '42', notification_id: 'n-1' },
      apns: {
        headers: {
          'apns-priority': '10',
          'apns-push-type': 'alert',
          'apns-collapse-id': 'order-42',
          'apns-expiration': String(nowSeconds + 3600),
        },
        payload: { aps: { sound: 'default', badge: 3, 'mutable-content': 1, category: 'OPEN_ORDER' } },
        fcm_options: { image: 'https://cdn.example.com/box.png' },
      },
      fcm_options: { analytics_label: 'shipping' },
    });
  });

  it('renders the webpush block', () => {
    const message = renderMessage(content, { platform: 'web', token: 'tok-w' }, extra, { now });
    expect(JSON.parse(JSON.stringify(message))).toStrictEqual({
      token: 'tok-w',
      notification: {
        title: 'Your order shipped',
        body: 'It arrives on Friday',
        image: 'https://cdn.example.com/box.png',
      },
      data: { order_id: '42', notification_id: 'n-1' },
      webpush: {
        headers: { Urgency: 'high', TTL: '3600', Topic: 'order-42' },
        notification: {
          title: 'Your order shipped',
          body: 'It arrives on Friday',
          image: 'https://cdn.example.com/box.png',
        },
        fcm_options: { link: 'https://shop.example.com/orders/42' },
      },
      fcm_options: { analytics_label: 'shipping' },
    });
  });

  it('renders a silent push as data only on every platform', () => {
    const silent: NotificationContent = { ...content, silent: true, priority: 'high' };
    const ios = renderMessage(silent, { platform: 'ios', token: 't' }, undefined, { now });
    expect(ios).toStrictEqual({
      token: 't',
      data: { order_id: '42' },
      apns: {
        headers: {
          'apns-priority': '5',
          'apns-push-type': 'background',
          'apns-collapse-id': 'order-42',
          'apns-expiration': String(nowSeconds + 3600),
        },
        payload: { aps: { 'content-available': 1 } },
      },
      fcm_options: { analytics_label: 'shipping' },
    });
    const android = renderMessage(silent, { platform: 'android', token: 't' });
    expect(android.notification).toBeUndefined();
    expect(android.android).toStrictEqual({ priority: 'HIGH', ttl: '3600s', collapse_key: 'order-42' });
    const web = renderMessage(silent, { platform: 'web', token: 't' });
    expect(web.notification).toBeUndefined();
    expect(web.webpush?.notification).toBeUndefined();
  });

  it('omits every key that has no value', () => {
    const minimal = renderMessage({ priority: 'normal' }, { platform: 'ios', token: 't' });
    expect(minimal).toStrictEqual({
      token: 't',
      apns: { headers: { 'apns-priority': '5', 'apns-push-type': 'alert' } },
    });
    expect(renderMessage({ priority: 'normal' }, { platform: 'android', token: 't' })).toStrictEqual({
      token: 't',
      android: { priority: 'NORMAL' },
    });
    expect(
      renderMessage({ priority: 'normal', ttlSeconds: 0 }, { platform: 'ios', token: 't' }).apns?.headers,
    ).toEqual({ 'apns-priority': '5', 'apns-push-type': 'alert', 'apns-expiration': '0' });
  });
});

describe('webpushTopic', () => {
  it('keeps a valid key and hashes any other deterministically to 32 URL-safe characters', () => {
    expect(webpushTopic('order-42')).toBe('order-42');
    const hashed = webpushTopic('order #42 / a key longer than thirty-two characters');
    expect(hashed).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(webpushTopic('order #42 / a key longer than thirty-two characters')).toBe(hashed);
    expect(webpushTopic('order #43 / a key longer than thirty-two characters')).not.toBe(hashed);
  });
});

describe('validateContentForFcm', () => {
  it('accepts ordinary content', () => {
    expect(validateContentForFcm(content, extra)).toEqual([]);
  });

  it('reports non-string values and reserved keys', () => {
    const data = { from: 'x', 'google.sent_time': 'x', 'gcm.n.e': 'x', count: 3 } as unknown as Record<
      string,
      string
    >;
    const problems = validateContentForFcm({ priority: 'high', data });
    expect(problems.map((problem) => problem.field)).toEqual([
      'data.from',
      'data.google.sent_time',
      'data.gcm.n.e',
      'data.count',
    ]);
  });

  it('reports a payload over 4096 bytes', () => {
    const problems = validateContentForFcm({ priority: 'high', body: 'é'.repeat(2100) });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/at most 4096/);
  });

  it('measures the request body in UTF-8 bytes', () => {
    expect(messageSize({ token: 'é' })).toBe(Buffer.byteLength('{"message":{"token":"é"}}'));
  });
});
