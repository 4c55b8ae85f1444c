/** POST /api/v1/notify/schedule and /api/v1/schedules: scheduled and recurring sends. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type ScheduleAction, splitScheduleInput } from '../../../services/schedules.service.ts';
import { sendBodySchema } from '../../../services/send-request.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_IDS, idParams, isoDate, page, pageQuery } from '../../schemas.ts';

const statusSchema = z.enum(['active', 'paused', 'completed', 'cancelled']);
const recurrenceSchema = z.enum(['none', 'daily', 'weekly', 'monthly', 'cron']);
const misfireSchema = z.enum(['catch_up', 'fire_once', 'skip']);

const scheduleSchema = z
  .object({
    id: z.uuid().meta({ example: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc' }),
    name: z.string().nullable().meta({ example: 'weekday reminder' }),
    status: statusSchema,
    scheduled_at: z.string().meta({ example: '2026-12-01T06:00:00.000Z' }),
    recurrence: recurrenceSchema,
    cron: z.string().nullable().meta({ example: '0 9 * * MON-FRI' }),
    timezone: z.string().meta({ example: 'Africa/Dar_es_Salaam' }),
    max_occurrences: z.number().int().nullable(),
    ends_at: z.string().nullable(),
    misfire_policy: misfireSchema,
    next_run_at: z
      .string()
      .nullable()
      .meta({ description: 'The next occurrence; null once nothing is left' }),
    occurrence_count: z.number().int().meta({ description: 'Occurrences fired (notifications created)' }),
    last_run_at: z.string().nullable(),
    last_notification_id: z.uuid().nullable(),
    request: z
      .record(z.string(), z.unknown())
      .meta({ description: 'The send, as it will be made each time' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'Schedule',
    example: {
      id: EXAMPLE_IDS.schedule,
      name: 'weekday-digest',
      status: 'active',
      scheduled_at: '2026-11-26T04:00:00.000Z',
      recurrence: 'cron',
      cron: '0 7 * * MON-FRI',
      timezone: 'Africa/Dar_es_Salaam',
      max_occurrences: null,
      ends_at: null,
      misfire_policy: 'fire_once',
      next_run_at: '2026-11-26T04:00:00.000Z',
      occurrence_count: 0,
      last_run_at: null,
      last_notification_id: null,
      request: {
        topic: 'sports.football',
        title: 'Your morning football digest',
        body: 'Results, fixtures and transfer news from last night.',
      },
      created_at: '2026-11-25T09:30:00.000Z',
      updated_at: '2026-11-25T09:30:00.000Z',
    },
  });

const scheduleFields = {
  scheduled_at: isoDate.optional().meta({
    description:
      'The first occurrence, ISO 8601 with an offset; must not be in the past. Required unless recurrence is ' +
      'cron, which then starts now',
    example: '2026-12-01T09:00:00+03:00',
  }),
  recurrence: recurrenceSchema.default('none').meta({
    description:
      'none: once. daily, weekly, monthly: at the wall-clock time of scheduled_at in timezone (monthly on ' +
      'the same day, the last day in shorter months). cron: the cron expression',
  }),
  cron: z.string().min(1).max(200).optional().meta({
    description: '5 fields (minute hour day month weekday), or 6 with seconds first, read in timezone',
    example: '0 9 * * MON-FRI',
  }),
  timezone: z
    .string()
    .min(1)
    .max(64)
    .default('UTC')
    .meta({ description: 'IANA time zone of the wall-clock times', example: 'Africa/Dar_es_Salaam' }),
  max_occurrences: z.number().int().min(1).max(1_000_000).optional().meta({
    description: 'Stop after this many notifications',
  }),
  ends_at: isoDate.optional().meta({ description: 'No occurrence after this instant' }),
  misfire_policy: misfireSchema.default('fire_once').meta({
    description:
      'Occurrences more than SCHEDULER_MISFIRE_GRACE_MS late (server down, schedule paused) were missed. ' +
      'catch_up: fire each of them; fire_once: fire one for them all (none if an on-time one fires); ' +
      'skip: fire none',
  }),
  name: z.string().min(1).max(255).optional(),
};

/** The send body's fields plus when to send; the send's own cross-field rules (one target) still hold. */
const scheduleBody = z
  .strictObject({ ...sendBodySchema.shape, ...scheduleFields })
  .superRefine((value, ctx) => {
    const checked = sendBodySchema.safeParse(splitScheduleInput(value).send);
    for (const issue of checked.error?.issues ?? []) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
  });

const idempotencyHeader = z.object({
  'idempotency-key': z.string().max(255).optional().meta({
    description: 'Makes retries safe: the first response to a key is replayed, nothing is scheduled twice',
  }),
});

const changeErrors = { 404: errorSchema, 409: errorSchema, ...authErrors };

const ACTION_SUMMARIES: Record<ScheduleAction, string> = {
  pause: 'Pause a schedule (nothing fires until it is resumed)',
  resume: 'Resume a paused schedule (missed occurrences are handled per its misfire_policy)',
  cancel: 'Cancel a schedule for good (it stays readable)',
};

export const scheduleRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/notify/schedule',
      {
        config: { scope: 'send', idempotent: true },
        schema: {
          operationId: 'scheduleNotification',
          tags: ['schedules'],
          summary: 'Schedule a send, once or recurring',
          description:
            'The body of POST /notify plus when to send it. The send is checked now as it will be made ' +
            '(target, template variables, FCM limits) and nothing is sent until the first occurrence. Each ' +
            'occurrence is its own notification (GET /notifications?schedule_id=…).',
          headers: idempotencyHeader,
          body: scheduleBody.meta({
            examples: [
              {
                name: 'weekday-digest',
                topic: 'sports.football',
                title: 'Your morning football digest',
                body: 'Results, fixtures and transfer news from last night.',
                recurrence: 'cron',
                cron: '0 7 * * MON-FRI',
                timezone: 'Africa/Dar_es_Salaam',
              },
            ],
          }),
          response: {
            201: scheduleSchema,
            404: errorSchema,
            409: errorSchema,
            413: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request, reply) => {
        const created = await services.schedules.createSchedule(principalOf(request).clientId, request.body, {
          requestId: request.id,
        });
        return reply.code(201).header('location', `/api/v1/schedules/${created.id}/`).send(created);
      },
    );

    app.get(
      '/schedules',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listSchedules',
          tags: ['schedules'],
          summary: 'List schedules, oldest first',
          querystring: z.strictObject({
            ...pageQuery,
            status: statusSchema.optional(),
            recurrence: recurrenceSchema.optional(),
          }),
          response: { 200: page(scheduleSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, status, recurrence } = request.query;
        return services.schedules.listSchedulePage(
          principalOf(request).clientId,
          { status, recurrence },
          limit,
          cursor,
        );
      },
    );

    app.get(
      '/schedules/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getSchedule',
          tags: ['schedules'],
          summary: 'Get a schedule',
          params: idParams,
          response: { 200: scheduleSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.schedules.getSchedule(principalOf(request).clientId, request.params.id),
    );

    for (const action of ['pause', 'resume', 'cancel'] as const) {
      app.post(
        `/schedules/:id/${action}`,
        {
          config: { scope: 'send' },
          schema: {
            operationId: `${action}Schedule`,
            tags: ['schedules'],
            summary: ACTION_SUMMARIES[action],
            params: idParams,
            response: { 200: scheduleSchema, ...changeErrors },
          },
        },
        async (request) =>
          services.schedules.changeSchedule(principalOf(request).clientId, request.params.id, action),
      );
    }
  };
