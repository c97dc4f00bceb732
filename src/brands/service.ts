import type { BrandRow, Db } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { AppError, notFound, validationError } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import * as queueStore from '../queues/store.js';
import * as store from './store.js';

export const BRAND_ID_PATTERN = '^brand_[A-Za-z0-9_]{1,64}$';

export interface BrandView {
  id: string;
  name: string;
  default_queue_id: string;
  created_at: string;
  updated_at: string;
}

export function createBrandService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  /** Brand rows with their default queue ids, in one query whatever the number of brands. */
  async function views(rows: BrandRow[]): Promise<BrandView[]> {
    if (rows.length === 0) return [];
    const queues = await queueStore.listDefaultQueues(
      db,
      rows.map((r) => r.id),
    );
    const defaultQueue = new Map(queues.map((q) => [q.brand_id, q.id]));
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      default_queue_id: defaultQueue.get(row.id)!,
      created_at: row.created_at,
      updated_at: row.updated_at,
    }));
  }

  return {
    /** Creates a brand and its default queue. The id may be chosen by the client (`brand_123`). */
    async create(input: { id?: string | undefined; name: string }): Promise<BrandView> {
      const name = input.name.trim();
      if (!name) throw validationError('/name', 'must not be empty');
      if (input.id !== undefined && !new RegExp(BRAND_ID_PATTERN).test(input.id)) {
        throw validationError('/id', 'must match brand_[A-Za-z0-9_]+');
      }
      const now = clock.now();
      const id = input.id ?? newId('brand', now.getTime());
      const at = toTimestamp(now);
      return db
        .transaction()
        .execute(async (trx) => {
          if (await store.findBrand(trx, id)) throw new AppError('conflict', `Brand ${id} already exists`);
          await store.insertBrand(trx, { id, name, created_at: at, updated_at: at });
          await queueStore.insertQueue(trx, {
            id: newId('que', now.getTime()),
            brand_id: id,
            name: 'Default',
            match: null,
            sort_order: 0,
            is_default: 1,
            created_at: at,
            updated_at: at,
          });
          return { id, name, created_at: at, updated_at: at };
        })
        .then(async (created) => (await views([created]))[0]!);
    },

    async list(principal: Principal | null): Promise<BrandView[]> {
      return views(await store.listBrands(db, principal?.brandIds ?? null));
    },

    async get(principal: Principal | null, id: string): Promise<BrandView> {
      const row = await store.findBrand(db, id);
      if (!row || (principal && !canSeeBrand(principal, id))) throw notFound('Brand', id);
      return (await views([row]))[0]!;
    },

    async rename(principal: Principal | null, id: string, name: string): Promise<BrandView> {
      await this.get(principal, id);
      if (!name.trim()) throw validationError('/name', 'must not be empty');
      await store.updateBrandName(db, id, name.trim(), toTimestamp(clock.now()));
      return this.get(principal, id);
    },
  };
}

export type BrandService = ReturnType<typeof createBrandService>;
