/**
 * Events: what happened, for webhooks, the live stream and analytics. They are written to the outbox table in
 * the same transaction as the change, so an event exists exactly when its change committed.
 *
 * Volume: per-delivery outcomes are batched, one `notification.sent` / `notification.failed` event per send batch
 * (at most SEND_BATCH_SIZE deliveries, listed in `deliveries`), so a 100,000-device send makes a few hundred
 * events, not 100,000. Receipts (`notification.delivered` / `notification.read`) come from devices one at a time
 * and are one event each.
 */

import type { Executor } from '../db/client.ts';
import { insertEvents } from '../db/events.repository.ts';
import { uuidv7 } from '../lib/ids.ts';

export const EVENT_TYPES = [
  'notification.sent',
  'notification.failed',
  'notification.delivered',
  'notification.read',
  'notification.completed',
  'notification.expired',
  'notification.skipped',
  'notification.cancelled',
  'device.registered',
  'device.deactivated',
  'webhook.disabled',
  'webhook.test',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  tenantId: string;
  type: EventType;
  notificationId?: string | null | undefined;
  /** The event's `data`: JSON, never a secret (no push tokens). */
  data: Record<string, unknown>;
  requestId?: string | null | undefined;
}

/** `evt_` + a time-ordered UUID in hex: the id webhooks carry as webhook-id. */
export function newEventId(): string {
  return `evt_${uuidv7().replaceAll('-', '')}`;
}

/** The event for devices that stopped receiving, and why. */
export function deviceDeactivated(tenantId: string, deviceIds: string[], reason: string): NewEvent {
  return { tenantId, type: 'device.deactivated', data: { device_ids: deviceIds, reason } };
}

/** Writes events in the caller's transaction. */
export async function emitEvents(ex: Executor, events: NewEvent[]): Promise<void> {
  await insertEvents(
    ex,
    events.map((e) => ({
      eventId: newEventId(),
      tenantId: e.tenantId,
      type: e.type,
      notificationId: e.notificationId ?? null,
      payload: e.data,
      requestId: e.requestId ?? null,
    })),
  );
}
