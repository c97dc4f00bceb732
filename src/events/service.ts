import type { Static } from 'typebox';
import type { Db } from '../db/schema.js';
import type { Principal } from '../auth/scopes.js';
import { type CursorCodec, cursorId } from '../http/cursor.js';
import { type Page, pageOf, readCursor } from '../http/pagination.js';
import { isId } from '../shared/ids.js';
import { TEST_EVENT_TYPE } from './outbox.js';
import { type EventPayload, toEventPayload } from './payload.js';
import type { ListEventsQuery } from './schemas.js';
import * as store from './store.js';

/** The event log, read side: what a consumer that was down replays to catch up. */
export function createEventService(deps: { db: Db; cursors: CursorCodec }) {
  const { db, cursors } = deps;
  return {
    /**
     * Oldest first. `after` is a next_cursor or, for catching up, the id of the last event the
     * consumer processed (`evt_…`). A brand-restricted token sees only its brands' events.
     */
    async list(principal: Principal, query: Static<typeof ListEventsQuery>): Promise<Page<EventPayload>> {
      const filters = { type: query.type };
      const afterId =
        query.after && isId('evt', query.after) ? query.after : (await readCursor(cursors, 'events', filters, query.after, [cursorId('evt')]))?.[0];
      const rows = await store.listEvents(db, {
        brandIds: principal.brandIds,
        type: query.type,
        excludeTypes: [TEST_EVENT_TYPE],
        afterId,
        limit: query.limit + 1,
      });
      return pageOf(rows, query.limit, toEventPayload, (last) => cursors.encode('events', filters, [last.id]));
    },
  };
}

export type EventService = ReturnType<typeof createEventService>;
