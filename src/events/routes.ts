import { principalOf } from '../http/auth.js';
import { type App, errorResponses, pageSchema } from '../http/types.js';
import { EventSchema, ListEventsQuery } from './schemas.js';
import type { EventService } from './service.js';

export function eventRoutes(app: App, events: EventService): void {
  app.get(
    '/v1/events',
    {
      config: { scope: 'webhooks:manage', brands: 'filter' },
      schema: {
        tags: ['Webhooks'],
        summary: 'The event log',
        description:
          'Every ticket event, oldest first, in the shape webhooks deliver. A consumer that was down catches up by passing the id of the last event it processed as `after`.',
        querystring: ListEventsQuery,
        response: { 200: pageSchema(EventSchema), ...errorResponses(400) },
      },
      // Each event goes out as stored, byte for byte what its webhooks carry: the schema documents
      // the events, it must not filter them (a serializer built from it would drop unknown fields).
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request) => events.list(principalOf(request), request.query),
  );
}
