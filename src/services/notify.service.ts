/** Accepting a send: validate, resolve the target, write the notification and its fan-out job in one transaction. */
import type { Executor } from '../db/client.ts';
import { insertNotification, type NotificationRow } from '../db/notifications.repository.ts';
import { QUEUES } from '../jobs/queue.ts';
import { AppError, invalid } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import type { NotificationContent } from '../push/push-provider.ts';
import { validateContentForFcm } from '../push/render.ts';
import type { Principal } from './clients.service.ts';
import { receiptData } from './delivery.service.ts';
import type { ServiceDeps } from './deps.ts';
import { chooseProjectForSend } from './firebase-projects.service.ts';
import { normalizePhoneNumber, resolveProfile } from './profiles.service.ts';

export type NotifyTarget =
  | { phone_number: string }
  | { profile_id: string }
  | { external_id: string }
  | { device_ids: string[] };

export interface NotifyInput {
  target: NotifyTarget;
  content: NotificationContent;
  firebaseProjectId?: string | undefined;
}

/** What the fan-out resolves; stored on the notification. */
export type StoredTarget = NotifyTarget & { profile_id?: string };

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
    const tooLarge = problems.some((p) => /4096|too large|payload/i.test(p.message));
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

async function resolveTarget(ex: Executor, tenantId: string, target: NotifyTarget): Promise<StoredTarget> {
  if ('phone_number' in target) {
    const phoneNumber = normalizePhoneNumber(target.phone_number);
    const profile = await resolveProfile(ex, tenantId, { phoneNumber });
    return { phone_number: phoneNumber, profile_id: profile.id };
  }
  if ('external_id' in target) {
    const profile = await resolveProfile(ex, tenantId, { externalId: target.external_id });
    return { external_id: target.external_id, profile_id: profile.id };
  }
  if ('profile_id' in target) {
    await resolveProfile(ex, tenantId, { id: target.profile_id });
    return { profile_id: target.profile_id };
  }
  return { device_ids: [...new Set(target.device_ids)] };
}

export async function acceptNotification(
  deps: ServiceDeps,
  principal: Principal,
  input: NotifyInput,
  meta: { idempotencyKey?: string | undefined; requestId?: string | undefined },
): Promise<NotificationRow> {
  assertSendable(input.content);
  return deps.db.transaction(async (tx) => {
    const target = await resolveTarget(tx, principal.clientId, input.target);
    const firebaseProjectId = await chooseProjectForSend(
      tx,
      principal.clientId,
      input.firebaseProjectId,
      deps.defaultAccount,
    );
    const notification = await insertNotification(tx, {
      id: uuidv7(),
      apiClientId: principal.clientId,
      firebaseProjectId,
      target,
      content: input.content as unknown as Record<string, unknown>,
      idempotencyKey: meta.idempotencyKey ?? null,
      requestId: meta.requestId ?? null,
    });
    await deps.queue.enqueue(tx, QUEUES.fanout, {
      notificationId: notification.id,
      requestId: meta.requestId,
    });
    return notification;
  });
}
