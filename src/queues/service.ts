import type { Static } from 'typebox';
import type { Db, DbOrTx, QueueRow, TicketRow } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { requireVisibleBrand } from '../brands/visibility.js';
import { AppError, type FieldError, notFound, validationError } from '../http/problem.js';
import { schemaCheck } from '../http/validation.js';
import { type CursorCodec, cursorInteger } from '../http/cursor.js';
import { type Page, type PageQuery, pageOf, readCursor } from '../http/pagination.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { fromJsonText, toJsonText } from '../shared/json.js';
import { type Origin, PRIORITY_RANK, type Priority, type TicketView, checkTags, toTicketView } from '../shared/ticket-fields.js';
import { positionKey, waitingKey } from './position-index.js';
import { QueueSchema } from './schemas.js';
import * as store from './store.js';

export interface QueueMatch {
  tags?: string[];
  priority?: Priority[];
  origin?: Origin[];
}

export interface QueueView {
  id: string;
  brand_id: string;
  name: string;
  match: QueueMatch | null;
  order: number;
  is_default: boolean;
  created_at: string;
  updated_at: string;
}

export interface QueuePlacement {
  id: string;
  name: string;
  /** 1 + the tickets ahead in the queue; null when the ticket is not waiting (not open, or assigned). */
  position: number | null;
}

export const toQueueView = (row: QueueRow): QueueView => ({
  id: row.id,
  brand_id: row.brand_id,
  name: row.name,
  match: fromJsonText<QueueMatch | null>(row.match, null),
  order: row.sort_order,
  is_default: row.is_default === 1,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/** Every key present must hold (AND); within a key, any listed value matches (OR). */
export function queueMatches(match: QueueMatch, ticket: { tags: string[]; priority: string; origin: string }): boolean {
  if (match.tags && !match.tags.some((t) => ticket.tags.includes(t))) return false;
  if (match.priority && !match.priority.includes(ticket.priority as Priority)) return false;
  if (match.origin && !match.origin.includes(ticket.origin as Origin)) return false;
  return true;
}

/** The queue a ticket belongs in: the first routing queue (by order) that matches, else the default. */
export async function routeTicket(db: DbOrTx, brandId: string, ticket: { tags: string[]; priority: string; origin: string }): Promise<QueueRow> {
  const queues = await store.listQueues(db, [brandId]);
  // A routing queue without a match (one whose every tag was unusable, see migration 0005) takes nothing.
  const chosen = queues.find((q) => !q.is_default && q.match !== null && queueMatches(fromJsonText<QueueMatch>(q.match, {}), ticket));
  const fallback = queues.find((q) => q.is_default === 1);
  if (!chosen && !fallback) throw new Error(`brand ${brandId} has no default queue`);
  return chosen ?? fallback!;
}

/** Position of a ticket in its queue: 1 + waiting tickets of higher priority, or of equal priority that arrived earlier. */
export async function queuePlacement(db: DbOrTx, row: TicketRow): Promise<QueuePlacement> {
  const key = waitingKey(row);
  const found = key === undefined ? undefined : await store.findQueueWithWaitingBefore(db, row.queue_id, key);
  const queue = found?.queue ?? (await store.findQueue(db, row.queue_id));
  if (!queue) throw missingQueue(row);
  return { id: queue.id, name: queue.name, position: found ? found.waitingBefore + 1 : null };
}

const missingQueue = (row: Pick<TicketRow, 'id' | 'queue_id'>) => new Error(`ticket ${row.id} points at missing queue ${row.queue_id}`);

/**
 * A ticket's row and its queue placement, as `queuePlacement` makes it, read in one statement
 * (what retrieving a ticket reads); undefined when no ticket has the id. `queue()` throws if the
 * ticket's queue row is missing, as `queuePlacement` does.
 */
export async function findTicketWithPlacement(db: DbOrTx, id: string): Promise<{ row: TicketRow; queue(): QueuePlacement } | undefined> {
  const found = await store.findTicketWithPlace(db, id);
  if (!found) return undefined;
  const { ticket: row, queueName, waitingBefore } = found;
  return { row, queue: () => placementOf(row, queueName, waitingBefore) };
}

/** The placement from a queue name and the count ahead read with the ticket (`store.placeOf`); throws if the queue row is missing. */
export function placementOf(row: Pick<TicketRow, 'id' | 'queue_id'>, queueName: string | null, waitingBefore: number | null): QueuePlacement {
  if (queueName === null) throw missingQueue(row);
  return { id: row.queue_id, name: queueName, position: waitingBefore === null ? null : waitingBefore + 1 };
}

export interface CreateQueueInput {
  brand_id: string;
  name: string;
  match?: QueueMatch | undefined;
  order?: number | undefined;
}

function validateMatch(match: QueueMatch | undefined): QueueMatch {
  if (!match || (!match.tags?.length && !match.priority?.length && !match.origin?.length)) {
    throw validationError('/match', 'must select by at least one of tags, priority, origin');
  }
  const out: QueueMatch = {};
  if (match.tags?.length) out.tags = checkTags(match.tags, '/match/tags');
  if (match.priority?.length) out.priority = [...new Set(match.priority)];
  if (match.origin?.length) out.origin = [...new Set(match.origin)];
  return out;
}

const fitsQueueSchema = schemaCheck(QueueSchema);

/**
 * The last gate before a queue row is written: its view must satisfy the response schema, or every
 * later list of the brand would fail to serialize it. Normalisation above should make this
 * unreachable; if it is not, the client gets a 422 naming the field and nothing is stored.
 */
function assertServable(row: QueueRow): void {
  const errors: FieldError[] = fitsQueueSchema(toQueueView(row));
  if (errors.length) {
    throw new AppError('validation_failed', errors.map((e) => `${e.pointer} ${e.message}`).join('; '), { errors });
  }
}

const MAX_RANK = Math.max(...Object.values(PRIORITY_RANK));

export function createQueueService(deps: { db: Db; clock: Clock; cursors: CursorCodec }) {
  const { db, clock, cursors } = deps;

  async function getVisibleQueue(principal: Principal, id: string): Promise<QueueRow> {
    const row = await store.findQueue(db, id);
    if (!row || !canSeeBrand(principal, row.brand_id)) throw notFound('Queue', id);
    return row;
  }

  return {
    /** Adds a routing queue; it is checked before the default queue, in `order` (then creation) order. */
    async create(principal: Principal, input: CreateQueueInput): Promise<QueueView> {
      await requireVisibleBrand(db, principal, input.brand_id, '/brand_id');
      const match = validateMatch(input.match);
      const name = input.name.trim();
      if (!name) throw validationError('/name', 'must not be empty');
      const now = clock.now();
      let order = input.order;
      if (order === undefined) {
        const max = await store.maxRoutingOrder(db, input.brand_id);
        order = max === undefined ? 1 : max + 1;
      }
      const row: QueueRow = {
        id: newId('que', now.getTime()),
        brand_id: input.brand_id,
        name,
        match: toJsonText(match),
        sort_order: order,
        is_default: 0,
        created_at: toTimestamp(now),
        updated_at: toTimestamp(now),
        waiting_version: 0,
      };
      assertServable(row);
      await store.insertQueue(db, row);
      return toQueueView(row);
    },

    async update(principal: Principal, id: string, input: { name?: string; match?: QueueMatch; order?: number }): Promise<QueueView> {
      const row = await getVisibleQueue(principal, id);
      const set: Partial<QueueRow> = {};
      if (input.name !== undefined) {
        if (!input.name.trim()) throw validationError('/name', 'must not be empty');
        set.name = input.name.trim();
      }
      if (input.match !== undefined) {
        if (row.is_default) throw validationError('/match', 'the default queue takes every ticket no other queue matches');
        set.match = toJsonText(validateMatch(input.match));
      }
      if (input.order !== undefined) {
        if (row.is_default) throw validationError('/order', 'the default queue always comes last');
        set.sort_order = input.order;
      }
      if (Object.keys(set).length) {
        set.updated_at = toTimestamp(clock.now());
        assertServable({ ...row, ...set });
        await store.updateQueue(db, id, set);
      }
      return toQueueView((await store.findQueue(db, id))!);
    },

    get: async (principal: Principal, id: string): Promise<QueueView> => toQueueView(await getVisibleQueue(principal, id)),

    async list(principal: Principal, brandId: string | undefined): Promise<QueueView[]> {
      let ids = principal.brandIds;
      if (brandId) ids = canSeeBrand(principal, brandId) ? [brandId] : [];
      return (await store.listQueues(db, ids)).map(toQueueView);
    },

    /** The tickets waiting in a queue, in the order they will be picked up, with their positions. */
    async waitingTickets(principal: Principal, id: string, page: Static<typeof PageQuery>): Promise<Page<TicketView & { position: number }>> {
      await getVisibleQueue(principal, id);
      const after = await readCursor(cursors, 'queue_tickets', { id }, page.after, [cursorInteger(0, MAX_RANK), cursorInteger(1, 2 ** 32 - 1)]);
      const rows = await store.listWaitingTickets(db, id, { after, limit: page.limit + 1 });
      // Positions are read, not carried in the cursor: exact on every page, even when tickets left
      // the queue between two pages.
      const first = rows[0] ? (await store.countWaitingBefore(db, id, positionKey(rows[0].priority_rank, rows[0].queue_seq))) + 1 : 1;
      return pageOf(
        rows,
        page.limit,
        (r, i) => ({ ...toTicketView(r), position: first + i }),
        (last) => cursors.encode('queue_tickets', { id }, [last.priority_rank, last.queue_seq]),
      );
    },
  };
}

export type QueueService = ReturnType<typeof createQueueService>;
