/** /api/v1/templates: CRUD of the tenant's notification templates, and previewing one with variables. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { templateRefSchema } from '../../../services/send-request.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_IDS, idParams, page, pageQuery, queryBool } from '../../schemas.ts';
import { contentFields } from './notify.routes.ts';

const TEMPLATE_NAME = /^[A-Za-z0-9_.-]+$/;
/** BCP 47-ish: a 2-3 letter language, then subtags such as a region or script ("pt-BR", "zh_Hant"). */
const LOCALE_TAG = /^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$/;
const MAX_LOCALES = 50;
/** FCM's whole payload limit: a part bigger than this can never be sent. */
const MAX_JSON_BYTES = 4096;

const fitsIn = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= MAX_JSON_BYTES;

const dataSchema = contentFields.data
  .unwrap()
  .refine(fitsIn, 'data must be at most 4 KB of JSON')
  .meta({
    description: 'Key/value pairs delivered to the app; values are strings and may hold placeholders',
    example: { order_id: '{{order_id}}', screen: 'order_details' },
  });

const optionsSchema = z
  .strictObject({
    image_url: contentFields.image_url,
    sound: contentFields.sound,
    badge: contentFields.badge,
    // No default here: an option left out stays out, and the send decides.
    priority: contentFields.priority.unwrap().optional(),
    ttl_seconds: contentFields.ttl_seconds,
    collapse_key: contentFields.collapse_key,
    android_channel_id: contentFields.android_channel_id,
    click_action: contentFields.click_action,
    link: contentFields.link,
    analytics_label: contentFields.analytics_label,
    silent: contentFields.silent,
  })
  .meta({ description: 'The other content fields of a send, as in POST /notify (not templated)' });

const platformBlock = z.record(z.string(), z.unknown());
const overridesSchema = z
  .strictObject({
    android: platformBlock.optional(),
    apns: platformBlock.optional(),
    webpush: platformBlock.optional(),
  })
  .refine(fitsIn, 'platform_overrides must be at most 4 KB of JSON')
  .meta({
    description:
      'Raw FCM v1 android / apns / webpush blocks merged into the message; placeholders in their strings are filled in',
    example: { android: { notification: { tag: 'order-{{order_id}}' } } },
  });

const localeVariantSchema = z.strictObject({
  title: contentFields.title,
  body: contentFields.body,
  data: dataSchema.optional(),
});

const localesSchema = z
  .record(z.string(), localeVariantSchema)
  .superRefine((locales, ctx) => {
    const tags = Object.keys(locales);
    // Checked here rather than by a key schema, whose failure Zod reports only as "Invalid key in record".
    for (const tag of tags.filter((t) => !LOCALE_TAG.test(t))) {
      ctx.addIssue({
        code: 'custom',
        path: [tag],
        message: 'must be a locale tag such as fr, pt-BR or zh_Hant',
      });
    }
    if (tags.length > MAX_LOCALES) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_LOCALES} locales` });
    }
  })
  .meta({
    description:
      `Variants by device locale (at most ${MAX_LOCALES}; keys like fr, pt-BR or zh_Hant): each replaces the ` +
      'title and body it sets and merges its data over the default',
    example: { fr: { title: 'Commande {{order_id}} confirmée' } },
  });

const templateSchema = z
  .object({
    id: z.uuid(),
    name: z.string().meta({ example: 'order_confirmed' }),
    description: z.string().nullable(),
    title: z.string().nullable().meta({ example: 'Order {{order_id}} confirmed' }),
    body: z.string().nullable(),
    data: z.record(z.string(), z.string()),
    options: optionsSchema,
    platform_overrides: overridesSchema,
    locales: z.record(z.string(), localeVariantSchema),
    variables: z.array(z.string()).meta({
      description: 'Every placeholder name the template uses, sorted',
      example: ['name', 'order_id'],
    }),
    is_active: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'Template',
    example: {
      id: EXAMPLE_IDS.template,
      name: 'order_confirmed',
      description: 'Sent when an order is paid',
      title: 'Order {{order_id}} confirmed',
      body: 'Hi {{name}}, your order #{{order_id}} has been confirmed.',
      data: { order_id: '{{order_id}}', screen: 'order_details' },
      options: { priority: 'high', collapse_key: 'orders' },
      platform_overrides: {},
      locales: { fr: { title: 'Commande {{order_id}} confirmée', body: 'Bonjour {{name}} !' } },
      variables: ['name', 'order_id'],
      is_active: true,
      created_at: '2026-11-25T09:30:00.000Z',
      updated_at: '2026-11-25T09:30:00.000Z',
    },
  });

const templateInput = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(TEMPLATE_NAME, 'must be 1-100 characters of A-Z a-z 0-9 _ . -')
      .meta({ example: 'order_confirmed' }),
    description: z.string().max(1024).optional(),
    title: contentFields.title,
    body: contentFields.body,
    data: dataSchema.optional(),
    options: optionsSchema.optional(),
    platform_overrides: overridesSchema.optional(),
    locales: localesSchema.optional(),
    is_active: z.boolean().default(true).meta({ description: 'Inactive templates cannot be sent with' }),
  })
  .meta({
    description:
      'Placeholders are {{name}} (a letter or _, then A-Z a-z 0-9 _ . -); values are inserted as they are. ' +
      'A template needs a title or a body unless options.silent is true.',
    examples: [
      {
        name: 'order_confirmed',
        description: 'Sent when an order is paid',
        title: 'Order {{order_id}} confirmed',
        body: 'Hi {{name}}, your order #{{order_id}} has been confirmed.',
        data: { order_id: '{{order_id}}', screen: 'order_details' },
        options: { priority: 'high', collapse_key: 'orders' },
        locales: { fr: { title: 'Commande {{order_id}} confirmée', body: 'Bonjour {{name}} !' } },
      },
    ],
  });

/** The preview of the template example for the variables of the preview example. */
const RENDERED_EXAMPLE = {
  title: 'Commande 1234 confirmée',
  body: 'Bonjour Asha !',
  data: { order_id: '1234', screen: 'order_details' },
  priority: 'high',
  collapse_key: 'orders',
};

const renderedSchema = z
  .object({
    title: z.string().optional(),
    body: z.string().optional(),
    data: z.record(z.string(), z.string()).optional(),
    ...optionsSchema.shape,
    platform_overrides: overridesSchema.optional(),
  })
  .meta({
    id: 'RenderedTemplate',
    description: 'The content of a send, in API names',
    example: RENDERED_EXAMPLE,
  });

const previewInput = z
  .strictObject({
    variables: z
      .record(z.string().min(1).max(64), z.string().max(4096))
      .default({})
      .meta({ example: { order_id: '1234', name: 'Ada' } }),
    locale: z.string().min(1).max(35).optional().meta({
      description: 'A device locale: exact variant, else its language, else the default',
      example: 'fr-CA',
    }),
  })
  .meta({ examples: [{ variables: { order_id: '1234', name: 'Asha' }, locale: 'fr-CA' }] });

export const templateRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/templates',
      {
        config: { scope: 'manage', idempotent: true },
        schema: {
          operationId: 'createTemplate',
          tags: ['templates'],
          summary: 'Create a template',
          body: templateInput,
          response: { 201: templateSchema, 409: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(await services.templates.createTemplate(principalOf(request).clientId, request.body)),
    );

    app.get(
      '/templates',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listTemplates',
          tags: ['templates'],
          summary: 'List templates',
          querystring: z.strictObject({
            ...pageQuery,
            active: queryBool.optional().meta({ description: 'Only active (true) or inactive (false) ones' }),
            name_prefix: z.string().min(1).max(100).optional(),
          }),
          response: { 200: page(templateSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, active, name_prefix } = request.query;
        return services.templates.listTemplatePage(
          principalOf(request).clientId,
          { active, namePrefix: name_prefix },
          limit,
          cursor,
        );
      },
    );

    app.get(
      '/templates/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getTemplate',
          tags: ['templates'],
          summary: 'Get a template',
          params: idParams,
          response: { 200: templateSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.templates.getTemplate(principalOf(request).clientId, request.params.id),
    );

    app.put(
      '/templates/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'updateTemplate',
          tags: ['templates'],
          summary: 'Replace a template (fields not sent are cleared)',
          params: idParams,
          body: templateInput,
          response: {
            200: templateSchema,
            404: errorSchema,
            409: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.templates.replaceTemplate(principalOf(request).clientId, request.params.id, request.body),
    );

    app.delete(
      '/templates/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'deleteTemplate',
          tags: ['templates'],
          summary: 'Delete a template',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.templates.deleteTemplate(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/templates/:id/preview',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'previewTemplate',
          tags: ['templates'],
          summary: 'Render a template with variables, as a device with the given locale would get it',
          params: z.object({
            id: templateRefSchema.meta({
              description: 'The template id or name, as a send names it',
              example: 'order_confirmed',
            }),
          }),
          body: previewInput,
          response: {
            200: z.object({ rendered: renderedSchema }).meta({ example: { rendered: RENDERED_EXAMPLE } }),
            404: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.templates.previewTemplate(principalOf(request).clientId, request.params.id, request.body),
    );
  };
