import type { DialectAdapter } from 'kysely';
import type { DbOrTx } from '../db/schema.js';

/** How many tickets wait ahead of one, as read when its queue was at `version`. */
export interface KeptPlace {
  queueId: string;
  version: number;
  waitingBefore: number;
}

/**
 * Queue positions this process read, by ticket: retrieving a ticket reads its queue's
 * `waiting_version` with the row (migration 0023) and walks the queue's tree only when the
 * version differs from the one its kept place was read at, or the ticket is in another queue now.
 * The version moves with every change to the queue's waiting tickets, made by any process, in the
 * transaction of the change, so a kept place is exact for as long as it is used.
 *
 * Only places read outside a transaction are kept: a version read inside one may be rolled back
 * and then reached again by other writes. Bounded by count; the least recently stored go first.
 */
export class PlaceCache {
  readonly #places = new Map<string, KeptPlace>();

  constructor(readonly capacity = 100_000) {}

  get(ticketId: string): KeptPlace | undefined {
    return this.#places.get(ticketId);
  }

  set(ticketId: string, place: KeptPlace): void {
    this.#places.delete(ticketId);
    this.#places.set(ticketId, place);
    if (this.#places.size > this.capacity) this.#places.delete(this.#places.keys().next().value!);
  }
}

// By dialect adapter, one per database, as the prepared readers are (src/db/prepared.ts).
const caches = new WeakMap<DialectAdapter, PlaceCache>();

/** The database's place cache; undefined in a transaction, whose reads must not be kept. */
export function placeCacheOf(db: DbOrTx): PlaceCache | undefined {
  if (db.isTransaction) return undefined;
  const adapter = db.getExecutor().adapter;
  let cache = caches.get(adapter);
  if (!cache) caches.set(adapter, (cache = new PlaceCache()));
  return cache;
}
