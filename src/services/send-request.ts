/**
 * The body of a send, shared by /notify, /notify/topic/{name}, /notify/schedule and the scheduler (which
 * re-reads a stored request with the same schema): who receives it (one target plus optional segment filters),
 * what it says (content fields, or a template with variables), and how FCM should treat it.
 */
import { z } from 'zod';
import { type NotificationContent, PRIORITIES } from '../domain/content.ts';
import { platformSchema } from '../domain/platform.ts';
import { QUIET_HOURS_ACTIONS } from '../domain/timing.ts';
import { DURATION_PATTERN } from '../lib/durations.ts';
import { isTimeZone } from '../lib/time-zones.ts';
import { parseVersionRange } from '../lib/versions.ts';
import { parseDate, parseWallTime } from '../scheduling/local-time.ts';

const httpsUrl = z.url({ protocol: /^https$/, message: 'must be an https URL' }).max(2048);
const stringMap = (maxValue: number) => z.record(z.string().min(1).max(256), z.string().max(maxValue));

/** A raw FCM v1 platform block (android / apns / webpush) merged over what we render; FCM's rules still apply. */
const overrideBlock = z.record(z.string(), z.unknown());

/** The content fields, shared by every kind of send (and the options of a template). */
export const contentFields = {
  title: z.string().min(1).max(1024).optional().meta({ example: 'Order Confirmed' }),
  body: z.string().min(1).max(4096).optional().meta({ example: 'Your order #1234 has been confirmed.' }),
  data: stringMap(4096)
    .optional()
    .meta({
      description: 'Custom key/value pairs delivered to the app (values are strings, as FCM requires)',
      example: { order_id: '1234', screen: 'order_details' },
    }),
  priority: z.enum(PRIORITIES).optional().meta({
    description: 'high (default): delivered immediately, may wake the device; normal: may be batched',
  }),
  ttl_seconds: z
    .number()
    .int()
    .min(0)
    .max(2_419_200)
    .optional()
    .meta({ description: 'How long FCM keeps the message for an offline device (max 28 days)' }),
  image_url: httpsUrl.optional().meta({ example: 'https://example.com/image.png' }),
  collapse_key: z.string().min(1).max(64).optional().meta({
    description: 'Groups messages: android collapse_key, apns-collapse-id, web push Topic',
    example: 'order_updates',
  }),
  silent: z
    .boolean()
    .optional()
    .meta({ description: 'Data-only (background) push: no visible notification' }),
  sound: z.string().min(1).max(256).optional(),
  badge: z.number().int().min(0).max(1_000_000).optional(),
  android_channel_id: z.string().min(1).max(256).optional(),
  click_action: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .meta({ description: 'Android intent action on tap; the APNs category on iOS' }),
  link: httpsUrl.optional().meta({
    description: 'Deep link / URL opened on tap (web push fcm_options.link; passed to apps as data)',
  }),
  actions: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
        title: z.string().min(1).max(64),
        link: httpsUrl.optional(),
        icon: httpsUrl.optional(),
      }),
    )
    .min(1)
    .max(3)
    .optional()
    .meta({
      description:
        'Action buttons: web push notification.actions; on Android and iOS passed to the app as data ' +
        '(fcms_actions, JSON) because FCM has no cross-platform action field',
    }),
  analytics_label: z
    .string()
    .regex(/^[a-zA-Z0-9-_.~%]{1,50}$/, 'must be 1-50 characters of a-z A-Z 0-9 - _ . ~ %')
    .optional(),
  platform_overrides: z
    .strictObject({
      android: overrideBlock.optional(),
      apns: overrideBlock.optional(),
      webpush: overrideBlock.optional(),
    })
    .optional()
    .meta({ description: 'Raw FCM v1 android / apns / webpush fields merged over the rendered message' }),
  firebase_project_id: z
    .uuid()
    .optional()
    .meta({ description: 'Send through this Firebase project instead of the default' }),
};

const localeTag = z
  .string()
  .regex(/^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/, 'must be a locale such as pt-BR');
const tag = z.string().min(1).max(64);

/** Segment filters: every given filter must hold for a device to receive the send. */
export const filtersSchema = z
  .strictObject({
    platforms: z.array(platformSchema).min(1).max(3).optional(),
    app_version: z
      .string()
      .max(100)
      .superRefine((value, ctx) => {
        try {
          parseVersionRange(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      })
      .optional()
      .meta({
        description: 'A version (exact) or comparators that all hold: ">=2.3.0 <3"',
        example: '>=2.3.0',
      }),
    last_seen_within: z
      .string()
      .regex(DURATION_PATTERN, 'must be a number followed by m, h or d (e.g. 30d)')
      .optional()
      .meta({
        description:
          'Devices seen within this window: last_seen_at, moved by registration, receipts and check-ins ' +
          '(POST /devices/{id}/seen)',
        example: '30d',
      }),
    tags_any: z.array(tag).min(1).max(100).optional().meta({ description: 'At least one of these tags' }),
    tags_all: z.array(tag).min(1).max(100).optional().meta({ description: 'Every one of these tags' }),
    timezones: z
      .array(z.string().refine(isTimeZone, 'must be an IANA time zone such as Africa/Dar_es_Salaam'))
      .min(1)
      .max(100)
      .optional(),
    locales: z.array(localeTag).min(1).max(100).optional().meta({
      description: 'A language ("pt") matches its regional variants ("pt-BR"); "pt-BR" matches only itself',
    }),
  })
  .meta({ id: 'SegmentFilters' });

export type SegmentFilters = z.infer<typeof filtersSchema>;

export const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9-_.~%]{1,255}$/, 'must be 1-255 characters of a-z A-Z 0-9 - _ . ~ %');

/** One-of targets of a send. */
export const targetFields = {
  phone_number: z.string().min(1).max(32).optional().meta({ example: '+255712345678' }),
  profile_id: z.uuid().optional(),
  external_id: z.string().min(1).max(255).optional(),
  device_ids: z.array(z.uuid()).min(1).max(1000).optional(),
  topic: topicName.optional().meta({ description: 'Every active device subscribed to this topic (by name)' }),
  all_devices: z
    .literal(true)
    .optional()
    .meta({ description: 'Every active device of the tenant (narrow it with filters)' }),
};

export const TARGETS = Object.keys(targetFields) as (keyof typeof targetFields)[];

/** How a send names a template: its id or its name. The preview takes the same, so what sends also previews. */
export const templateRefSchema = z.string().min(1).max(100);

/** Template fields: a send may name a template (by name or id) and give its variables. */
export const templateFields = {
  template: templateRefSchema
    .optional()
    .meta({ description: 'Template name or id; explicit content fields override the template' }),
  variables: z
    .record(z.string().min(1).max(64), z.string().max(4096))
    .optional()
    .meta({ description: "Values for the template's {{variables}}", example: { name: 'John' } }),
};

const exactlyOneTarget = (
  value: Partial<Record<(typeof TARGETS)[number], unknown>>,
  ctx: z.RefinementCtx,
) => {
  const given = TARGETS.filter((t) => value[t] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: [given[1] ?? 'phone_number'],
      message: `give exactly one target: ${TARGETS.join(', ')}${given.length > 1 ? ` (got ${given.join(', ')})` : ''}`,
    });
  }
};

/** What a device shows: a silent (data-only) push carries none of it, so the renderer would drop it unseen. */
const VISIBLE_FIELDS = [
  'title',
  'body',
  'image_url',
  'sound',
  'badge',
  'android_channel_id',
  'click_action',
  'actions',
] as const satisfies readonly (keyof typeof contentFields)[];

/** Refuses a silent push that also asks to show something, naming each such field (rather than dropping it). */
export const silentShowsNothing = (
  value: Partial<Record<keyof typeof contentFields, unknown>>,
  ctx: z.RefinementCtx,
) => {
  if (value.silent !== true) return;
  for (const field of VISIBLE_FIELDS) {
    if (value[field] !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `a silent push shows nothing: drop ${field}, or drop silent: true`,
      });
    }
  }
};

/** "HH:MM", 00:00 to 23:59: a wall-clock time read in each device's zone. */
export const wallTime = z
  .string()
  .refine((v) => parseWallTime(v) !== undefined, 'must be a time HH:MM between 00:00 and 23:59');

/** A daily quiet-hours window in each device's zone; start after end spans midnight. */
export const quietHoursSchema = z
  .strictObject({
    start: wallTime.meta({ example: '22:00' }),
    end: wallTime.meta({ example: '08:00' }),
  })
  .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] })
  .meta({ id: 'QuietHours', example: { start: '22:00', end: '08:00' } });

/** A send's (or tenant's) most deliveries per minute. */
export const throttleSchema = z.number().int().min(1).max(1_000_000);

/**
 * Delivery controls: when the deliveries of a send are sent, held, dropped or no longer worth sending, and
 * whether frequency caps apply (docs/delivery-controls.md).
 */
export const controlFields = {
  expires_at: z.iso.datetime({ offset: true }).optional().meta({
    description:
      'Deliveries not sent by then end as expired (status expired, reason expired) instead of arriving late',
    example: '2026-11-25T10:00:00Z',
  }),
  bypass_frequency_cap: z
    .boolean()
    .optional()
    .meta({
      description:
        "A transactional send (a one-time code, an order update): the tenant's frequency caps do not apply to it, " +
        'and it does not count towards them either',
    }),
  deliver_at_local: wallTime.optional().meta({
    description:
      "Deliver when each device's own time zone reaches this time (the device's zone, else the tenant's " +
      'default_time_zone, else UTC); deliveries wait (status waiting) until then',
    example: '09:00',
  }),
  deliver_on: z
    .string()
    .refine((v) => parseDate(v) !== undefined, 'must be a date YYYY-MM-DD')
    .optional()
    .meta({
      description:
        'The date of deliver_at_local in each zone (default: the next time each zone reaches it); ' +
        'devices whose zone has passed it get it at once',
      example: '2026-12-24',
    }),
  respect_quiet_hours: z
    .boolean()
    .optional()
    .meta({
      description:
        "Hold (or drop) deliveries that fall in the quiet hours (the profile's, else the tenant's). Default: " +
        'true, except for priority "high" and silent (data-only) sends',
    }),
  quiet_hours_action: z.enum(QUIET_HOURS_ACTIONS).optional().meta({
    description:
      'hold (default): wait for the end of the quiet hours (status waiting); drop: skipped, reason quiet_hours',
  }),
  throttle_per_minute: throttleSchema.optional().meta({
    description: "Spread the deliveries at most this many per minute (default: the tenant's setting)",
    example: 50000,
  }),
};

export type ControlInput = { [K in keyof typeof controlFields]?: z.infer<(typeof controlFields)[K]> };

/** Refuses controls that contradict each other, naming the field to change. */
export const controlsConsistent = (value: ControlInput, ctx: z.RefinementCtx) => {
  if (value.deliver_on !== undefined && value.deliver_at_local === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['deliver_on'],
      message: 'deliver_on is the date of deliver_at_local: give deliver_at_local too',
    });
  }
  if (value.quiet_hours_action !== undefined && value.respect_quiet_hours === false) {
    ctx.addIssue({
      code: 'custom',
      path: ['quiet_hours_action'],
      message: 'quiet hours are not respected (respect_quiet_hours: false): drop quiet_hours_action',
    });
  }
};

/** The body of POST /notify (and the stored request of a schedule). */
export const sendBodySchema = z
  .strictObject({
    ...targetFields,
    ...contentFields,
    ...templateFields,
    ...controlFields,
    filters: filtersSchema.optional(),
  })
  .superRefine(exactlyOneTarget)
  .superRefine(silentShowsNothing)
  .superRefine(controlsConsistent);

export type SendBody = z.infer<typeof sendBodySchema>;

/** What POST /notify/preview renders: a send's content (or template and variables) without a target. */
export const previewBodySchema = z
  .strictObject({
    ...contentFields,
    ...templateFields,
    locale: z.string().min(1).max(35).optional().meta({
      description:
        "A device locale, to pick the template's variant: exact, else its language, else the default",
      example: 'fr-CA',
    }),
  })
  .superRefine(silentShowsNothing);

export type PreviewBody = z.infer<typeof previewBodySchema>;

/**
 * A schedule's stored request, read again at each occurrence. One stored before silent pushes refused visible
 * fields keeps working as it was accepted: those fields are dropped, as the renderer always dropped them.
 */
export const storedSendSchema = z.preprocess((value) => {
  if (typeof value !== 'object' || value === null || (value as { silent?: unknown }).silent !== true)
    return value;
  const kept: Record<string, unknown> = { ...value };
  for (const field of VISIBLE_FIELDS) delete kept[field];
  return kept;
}, sendBodySchema);

export type ContentInput = { [K in keyof typeof contentFields]?: z.infer<(typeof contentFields)[K]> };

/** API field names → the platform-independent content the renderer takes. */
export function toContent(input: ContentInput): NotificationContent {
  const content: NotificationContent = { priority: input.priority ?? 'high' };
  if (input.title !== undefined) content.title = input.title;
  if (input.body !== undefined) content.body = input.body;
  if (input.data !== undefined) content.data = input.data;
  if (input.image_url !== undefined) content.imageUrl = input.image_url;
  if (input.ttl_seconds !== undefined) content.ttlSeconds = input.ttl_seconds;
  if (input.collapse_key !== undefined) content.collapseKey = input.collapse_key;
  if (input.silent !== undefined) content.silent = input.silent;
  if (input.sound !== undefined) content.sound = input.sound;
  if (input.badge !== undefined) content.badge = input.badge;
  if (input.android_channel_id !== undefined) content.androidChannelId = input.android_channel_id;
  if (input.click_action !== undefined) content.clickAction = input.click_action;
  if (input.link !== undefined) content.link = input.link;
  if (input.actions !== undefined) content.actions = input.actions;
  if (input.analytics_label !== undefined) content.analyticsLabel = input.analytics_label;
  if (input.platform_overrides !== undefined) content.overrides = input.platform_overrides;
  return content;
}
