import { isUniqueViolation } from '../db/errors.js';
import type { BrandRow, Db, DbOrTx } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { AppError, notFound, validationError } from '../http/problem.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import * as queueStore from '../queues/store.js';
import * as store from './store.js';

export const BRAND_ID_PATTERN = '^brand_[A-Za-z0-9_]{1,64}$';

/** How many addresses one brand may have. */
export const MAX_BRAND_ADDRESSES = 20;

// A plain address: no display name, no spaces, no `+` (plus-addressing carries our reply tokens).
const BRAND_ADDRESS = /^[a-z0-9!#$%&'*/=?^_`{|}~.-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Brand addresses as stored (trimmed, lower-cased), or a 422 naming the first bad one. */
export function checkBrandAddresses(addresses: readonly string[]): string[] {
  if (addresses.length > MAX_BRAND_ADDRESSES) throw validationError('/email_addresses', `must have at most ${MAX_BRAND_ADDRESSES} addresses`);
  const out: string[] = [];
  for (const [i, raw] of addresses.entries()) {
    const address = raw.trim().toLowerCase();
    const pointer = `/email_addresses/${i}`;
    if (address.includes('+')) throw validationError(pointer, 'must not contain + (plus-addressing carries the reply token of each ticket)');
    if (address.length > 254 || !BRAND_ADDRESS.test(address)) throw validationError(pointer, 'must be a plain e-mail address (local@domain)');
    if (out.includes(address)) throw validationError(pointer, `${address} is listed more than once`);
    out.push(address);
  }
  return out;
}

export interface BrandView {
  id: string;
  name: string;
  email_addresses: string[];
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
    const addresses = await store.listBrandAddresses(
      db,
      rows.map((r) => r.id),
    );
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      email_addresses: addresses.get(row.id) ?? [],
      default_queue_id: defaultQueue.get(row.id)!,
      created_at: row.created_at,
      updated_at: row.updated_at,
    }));
  }

  /** Gives the brand exactly `addresses`; a 409 when one of them is another brand's. */
  async function setAddresses(trx: DbOrTx, brandId: string, addresses: string[]): Promise<void> {
    const taken = await store.findAddressesOfOtherBrands(trx, brandId, addresses);
    if (taken.length) throw new AppError('conflict', `The address ${taken[0]!.address} already belongs to another brand`);
    try {
      await store.replaceBrandAddresses(trx, brandId, addresses);
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', 'One of these addresses already belongs to another brand');
      throw err;
    }
  }

  return {
    /** Creates a brand and its default queue. The id may be chosen by the client (`brand_123`). */
    async create(input: { id?: string | undefined; name: string; email_addresses?: string[] | undefined }): Promise<BrandView> {
      const name = input.name.trim();
      if (!name) throw validationError('/name', 'must not be empty');
      const addresses = checkBrandAddresses(input.email_addresses ?? []);
      if (input.id !== undefined && !new RegExp(BRAND_ID_PATTERN).test(input.id)) {
        throw validationError('/id', 'must match brand_[A-Za-z0-9_]+');
      }
      const now = clock.now();
      const id = input.id ?? newId('brand', now.getTime());
      const at = toTimestamp(now);
      const exists = () => new AppError('conflict', `Brand ${id} already exists`);
      return db
        .transaction()
        .execute(async (trx) => {
          if (await store.findBrand(trx, id)) throw exists();
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
          await setAddresses(trx, id, addresses);
          return { id, name, created_at: at, updated_at: at };
        })
        .catch((err: unknown) => {
          // Two creates of one chosen id at once: both found none; the primary key decides.
          throw isUniqueViolation(err) ? exists() : err;
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
      return this.update(principal, id, { name });
    },

    /** Changes the name and/or replaces the addresses (409 when one is another brand's). */
    async update(principal: Principal | null, id: string, input: { name?: string | undefined; email_addresses?: string[] | undefined }): Promise<BrandView> {
      await this.get(principal, id);
      if (input.name !== undefined && !input.name.trim()) throw validationError('/name', 'must not be empty');
      const addresses = input.email_addresses === undefined ? undefined : checkBrandAddresses(input.email_addresses);
      await db.transaction().execute(async (trx) => {
        if (input.name !== undefined) await store.updateBrandName(trx, id, input.name.trim(), toTimestamp(clock.now()));
        if (addresses !== undefined) await setAddresses(trx, id, addresses);
      });
      return this.get(principal, id);
    },

    /** The brand an address (lower-cased, without its +tag) belongs to, if any. */
    brandOfAddress: (address: string): Promise<string | undefined> => store.findBrandOfAddress(db, address),

    /** Every address of every brand (never taken as a sender). */
    allAddresses: (): Promise<string[]> => store.listAllAddresses(db),

    /** The brand's addresses, first first. */
    async addressesOf(brandId: string): Promise<string[]> {
      return (await store.listBrandAddresses(db, [brandId])).get(brandId) ?? [];
    },
  };
}

export type BrandService = ReturnType<typeof createBrandService>;
