import { describe, expect, it } from 'vitest';
import { deriveAudit } from './audit.ts';

describe('deriveAudit', () => {
  it.each([
    ['POST', '/api/v1/devices', 'device.create', 'device'],
    ['PUT', '/api/v1/devices/:id', 'device.update', 'device'],
    ['PATCH', '/api/v1/profiles/:id', 'profile.update', 'profile'],
    ['DELETE', '/api/v1/profiles/:id', 'profile.delete', 'profile'],
    ['POST', '/api/v1/profiles/:id/restore', 'profile.restore', 'profile'],
    ['POST', '/api/v1/topics/:id/subscribe', 'topic.subscribe', 'topic'],
    ['POST', '/api/v1/firebase-projects/:id/default', 'firebase_project.default', 'firebase_project'],
    ['POST', '/api/v1/notify', 'notification.send', 'notification'],
    ['POST', '/api/v1/notify/bulk', 'notification.send_bulk', 'notification'],
    ['POST', '/api/v1/notify/topic/:topic_name', 'notification.send_topic', 'notification'],
    ['POST', '/api/v1/notify/schedule', 'notification.send_schedule', 'notification'],
    ['POST', '/api/v1/schedules/:id/pause', 'schedule.pause', 'schedule'],
    ['POST', '/api/v1/webhooks/:id/rotate-secret', 'webhook.rotate_secret', 'webhook'],
    ['POST', '/api/v1/clients/me/rotate', 'client.rotate', 'client'],
  ])('%s %s → %s', (method, url, action, targetType) => {
    expect(deriveAudit(method, url)).toEqual({ action, targetType });
  });

  it('gives nothing for a route without a fixed segment', () => {
    expect(deriveAudit('POST', '/api/v1/')).toBeUndefined();
  });
});
