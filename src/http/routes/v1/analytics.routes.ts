/** /api/v1/analytics: sending and receipt numbers of the tenant over a date range (UTC days), totals and series. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { platformSchema } from '../../../domain/platform.ts';
import { isDay } from '../../../lib/days.ts';
import { MAX_RANGE_DAYS, type Period } from '../../../services/analytics.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_ID } from '../../schemas.ts';

const day = (description: string) =>
  z
    .string()
    .refine(isDay, 'must be a date as YYYY-MM-DD')
    .optional()
    .meta({ description, example: '2026-11-24' });

const rangeQuery = z.strictObject({
  from: day('First day (UTC), inclusive. Default: 6 days before `to`'),
  to: day(`Last day (UTC), inclusive. Default: today. At most ${MAX_RANGE_DAYS} days from \`from\``),
  topic_id: z.uuid().optional().meta({ description: 'Only sends to this topic', example: EXAMPLE_ID }),
  platform: platformSchema.optional().meta({ description: 'Only deliveries to this platform' }),
});

const stats = {
  notifications: z.int().min(0).meta({
    description:
      'Notifications created in the period; per platform, those with at least one delivery to the platform',
  }),
  deliveries: z.int().min(0).meta({ description: 'Deliveries of those notifications (one per device)' }),
  sent: z.int().min(0).meta({ description: 'Deliveries FCM accepted (including delivered and read)' }),
  delivered: z.int().min(0).meta({ description: 'Deliveries the app reported delivered (including read)' }),
  read: z.int().min(0).meta({ description: 'Deliveries the app reported read' }),
  failed: z.int().min(0).meta({ description: 'Deliveries that failed for good (failed or dead)' }),
  skipped: z
    .int()
    .min(0)
    .meta({ description: 'Deliveries withheld by a frequency cap or quiet hours (drop)' }),
  expired: z.int().min(0).meta({ description: "Deliveries not sent by their send's expires_at" }),
  cancelled: z.int().min(0).meta({ description: 'Deliveries stopped by a cancel' }),
  delivery_rate: z.number().nullable().meta({ description: 'delivered / sent, null when nothing was sent' }),
  read_rate: z.number().nullable().meta({ description: 'read / delivered, null when nothing was delivered' }),
  avg_delivery_ms: z
    .number()
    .nullable()
    .meta({ description: 'Mean of delivered_at - sent_at over delivered deliveries, in ms' }),
  p95_delivery_ms: z
    .number()
    .nullable()
    .meta({
      description:
        '95th percentile of delivered_at - sent_at, in ms: exact for one day; over several days the ' +
        'delivered-weighted mean of the daily percentiles (see p95_exact)',
    }),
  p95_exact: z.boolean().meta({ description: 'False when p95_delivery_ms is the multi-day approximation' }),
};

const statsExample = {
  notifications: 12,
  deliveries: 1480,
  sent: 1450,
  delivered: 1302,
  read: 417,
  failed: 30,
  skipped: 0,
  expired: 0,
  cancelled: 0,
  delivery_rate: 0.8979,
  read_rate: 0.3203,
  avg_delivery_ms: 412.5,
  p95_delivery_ms: 1180,
  p95_exact: false,
};

const statsSchema = z.object(stats).meta({ id: 'AnalyticsStats', example: statsExample });

const overviewSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    timezone: z.literal('UTC'),
    totals: statsSchema,
    by_platform: z.array(z.object({ platform: platformSchema, ...stats })),
    by_topic: z.array(
      z.object({
        topic_id: z.uuid().nullable().meta({ description: 'null: sends that were not to a topic' }),
        topic_name: z
          .string()
          .nullable()
          .meta({ description: 'null for non-topic sends and deleted topics' }),
        ...stats,
      }),
    ),
  })
  .meta({
    id: 'AnalyticsOverview',
    example: {
      from: '2026-11-18',
      to: '2026-11-24',
      timezone: 'UTC',
      totals: statsExample,
      by_platform: [{ platform: 'android', ...statsExample }],
      by_topic: [{ topic_id: EXAMPLE_ID, topic_name: 'sports.football', ...statsExample }],
    },
  });

const seriesSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    timezone: z.literal('UTC'),
    items: z.array(
      z.object({
        period: z
          .string()
          .meta({ description: 'The day (2026-11-24), ISO week (2026-W48) or month (2026-11)' }),
        start: z.string().meta({ description: "The period's first day inside the range" }),
        end: z.string().meta({ description: "The period's last day inside the range" }),
        ...stats,
      }),
    ),
  })
  .meta({
    id: 'AnalyticsSeries',
    example: {
      from: '2026-11-23',
      to: '2026-11-24',
      timezone: 'UTC',
      items: [
        { period: '2026-11-23', start: '2026-11-23', end: '2026-11-23', ...statsExample, p95_exact: true },
        { period: '2026-11-24', start: '2026-11-24', end: '2026-11-24', ...statsExample, p95_exact: true },
      ],
    },
  });

const errors = { 400: errorSchema, 422: errorSchema, ...authErrors };

const series: { path: string; period: Period; operationId: string; summary: string }[] = [
  {
    path: '/analytics/daily',
    period: 'daily',
    operationId: 'getDailyAnalytics',
    summary: 'Numbers per day (UTC), zero-filled',
  },
  {
    path: '/analytics/weekly',
    period: 'weekly',
    operationId: 'getWeeklyAnalytics',
    summary: 'Numbers per ISO week (Monday start), zero-filled',
  },
  {
    path: '/analytics/monthly',
    period: 'monthly',
    operationId: 'getMonthlyAnalytics',
    summary: 'Numbers per calendar month, zero-filled',
  },
];

export const analyticsRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/analytics',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getAnalytics',
          tags: ['analytics'],
          summary: 'Totals over a date range, per platform and per topic',
          description:
            'Every number of a notification counts on the UTC day it was created. Today and yesterday are ' +
            'computed live; older days come from the daily roll-up. See docs/analytics.md.',
          querystring: rangeQuery,
          response: { 200: overviewSchema, ...errors },
        },
      },
      async (request) => services.analytics.getOverview(principalOf(request).clientId, request.query),
    );

    for (const { path, period, operationId, summary } of series) {
      app.get(
        path,
        {
          config: { scope: 'read' },
          schema: {
            operationId,
            tags: ['analytics'],
            summary,
            description:
              'One item per period touching the range, oldest first; periods cut by the range count only ' +
              'their days inside it (start, end).',
            querystring: rangeQuery,
            response: { 200: seriesSchema, ...errors },
          },
        },
        async (request) => services.analytics.getSeries(principalOf(request).clientId, period, request.query),
      );
    }
  };
