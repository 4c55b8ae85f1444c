/** The database schema (Drizzle, pg-core). Every tenant-owned table carries api_client_id; migrations are generated from this file. */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Platform } from '../domain/platform.ts';
import type { DeliveryStatus, NotificationStatus } from '../domain/states.ts';
import type { QuietHoursWindow } from '../domain/timing.ts';
import type { MisfirePolicy, ScheduleRecurrence } from '../scheduling/recurrence.ts';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const apiClients = pgTable(
  'api_clients',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    /** SHA-256 of the client token (the token is 256 random bits, so a fast hash is enough). */
    tokenHash: text('token_hash').notNull(),
    scopes: text('scopes').array().notNull(),
    isActive: boolean('is_active').notNull().default(true),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** The token being rotated out: it keeps working until previous_token_expires_at (the grace period). */
    previousTokenHash: text('previous_token_hash'),
    previousTokenExpiresAt: timestamp('previous_token_expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** IPv4/IPv6 CIDRs the client may call from; empty = anywhere. */
    ipAllowlist: text('ip_allowlist').array().notNull().default(sql`'{}'::text[]`),
    /** Per-endpoint-group overrides of the rate limits, e.g. {"send": 500, "bulk": 20} (requests per minute). */
    rateLimits: jsonb('rate_limits').$type<Record<string, number>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('api_clients_token_hash_idx').on(t.tokenHash),
    uniqueIndex('api_clients_previous_token_hash_idx')
      .on(t.previousTokenHash)
      .where(sql`${t.previousTokenHash} is not null`),
  ],
);

/** The tenant that owns a row, as a foreign key: deleting the tenant deletes its rows. */
const tenant = () =>
  uuid('api_client_id')
    .notNull()
    .references(() => apiClients.id, { onDelete: 'cascade' });

export const firebaseProjects = pgTable(
  'firebase_projects',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    projectId: text('project_id').notNull(),
    clientEmail: text('client_email').notNull(),
    privateKeyId: text('private_key_id'),
    /** The whole service-account JSON, encrypted (see crypto.ts). */
    credentialsCiphertext: text('credentials_ciphertext').notNull(),
    isDefault: boolean('is_default').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('firebase_projects_client_project_idx').on(t.apiClientId, t.projectId),
    uniqueIndex('firebase_projects_one_default_idx').on(t.apiClientId).where(sql`${t.isDefault}`),
  ],
);

export const profiles = pgTable(
  'profiles',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    /** E.164, normalized. */
    phoneNumber: text('phone_number'),
    externalId: text('external_id'),
    name: text('name'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    /** The profile's own quiet hours ({start, end} wall-clock times), over the tenant's; null: the tenant's. */
    quietHours: jsonb('quiet_hours').$type<QuietHoursWindow>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('profiles_phone_idx')
      .on(t.apiClientId, t.phoneNumber)
      .where(sql`${t.deletedAt} is null and ${t.phoneNumber} is not null`),
    uniqueIndex('profiles_external_id_idx')
      .on(t.apiClientId, t.externalId)
      .where(sql`${t.deletedAt} is null and ${t.externalId} is not null`),
    index('profiles_list_idx').on(t.apiClientId, t.id),
    /** Whether a tenant has profiles with their own quiet hours, asked when a send is accepted (usually none). */
    index('profiles_quiet_hours_idx')
      .on(t.apiClientId)
      .where(sql`${t.quietHours} is not null and ${t.deletedAt} is null`),
    /** The purge finds rows soft-deleted before the retention cutoff without scanning live ones. */
    index('profiles_deleted_idx').on(t.deletedAt).where(sql`${t.deletedAt} is not null`),
  ],
);

export const devices = pgTable(
  'devices',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    profileId: uuid('profile_id').references(() => profiles.id, { onDelete: 'set null' }),
    platform: text('platform').$type<Platform>().notNull(),
    /** The FCM registration token, encrypted. */
    tokenCiphertext: text('token_ciphertext').notNull(),
    /** Keyed hash (HMAC-SHA256) of the token: the blind index used for lookups and uniqueness. */
    tokenHash: text('token_hash').notNull(),
    /**
     * The token's last 8 characters in clear (what device views show as token_suffix), so GET /devices can
     * search by it. Null only for rows written before it existed, until the backfill (devices.service.ts).
     */
    tokenSuffix: text('token_suffix'),
    appVersion: text('app_version'),
    /** app_version parsed as [major, minor, patch] so segments compare versions, not strings (null if unparseable). */
    appVersionKey: integer('app_version_key').array(),
    osVersion: text('os_version'),
    model: text('model'),
    timezone: text('timezone'),
    locale: text('locale'),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    isActive: boolean('is_active').notNull().default(true),
    deactivatedReason: text('deactivated_reason'),
    deactivatedAt: timestamp('deactivated_at', { withTimezone: true }),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('devices_token_idx').on(t.apiClientId, t.tokenHash),
    /** Search by token suffix (GET /devices?token_suffix=); the backfill finds rows without one by the second. */
    index('devices_token_suffix_idx').on(t.apiClientId, t.tokenSuffix),
    index('devices_token_suffix_missing_idx').on(t.id).where(sql`${t.tokenSuffix} is null`),
    index('devices_profile_idx').on(t.profileId).where(sql`${t.isActive}`),
    index('devices_deleted_idx').on(t.deletedAt).where(sql`${t.deletedAt} is not null`),
    index('devices_list_idx').on(t.apiClientId, t.id),
    /** The stale-device sweep: active devices by last contact. */
    index('devices_stale_idx').on(t.lastSeenAt).where(sql`${t.isActive} and ${t.deletedAt} is null`),
  ],
);

export const topics = pgTable(
  'topics',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    name: text('name').notNull(),
    description: text('description'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('topics_name_idx').on(t.apiClientId, t.name),
    index('topics_list_idx').on(t.apiClientId, t.id),
  ],
);

/** Which devices a topic reaches. The primary key (topic, device) is also the fan-out's keyset order. */
export const topicSubscriptions = pgTable(
  'topic_subscriptions',
  {
    topicId: uuid('topic_id')
      .notNull()
      .references(() => topics.id, { onDelete: 'cascade' }),
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    apiClientId: uuid('api_client_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.topicId, t.deviceId] }),
    index('topic_subscriptions_device_idx').on(t.deviceId),
  ],
);

/**
 * A reusable message. title/body/data values may hold {{variables}}; `options` holds the other content fields
 * (API names); `platform_overrides` holds raw FCM android/apns/webpush blocks merged into the rendered message;
 * `locales` maps a locale (e.g. "fr", "pt-BR") to its own title/body/data.
 */
export const templates = pgTable(
  'templates',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    name: text('name').notNull(),
    description: text('description'),
    title: text('title'),
    body: text('body'),
    data: jsonb('data').$type<Record<string, string>>().notNull().default({}),
    options: jsonb('options').$type<Record<string, unknown>>().notNull().default({}),
    platformOverrides: jsonb('platform_overrides').$type<Record<string, unknown>>().notNull().default({}),
    locales: jsonb('locales').$type<Record<string, unknown>>().notNull().default({}),
    isActive: boolean('is_active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('templates_name_idx').on(t.apiClientId, t.name),
    index('templates_list_idx').on(t.apiClientId, t.id),
  ],
);

export type ScheduleStatus = 'active' | 'paused' | 'completed' | 'cancelled';
/** Declared beside the recurrence rules that give them meaning; the table's columns carry them. */
export type { MisfirePolicy, ScheduleRecurrence };

export const schedules = pgTable(
  'schedules',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    name: text('name'),
    status: text('status').$type<ScheduleStatus>().notNull().default('active'),
    /** The send as the API accepted it (the body of POST /notify/schedule without the schedule fields). */
    request: jsonb('request').$type<Record<string, unknown>>().notNull(),
    scheduledAt: timestamp('scheduled_at', { withTimezone: true }).notNull(),
    recurrence: text('recurrence').$type<ScheduleRecurrence>().notNull().default('none'),
    cron: text('cron'),
    timezone: text('timezone').notNull().default('UTC'),
    maxOccurrences: integer('max_occurrences'),
    endsAt: timestamp('ends_at', { withTimezone: true }),
    misfirePolicy: text('misfire_policy').$type<MisfirePolicy>().notNull().default('fire_once'),
    /** The next occurrence to fire; null once the schedule has nothing left to fire. */
    nextRunAt: timestamp('next_run_at', { withTimezone: true }),
    occurrenceCount: integer('occurrence_count').notNull().default(0),
    lastRunAt: timestamp('last_run_at', { withTimezone: true }),
    lastNotificationId: uuid('last_notification_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('schedules_due_idx').on(t.nextRunAt).where(sql`${t.status} = 'active'`),
    index('schedules_list_idx').on(t.apiClientId, t.id),
  ],
);

export type { NotificationStatus } from '../domain/states.ts';

export const notifications = pgTable(
  'notifications',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    firebaseProjectId: uuid('firebase_project_id').references(() => firebaseProjects.id, {
      onDelete: 'set null',
    }),
    /** What the request addressed: {phone_number} | {profile_id} | {external_id} | {device_ids}. */
    target: jsonb('target').$type<Record<string, unknown>>().notNull(),
    /** The platform-independent content (NotificationContent). */
    content: jsonb('content').$type<Record<string, unknown>>().notNull(),
    status: text('status').$type<NotificationStatus>().notNull().default('queued'),
    totalCount: integer('total_count').notNull().default(0),
    sentCount: integer('sent_count').notNull().default(0),
    failedCount: integer('failed_count').notNull().default(0),
    deliveredCount: integer('delivered_count').notNull().default(0),
    readCount: integer('read_count').notNull().default(0),
    /** Deliveries withheld by a delivery control (skipped: frequency cap, quiet hours "drop"). */
    skippedCount: integer('skipped_count').notNull().default(0),
    /** Deliveries not sent by the send's expires_at. */
    expiredCount: integer('expired_count').notNull().default(0),
    /** Deliveries stopped by POST /notifications/{id}/cancel before they were sent. */
    cancelledCount: integer('cancelled_count').notNull().default(0),
    /** The send's expires_at: deliveries not sent by then become expired. */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** When POST /notifications/{id}/cancel stopped it. */
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
    /** A transactional send (bypass_frequency_cap): the tenant's frequency caps do not apply to it. */
    bypassFrequencyCap: boolean('bypass_frequency_cap').notNull().default(false),
    /**
     * The timing controls of the send, resolved when it was accepted (local time, quiet hours, throttle, with
     * the tenant's defaults then in force); null when none applies, so the fan-out takes its plain path.
     */
    timing: jsonb('timing').$type<Record<string, unknown>>(),
    /** Fan-out is finished once every target device has its delivery row. */
    fanoutDone: boolean('fanout_done').notNull().default(false),
    /** Keyset cursor of the fan-out (last device id or bulk recipient seq done), so a restarted fan-out resumes instead of repeating. */
    fanoutCursor: text('fanout_cursor'),
    /** Why the whole notification failed (e.g. no_active_devices), when it did. */
    errorCode: text('error_code'),
    /** Locale → content, when a template has locale variants (the device's locale picks one; `content` is the fallback). */
    variants: jsonb('variants').$type<Record<string, Record<string, unknown>>>(),
    templateId: uuid('template_id'),
    topicId: uuid('topic_id'),
    scheduleId: uuid('schedule_id'),
    /** The schedule occurrence this notification is (one notification per occurrence, enforced by an index). */
    occurrenceAt: timestamp('occurrence_at', { withTimezone: true }),
    idempotencyKey: text('idempotency_key'),
    requestId: text('request_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
  },
  (t) => [
    index('notifications_list_idx').on(t.apiClientId, t.id),
    uniqueIndex('notifications_idempotency_idx')
      .on(t.apiClientId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
    uniqueIndex('notifications_occurrence_idx')
      .on(t.scheduleId, t.occurrenceAt)
      .where(sql`${t.scheduleId} is not null`),
    index('notifications_topic_idx').on(t.apiClientId, t.topicId).where(sql`${t.topicId} is not null`),
    /** Analytics reads a tenant's notifications by creation day. */
    index('notifications_created_idx').on(t.apiClientId, t.createdAt),
    /** The few notifications still in flight: retention checks them before dropping a deliveries partition. */
    index('notifications_in_flight_idx').on(t.createdAt).where(sql`${t.status} in ('queued', 'sending')`),
  ],
);

/**
 * The resolved targets of a bulk send, in request order. A target with its own variables carries its own
 * rendered contents (locale → content, with "default"); the fan-out pages over this table.
 */
export const notificationRecipients = pgTable(
  'notification_recipients',
  {
    notificationId: uuid('notification_id')
      .notNull()
      .references(() => notifications.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    profileId: uuid('profile_id'),
    deviceId: uuid('device_id'),
    contents: jsonb('contents').$type<Record<string, Record<string, unknown>>>(),
  },
  (t) => [primaryKey({ columns: [t.notificationId, t.seq] })],
);

export type { DeliveryStatus } from '../domain/states.ts';

/**
 * Partitioned by week on created_at, which is the notification's created_at (so a notification's deliveries
 * share one partition and (notification_id, device_id) stays unique): see the hand-written part of migration
 * 0007 and src/db/partitions.repository.ts. Retention drops whole weeks.
 */
export const deliveries = pgTable(
  'deliveries',
  {
    id: bigint('id', { mode: 'bigint' }).notNull().generatedAlwaysAsIdentity(),
    notificationId: uuid('notification_id')
      .notNull()
      .references(() => notifications.id, { onDelete: 'cascade' }),
    apiClientId: uuid('api_client_id').notNull(),
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    platform: text('platform').$type<Platform>().notNull(),
    status: text('status').$type<DeliveryStatus>().notNull().default('pending'),
    /** The bulk recipient this delivery came from (its own contents), null for other sends. */
    recipientSeq: integer('recipient_seq'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    fcmMessageId: text('fcm_message_id'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    readAt: timestamp('read_at', { withTimezone: true }),
    failedAt: timestamp('failed_at', { withTimezone: true }),
    /** A waiting delivery's release instant (local time, end of quiet hours, throttle slot); null otherwise. */
    notBefore: timestamp('not_before', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    /** A unique index on a partitioned table must carry the partition key. */
    primaryKey({ columns: [t.id, t.createdAt] }),
    uniqueIndex('deliveries_notification_device_idx').on(t.notificationId, t.deviceId, t.createdAt),
    index('deliveries_notification_idx').on(t.notificationId, t.id),
    /** A device's delivery history, newest first (GET /devices/{id}/deliveries). */
    index('deliveries_device_idx').on(t.deviceId, t.id),
    /** The dead-letter list of a tenant (small: only dead deliveries are in it). */
    index('deliveries_dead_idx').on(t.apiClientId, t.id).where(sql`${t.status} = 'dead'`),
    /** The release poll: waiting deliveries by release instant (small: only waiting rows are in it). */
    index('deliveries_waiting_idx').on(t.notBefore).where(sql`${t.status} = 'waiting'`),
  ],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiClientId: tenant(),
    key: text('key').notNull(),
    /** Method + path + SHA-256 of the canonical body: a reused key with another request is rejected. */
    requestHash: text('request_hash').notNull(),
    /** null while the first request is still being processed. */
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.apiClientId, t.key] }),
    index('idempotency_keys_expires_idx').on(t.expiresAt),
  ],
);

/** Who changed what: every state-changing API call, queryable by admins. */
export const auditLogs = pgTable(
  'audit_logs',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    /** The tenant whose data changed (null for server-wide actions). */
    apiClientId: uuid('api_client_id'),
    /** The client that made the call (an admin acting on a tenant differs from it). */
    actorClientId: uuid('actor_client_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    ip: text('ip'),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index('audit_logs_tenant_idx').on(t.apiClientId, t.id),
    index('audit_logs_created_idx').on(t.createdAt),
  ],
);

/**
 * Events (notification.sent, device.deactivated, ...) written in the transaction of the change that caused
 * them: the outbox that webhooks, the live stream and analytics read, so no event is lost or invented.
 */
export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'bigint' }).notNull().generatedAlwaysAsIdentity(),
    /** Public id (`evt_…`), also the webhook-id of its webhook messages. */
    eventId: text('event_id').notNull(),
    apiClientId: uuid('api_client_id').notNull(),
    type: text('type').notNull(),
    notificationId: uuid('notification_id'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    requestId: text('request_id'),
    /** Set once the dispatcher has handed the event to webhooks and the stream. */
    dispatchedAt: timestamp('dispatched_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    /** Partitioned by week on created_at (like deliveries): the key includes it; event ids are random. */
    primaryKey({ columns: [t.id, t.createdAt] }),
    index('events_event_id_idx').on(t.eventId),
    index('events_undispatched_idx').on(t.id).where(sql`${t.dispatchedAt} is null`),
    index('events_tenant_idx').on(t.apiClientId, t.id),
    index('events_created_idx').on(t.createdAt),
    /** A notification's events, to find its webhook attempts (GET /notifications/{id}/webhook-attempts). */
    index('events_notification_idx').on(t.notificationId).where(sql`${t.notificationId} is not null`),
  ],
);

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    url: text('url').notNull(),
    description: text('description'),
    /** Event types it subscribes to (empty = all). */
    eventTypes: text('event_types').array().notNull().default(sql`'{}'::text[]`),
    /** The `whsec_…` signing secret, encrypted. */
    secretCiphertext: text('secret_ciphertext').notNull(),
    /** The secret being rotated out, still used to sign (as a second signature) until it expires. */
    previousSecretCiphertext: text('previous_secret_ciphertext'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    isActive: boolean('is_active').notNull().default(true),
    disabledReason: text('disabled_reason'),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    /** Consecutive failed deliveries; reset by a success. */
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    lastSuccessAt: timestamp('last_success_at', { withTimezone: true }),
    lastFailureAt: timestamp('last_failure_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('webhook_endpoints_tenant_idx').on(t.apiClientId, t.id)],
);

/** One row per attempt to deliver an event to an endpoint: the attempt log the API shows. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigint('id', { mode: 'bigint' }).notNull().generatedAlwaysAsIdentity(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    apiClientId: uuid('api_client_id').notNull(),
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    attempt: integer('attempt').notNull(),
    /** succeeded | failed (will retry) | exhausted (gave up) */
    status: text('status').notNull(),
    responseStatus: integer('response_status'),
    error: text('error'),
    durationMs: integer('duration_ms'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    /** Partitioned by week on created_at (like deliveries). */
    primaryKey({ columns: [t.id, t.createdAt] }),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.id),
    /** A webhook job run again after a crash checks whether its attempt was already logged. */
    index('webhook_deliveries_event_idx').on(t.endpointId, t.eventId, t.attempt),
    index('webhook_deliveries_created_idx').on(t.createdAt),
    /** The attempts of given events (a notification's, GET /notifications/{id}/webhook-attempts). */
    index('webhook_deliveries_event_id_idx').on(t.apiClientId, t.eventId),
  ],
);

/**
 * Daily roll-up per tenant, topic and platform (topic_key '' = not a topic send). Re-aggregation replaces a day.
 * topic_key and/or platform '*' are the roll-up rows over all topics / all platforms (analytics.repository.ts).
 */
export const analyticsDaily = pgTable(
  'analytics_daily',
  {
    day: date('day', { mode: 'string' }).notNull(),
    apiClientId: uuid('api_client_id').notNull(),
    topicKey: text('topic_key').notNull().default(''),
    platform: text('platform').notNull(),
    notifications: integer('notifications').notNull().default(0),
    deliveries: integer('deliveries').notNull().default(0),
    sent: integer('sent').notNull().default(0),
    delivered: integer('delivered').notNull().default(0),
    read: integer('read').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    skipped: integer('skipped').notNull().default(0),
    expired: integer('expired').notNull().default(0),
    cancelled: integer('cancelled').notNull().default(0),
    avgDeliveryMs: doublePrecision('avg_delivery_ms'),
    p95DeliveryMs: doublePrecision('p95_delivery_ms'),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.day, t.apiClientId, t.topicKey, t.platform] })],
);

export type FrequencyCapScope = 'profile' | 'device';

/**
 * A tenant's frequency cap: at most `max` notifications per profile (or device) per rolling `per_seconds`,
 * counting only sends to `topic` / with `template` (by name) when given. The fan-out applies them.
 */
export const frequencyCaps = pgTable(
  'frequency_caps',
  {
    id: uuid('id').primaryKey(),
    apiClientId: tenant(),
    max: integer('max').notNull(),
    /** The window as given ("24h"), and in seconds for the SQL. */
    per: text('per').notNull(),
    perSeconds: integer('per_seconds').notNull(),
    scope: text('scope').$type<FrequencyCapScope>().notNull(),
    topic: text('topic'),
    template: text('template'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('frequency_caps_tenant_idx').on(t.apiClientId, t.id)],
);

/**
 * A tenant's settings (GET/PATCH /api/v1/settings): the defaults of its sends' timing controls. No row: none
 * set (UTC, no quiet hours, no throttle).
 */
export const tenantSettings = pgTable('tenant_settings', {
  apiClientId: uuid('api_client_id')
    .primaryKey()
    .references(() => apiClients.id, { onDelete: 'cascade' }),
  /** IANA zone for devices without one (local-time delivery, quiet hours); null: UTC. */
  defaultTimeZone: text('default_time_zone'),
  quietHours: jsonb('quiet_hours').$type<QuietHoursWindow>(),
  throttlePerMinute: integer('throttle_per_minute'),
  updatedAt: updatedAt(),
});

/** A Firebase project FCM asked us to slow down for (429): shared by every worker until not_before. */
export const sendThrottles = pgTable('send_throttles', {
  projectKey: text('project_key').primaryKey(),
  notBefore: timestamp('not_before', { withTimezone: true }).notNull(),
  updatedAt: updatedAt(),
});

export const schema = {
  apiClients,
  firebaseProjects,
  profiles,
  devices,
  topics,
  topicSubscriptions,
  templates,
  schedules,
  notifications,
  notificationRecipients,
  deliveries,
  idempotencyKeys,
  auditLogs,
  events,
  webhookEndpoints,
  webhookDeliveries,
  analyticsDaily,
  sendThrottles,
  frequencyCaps,
  tenantSettings,
};
