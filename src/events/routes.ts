import { Type } from 'typebox';
import { principalOf } from '../http/auth.js';
import { type App, Cursor, Limit, Timestamp, errorResponses, pageSchema } from '../http/types.js';
import { TICKET_EVENT_TYPES } from './outbox.js';
import type { EventService } from './service.js';

const EventSchema = Type.Object({
  id: Type.String({ description: 'evt_…; the webhook-id header of its deliveries' }),
  type: Type.String(),
  timestamp: Timestamp,
  data: Type.Unknown({ description: '{ticket, changes?, message?}: the same body webhooks deliver' }),
});

const ListEventsQuery = Type.Object(
  {
    type: Type.Optional(Type.Unsafe<string>(Type.Enum([...TICKET_EVENT_TYPES], { description: TICKET_EVENT_TYPES.join(', ') }))),
    after: Type.Optional(Type.Union([Cursor], { description: 'A next_cursor, or the id of the last event you processed (evt_…)' })),
    limit: Limit(500, 100),
  },
  { additionalProperties: false },
);

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
    },
    async (request) => events.list(principalOf(request), request.query),
  );
}
