/** /api/v1/firebase-projects: the tenant's Firebase service accounts (stored encrypted, never returned). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, idParams, page, pageQuery } from '../../schemas.ts';

const projectSchema = z
  .object({
    id: z.uuid(),
    project_id: z.string(),
    client_email: z.string(),
    private_key_id: z.string().nullable(),
    is_default: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'FirebaseProject',
    example: {
      id: '0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e',
      project_id: 'my-shop-app',
      client_email: 'fcm-sender@my-shop-app.iam.gserviceaccount.com',
      private_key_id: '3f1c2b7a9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a',
      is_default: true,
      created_at: '2026-11-25T09:30:00.000Z',
      updated_at: '2026-11-25T09:30:00.000Z',
    },
  });

export const firebaseProjectRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/firebase-projects',
      {
        config: { scope: 'manage', idempotent: true },
        schema: {
          operationId: 'createFirebaseProject',
          tags: ['firebase projects'],
          summary: 'Register a Firebase service account (a known project_id replaces its key)',
          body: z
            .strictObject({
              service_account: z
                .record(z.string(), z.unknown())
                .meta({ description: 'The service-account key JSON downloaded from the Firebase console' }),
              is_default: z.boolean().optional(),
            })
            .meta({
              examples: [
                {
                  service_account: {
                    type: 'service_account',
                    project_id: 'my-shop-app',
                    private_key_id: '3f1c2b7a9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a',
                    private_key:
                      '-----BEGIN PRIVATE KEY-----\n(the key from the file)\n-----END PRIVATE KEY-----\n',
                    client_email: 'fcm-sender@my-shop-app.iam.gserviceaccount.com',
                    token_uri: 'https://oauth2.googleapis.com/token',
                  },
                },
              ],
            }),
          response: { 200: projectSchema, 201: projectSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        const { project, created } = await services.firebaseProjects.registerFirebaseProject(
          principalOf(request).clientId,
          {
            serviceAccount: request.body.service_account,
            isDefault: request.body.is_default,
          },
        );
        return reply.code(created ? 201 : 200).send(project);
      },
    );

    app.get(
      '/firebase-projects',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listFirebaseProjects',
          tags: ['firebase projects'],
          summary: 'List Firebase projects',
          querystring: z.strictObject(pageQuery),
          response: { 200: page(projectSchema), ...authErrors },
        },
      },
      async (request) =>
        services.firebaseProjects.listProjectPage(
          principalOf(request).clientId,
          request.query.limit,
          request.query.cursor,
        ),
    );

    app.get(
      '/firebase-projects/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getFirebaseProject',
          tags: ['firebase projects'],
          summary: 'Get a Firebase project',
          params: idParams,
          response: { 200: projectSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.firebaseProjects.getProject(principalOf(request).clientId, request.params.id),
    );

    app.post(
      '/firebase-projects/:id/default',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'setDefaultFirebaseProject',
          tags: ['firebase projects'],
          summary: 'Make this the default project for sends',
          params: idParams,
          response: { 200: projectSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.firebaseProjects.makeDefault(principalOf(request).clientId, request.params.id),
    );

    app.delete(
      '/firebase-projects/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'deleteFirebaseProject',
          tags: ['firebase projects'],
          summary: 'Remove a Firebase project and its credentials',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.firebaseProjects.removeProject(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
