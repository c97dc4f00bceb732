import type { Insertable } from 'kysely';
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

/** Which of `ids` name a brand; in batches that stay under every dialect's parameter limit. */
export async function listExistingBrandIds(db: DbOrTx, ids: readonly string[]): Promise<string[]> {
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
