import type { DbOrTx } from '../db/schema.js';

/** Which of these source ids were imported already (in an earlier run or batch). */
export async function listImportedIds(db: DbOrTx, source: string, externalIds: string[]): Promise<Set<string>> {
  if (externalIds.length === 0) return new Set();
  const rows = await db.selectFrom('import_records').select('external_id').where('source', '=', source).where('external_id', 'in', externalIds).execute();
  return new Set(rows.map((r) => r.external_id));
}

/** Records source ids as imported; called in the transaction that wrote their tickets. */
export async function insertImportRecords(db: DbOrTx, rows: { source: string; external_id: string; ticket_id: string; imported_at: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('import_records').values(rows).execute();
}

export async function countImportRecords(db: DbOrTx, source: string): Promise<number> {
  const row = await db
    .selectFrom('import_records')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('source', '=', source)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
