/**
 * The JSON body parser: Fastify's own (prototype-poisoning checks included), except that an empty body means
 * "no body". Clients send `Content-Type: application/json` on every request, bodiless ones included (`curl -H`
 * with `-X DELETE`, the README's header array); those must reach the route as if no body was sent, so a route
 * that takes none succeeds and an optional body is absent. Malformed JSON is still a 400 `malformed_json`.
 */
import type { FastifyInstance } from 'fastify';

export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser<string>('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    parseJson(request, body, done);
  });
}
