/**
 * GET /api/v1/events/stream: the live event stream over WebSocket (docs/event-stream.md). Authentication,
 * scope, query validation and the resume point are checked before the upgrade, so a refusal is an ordinary
 * HTTP error in our format. OpenAPI cannot describe the messages of a WebSocket: the document shows the upgrade
 * request (query, credentials, 101) and points to docs/event-stream.md for the rest.
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.ts';
import type { StreamRequest } from '../../../services/event-stream.service.ts';
import { EVENT_TYPES } from '../../../services/events.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { serveEventSocket } from '../../event-socket.ts';
import { authErrors } from '../../schemas.ts';

const streamQuery = z.object({
  types: z
    .string()
    .max(1000)
    .transform((value) =>
      value
        .split(',')
        .map((type) => type.trim())
        .filter((type) => type.length > 0),
    )
    .pipe(z.array(z.enum(EVENT_TYPES).exclude(['webhook.test'])).min(1, 'name at least one event type'))
    .optional()
    .meta({
      description: 'Comma-separated event types to receive (default: all)',
      example: 'notification.completed,notification.failed',
    }),
  notification_id: z.uuid().optional().meta({ description: 'Only the events of this notification' }),
  after: z
    .string()
    .regex(/^evt_[0-9a-f]{32}$/, 'must be an event id such as evt_0193e1b27c4a7d1e9a513f2a4b5c6d7e')
    .optional()
    .meta({ description: 'Resume after this event id (replays what was missed)' }),
});

const streamSchema = {
  operationId: 'streamEvents',
  tags: ['events'],
  summary: 'Receive events live over a WebSocket',
  description:
    'A WebSocket upgrade (GET with `Connection: Upgrade`, `Upgrade: websocket`). Authenticate with the ' +
    'Client-ID and Client-Token headers, or, from a browser, which cannot set headers on a WebSocket, with ' +
    'the subprotocols `fcms.events.v1` and `fcms.token.<client token>`: ' +
    "`new WebSocket(url, ['fcms.events.v1', 'fcms.token.' + token])`. Each message is one event as JSON, the " +
    'same as a webhook body. A plain GET answers 426. See docs/event-stream.md.',
  querystring: streamQuery,
  response: {
    101: z.null().meta({ description: 'Switching Protocols: the events follow as WebSocket messages' }),
    400: errorSchema,
    426: errorSchema,
    ...authErrors,
  },
};

export const eventStreamRoutes =
  ({ services, config }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const stream = services.eventStream;
    if (!stream) return;
    const prepared = new WeakMap<FastifyRequest, StreamRequest>();
    app.route({
      method: 'GET',
      url: '/events/stream',
      config: { scope: 'read' },
      schema: streamSchema,
      preHandler: async (request) => {
        prepared.set(request, await stream.prepare(principalOf(request).clientId, request.query));
      },
      handler: async () => {
        throw new AppError(
          'upgrade_required',
          426,
          'this is a WebSocket endpoint: connect with a WebSocket client (see docs/event-stream.md)',
          [],
          { upgrade: 'websocket' },
        );
      },
      wsHandler: (socket, request) => {
        serveEventSocket(socket, stream, prepared.get(request)!, config.eventStream);
      },
    });
  };
