import type { Db, DbOrTx } from '../db/schema.js';

/** A count to add to one bucket's fixed window. */
export interface CounterDelta {
  bucket: string;
  windowStart: number;
  count: number;
  /** When the row stops mattering (two windows after it starts). */
  expiresAt: number;
}

export interface CounterTotal {
  bucket: string;
  windowStart: number;
  count: number;
}

// 4 parameters a row: well under SQLite's and PostgreSQL's bound-parameter limits.
const UPSERT_CHUNK = 500;
const READ_CHUNK = 500;

function upsert(db: DbOrTx, deltas: CounterDelta[]) {
  return db
    .insertInto('rate_limit_counters')
    .values(deltas.map((d) => ({ bucket: d.bucket, window_start: d.windowStart, count: d.count, expires_at: d.expiresAt })))
    .onConflict((oc) =>
      oc.columns(['bucket', 'window_start']).doUpdateSet((eb) => ({ count: eb('rate_limit_counters.count', '+', eb.ref('excluded.count')) })),
    );
}

/**
 * Adds every delta in one transaction (one fsync on SQLite), whatever their number. Each
 * (bucket, window) must appear once: PostgreSQL refuses to update a row twice in one statement.
 */
export async function addCounts(db: Db, deltas: CounterDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  if (deltas.length <= UPSERT_CHUNK) {
    await upsert(db, deltas).execute();
    return;
  }
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < deltas.length; i += UPSERT_CHUNK) await upsert(trx, deltas.slice(i, i + UPSERT_CHUNK)).execute();
  });
}

/** Adds the deltas (as `addCounts`) and returns each bucket's new total across every process. */
export async function addCountsReturningTotals(db: Db, deltas: CounterDelta[]): Promise<CounterTotal[]> {
  if (deltas.length === 0) return [];
  const run = async (dbx: DbOrTx) => {
    const out: CounterTotal[] = [];
    for (let i = 0; i < deltas.length; i += UPSERT_CHUNK) {
      const rows = await upsert(dbx, deltas.slice(i, i + UPSERT_CHUNK))
        .returning(['bucket', 'window_start', 'count'])
        .execute();
      for (const r of rows) out.push({ bucket: r.bucket, windowStart: Number(r.window_start), count: Number(r.count) });
    }
    return out;
  };
  return deltas.length <= UPSERT_CHUNK ? run(db) : db.transaction().execute(run);
}

/** The live windows (not yet expired at `now`) of these buckets. */
export async function readCounts(db: Db, buckets: string[], now: number): Promise<CounterTotal[]> {
  const out: CounterTotal[] = [];
  for (let i = 0; i < buckets.length; i += READ_CHUNK) {
    const rows = await db
      .selectFrom('rate_limit_counters')
      .select(['bucket', 'window_start', 'count'])
      .where('bucket', 'in', buckets.slice(i, i + READ_CHUNK))
      .where('expires_at', '>', now)
      .execute();
    for (const r of rows) out.push({ bucket: r.bucket, windowStart: Number(r.window_start), count: Number(r.count) });
  }
  return out;
}

/** Deletes the windows that no limiter reads any more. */
export async function deleteExpiredCounts(db: Db, now: number): Promise<void> {
  await db.deleteFrom('rate_limit_counters').where('expires_at', '<=', now).execute();
}
