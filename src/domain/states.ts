/**
 * The states of a notification and of its deliveries, one list each, so the schema, the services and the
 * OpenAPI document cannot disagree (docs/delivery-controls.md describes each).
 */

/**
 * pending → sent → delivered → read, with retrying in between; failed / dead when FCM refused for good. The
 * delivery controls add waiting (held for a local time or the end of quiet hours) and three ends that are the
 * sender's decisions rather than failures: skipped, expired and cancelled, with the reason in error_code.
 */
export const DELIVERY_STATUSES = [
  'pending',
  'waiting',
  'retrying',
  'sent',
  'delivered',
  'read',
  'failed',
  'dead',
  'skipped',
  'expired',
  'cancelled',
] as const;

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Why a delivery was withheld (skipped, expired or cancelled): its error_code. */
export const WITHHELD_REASONS = ['quiet_hours', 'frequency_cap', 'expired', 'cancelled'] as const;

export type WithheldReason = (typeof WITHHELD_REASONS)[number];

/**
 * queued → sending → completed | partially_failed | failed, computed from the counters once fan-out is done;
 * expired when nothing was sent before expires_at, cancelled after POST /notifications/{id}/cancel.
 */
export const NOTIFICATION_STATUSES = [
  'queued',
  'sending',
  'completed',
  'partially_failed',
  'failed',
  'expired',
  'cancelled',
] as const;

export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];
