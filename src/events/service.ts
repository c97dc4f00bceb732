import type { Db } from '../db/schema.js';
import type { Principal } from '../auth/scopes.js';
import { type CursorCodec, cursorId } from '../http/cursor.js';
import { isId } from '../shared/ids.js';
import { type EventPayload, toEventPayload } from './payload.js';
import * as store from './store.js';

/** Sent to one endpoint on request; not part of the ticket event log. */
export const TEST_EVENT_TYPE = 'webhook.test';

export interface EventPage {
  data: EventPayload[];
  next_cursor: string | null;
}

/** The event log, read side: what a consumer that was down replays to catch up. */
export function createEventService(deps: { db: Db; cursors: CursorCodec }) {
  const { db, cursors } = deps;
  return {
    /**
     * Oldest first. `after` is a next_cursor or, for catching up, the id of the last event the
     * consumer processed (`evt_…`). A brand-restricted token sees only its brands' events.
     */
    async list(principal: Principal, query: { type?: string | undefined; after?: string | undefined; limit: number }): Promise<EventPage> {
      const filters = { type: query.type };
      let afterId: string | undefined;
      if (query.after && isId('evt', query.after)) {
        afterId = query.after;
      } else if (query.after) {
        [afterId] = await cursors.decode('events', filters, query.after, [cursorId('evt')]);
      }
      const rows = await store.listEvents(db, {
        brandIds: principal.brandIds,
        type: query.type,
        excludeTypes: [TEST_EVENT_TYPE],
        afterId,
        limit: query.limit + 1,
      });
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return {
        data: page.map(toEventPayload),
        next_cursor: rows.length > query.limit && last ? await cursors.encode('events', filters, [last.id]) : null,
      };
    },
  };
}

export type EventService = ReturnType<typeof createEventService>;
