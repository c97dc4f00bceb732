import type { Insertable } from 'kysely';
import { prepareQuery } from '../db/prepared.js';
import type { BrandRow, BrandTable, DbOrTx } from '../db/schema.js';

export async function insertBrand(db: DbOrTx, row: Insertable<BrandTable>): Promise<void> {
  await db.insertInto('brands').values(row).execute();
}

export async function findBrand(db: DbOrTx, id: string): Promise<BrandRow | undefined> {
  return db.selectFrom('brands').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listBrands(db: DbOrTx, onlyIds: string[] | null): Promise<BrandRow[]> {
  let q = db.selectFrom('brands').selectAll().orderBy('id', 'asc');
  if (onlyIds) q = onlyIds.length ? q.where('id', 'in', onlyIds) : q.where('id', '=', '');
  return q.execute();
}

export async function updateBrandName(db: DbOrTx, id: string, name: string, at: string): Promise<void> {
  await db.updateTable('brands').set({ name, updated_at: at }).where('id', '=', id).execute();
}

const brandIdById = prepareQuery((db, p: { id: string }) => db.selectFrom('brands').select('id').where('id', '=', p.id));

/** Which of `ids` name a brand; in batches that stay under every dialect's parameter limit. */
export async function listExistingBrandIds(db: DbOrTx, ids: readonly string[]): Promise<string[]> {
  // One brand (every ticket create checks its brand_id): built once, and outside a transaction read
  // on the read connection rather than behind the writer's open group commit.
  if (ids.length === 1) return (await brandIdById.all(db, { id: ids[0]! })).map((row) => row.id);
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('brands')
      .select('id')
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const row of rows) out.push(row.id);
  }
  return out;
}

/** Each brand's addresses, first (the one replies are sent from) first. */
export async function listBrandAddresses(db: DbOrTx, brandIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (brandIds.length === 0) return out;
  for (let i = 0; i < brandIds.length; i += 500) {
    const rows = await db
      .selectFrom('brand_email_addresses')
      .select(['brand_id', 'address'])
      .where('brand_id', 'in', brandIds.slice(i, i + 500))
      .orderBy('brand_id')
      .orderBy('position')
      .execute();
    for (const row of rows) out.set(row.brand_id, [...(out.get(row.brand_id) ?? []), row.address]);
  }
  return out;
}

/** The brand an address belongs to, if any. */
export async function findBrandOfAddress(db: DbOrTx, address: string): Promise<string | undefined> {
  return (await db.selectFrom('brand_email_addresses').select('brand_id').where('address', '=', address).executeTakeFirst())?.brand_id;
}

/** Which of `addresses` belong to a brand other than `brandId`, with that brand. */
export async function findAddressesOfOtherBrands(db: DbOrTx, brandId: string, addresses: readonly string[]): Promise<{ address: string; brand_id: string }[]> {
  if (addresses.length === 0) return [];
  return db.selectFrom('brand_email_addresses').select(['address', 'brand_id']).where('address', 'in', addresses).where('brand_id', '!=', brandId).execute();
}

/** Replaces the brand's addresses with `addresses`, in that order. */
export async function replaceBrandAddresses(db: DbOrTx, brandId: string, addresses: readonly string[]): Promise<void> {
  await db.deleteFrom('brand_email_addresses').where('brand_id', '=', brandId).execute();
  if (addresses.length) {
    await db
      .insertInto('brand_email_addresses')
      .values(addresses.map((address, position) => ({ address, brand_id: brandId, position })))
      .execute();
  }
}

/** Every brand address: the listener's own addresses, which it never takes mail from. */
export async function listAllAddresses(db: DbOrTx): Promise<string[]> {
  return (await db.selectFrom('brand_email_addresses').select('address').execute()).map((r) => r.address);
}
