import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql, type Transaction } from 'kysely';
import type { Database, DbOrTx } from '../../src/db/schema.js';
import { batchEndWrites, groupCommit } from '../../src/db/transactions.js';
import { sqliteKeywordIndex } from '../../src/search/keyword-sqlite.js';
import { lockTicket } from '../../src/tickets/store.js';
import { build } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import { freshSqliteDatabase } from '../helpers/database.js';
import { holdThread } from '../helpers/event-loop.js';

async function freshDatabase(t: { after(fn: () => Promise<void> | void): void }) {
  return (await freshSqliteDatabase(t, 'nexus-group-commit')).db;
}

const at = '2026-01-01T00:00:00Z';
const brand = (id: string) => ({ id, name: id, created_at: at, updated_at: at });

/** A unit that writes a row each run (`brand_run_<n>`) and fails its first `aborted` runs as the database would, with `code`. */
function abortedUnit(code: string, aborted: number) {
  const unit = {
    runs: 0,
    work: async (trx: Transaction<Database>) => {
      unit.runs++;
      await trx
        .insertInto('brands')
        .values(brand(`brand_run_${unit.runs}`))
        .execute();
      if (unit.runs <= aborted) throw Object.assign(new Error(`aborted by the database (${code})`), { code });
      return 'done';
    },
  };
  return unit;
}

describe('group commit', () => {
  it('commits concurrent units together, keeps each unit whole, and rolls back only the one that failed', async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        tx.run(async (trx) => {
          await trx
            .insertInto('brands')
            .values(brand(`brand_${i}`))
            .execute();
          await trx
            .insertInto('brands')
            .values(brand(`brand_${i}_b`))
            .execute();
          if (i === 13) throw new Error('unit 13 fails after writing');
          return i;
        }),
      ),
    );
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'failed')),
      Array.from({ length: 40 }, (_, i) => (i === 13 ? 'failed' : i)),
    );
    assert.match(String((outcomes[13] as PromiseRejectedResult).reason), /unit 13 fails/);
    const ids = (await db.selectFrom('brands').select('id').execute()).map((r) => r.id);
    assert.equal(ids.length, 78, 'both rows of every unit but the failed one');
    assert.ok(!ids.includes('brand_13') && !ids.includes('brand_13_b'), 'nothing of the failed unit');
    const { commits, units, rerunWithSavepoints } = tx.stats();
    assert.equal(units, 40);
    assert.ok(commits < 40, `40 concurrent units took ${commits} commits`);
    assert.equal(rerunWithSavepoints, 1, 'the batch of unit 13 ran again, each unit in a savepoint');
  });

  it('runs units without savepoints while those that fail have written nothing, and commits the rest at once', async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db);
    const runs = new Map<number, number>();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        tx.run(async (trx) => {
          runs.set(i, (runs.get(i) ?? 0) + 1);
          // A read, then the unit's own check fails (a 404, a stale If-Match): nothing written.
          await trx.selectFrom('brands').select('id').execute();
          if (i % 5 === 2) throw new Error(`unit ${i} refuses before writing`);
          await trx
            .insertInto('brands')
            .values(brand(`brand_${i}`))
            .execute();
          return i;
        }),
      ),
    );
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'failed')),
      Array.from({ length: 20 }, (_, i) => (i % 5 === 2 ? 'failed' : i)),
    );
    assert.equal((await db.selectFrom('brands').select('id').execute()).length, 16);
    assert.deepEqual([...new Set(runs.values())], [1], 'no unit ran twice');
    assert.equal(tx.stats().rerunWithSavepoints, 0);
    assert.equal(tx.stats().commits, 1);
  });

  it('resolves a unit only after its commit, and a unit queued during a batch runs in the next', async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db);
    let secondQueued: Promise<string> | undefined;
    const first = tx.run(async (trx) => {
      await trx.insertInto('brands').values(brand('brand_first')).execute();
      secondQueued = tx.run(async (trx2) => {
        await trx2.insertInto('brands').values(brand('brand_second')).execute();
        return 'second';
      });
      return 'first';
    });
    assert.equal(await first, 'first');
    assert.ok(await db.selectFrom('brands').select('id').where('id', '=', 'brand_first').executeTakeFirst(), 'visible once resolved');
    assert.equal(await secondQueued, 'second');
    assert.deepEqual(tx.stats(), { commits: 2, units: 2, rerunWithSavepoints: 0 });
  });

  it('lets the event loop take a turn inside a long batch, and still commits the batch once, whole', async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db, { yieldAfterMs: 5 });
    // Queued by the batch's first unit: without a turn inside the batch it would run after the
    // commit. A query on the database started then waits for the batch's connection (Kysely's
    // mutex) and so sees all of it, never half.
    let queueDuringBatch = () => {};
    const duringBatch = new Promise<{ commitsAtTurn: number; read: Promise<{ commits: number; rows: number }> }>((resolve) => {
      queueDuringBatch = () =>
        setImmediate(() =>
          resolve({
            commitsAtTurn: tx.stats().commits,
            read: db
              .selectFrom('brands')
              .select('id')
              .execute()
              .then((rows) => ({ commits: tx.stats().commits, rows: rows.length })),
          }),
        );
    });
    // Each unit holds the loop 4 ms (a synchronous connection's work): 10 units are ~40 ms.
    const units = Array.from({ length: 10 }, (_, i) =>
      tx.run(async (trx) => {
        if (i === 0) queueDuringBatch();
        await trx
          .insertInto('brands')
          .values(brand(`brand_${i}`))
          .execute();
        holdThread(4);
        return i;
      }),
    );
    const { commitsAtTurn, read } = await duringBatch;
    assert.equal(commitsAtTurn, 0, 'the loop turned before the batch committed');
    assert.deepEqual(await Promise.all(units), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(await read, { commits: 1, rows: 10 }, 'the query started meanwhile ran after the commit');
    assert.deepEqual(tx.stats(), { commits: 1, units: 10, rerunWithSavepoints: 0 });
    assert.equal((await db.selectFrom('brands').select('id').execute()).length, 10);
  });

  it('fails every unit of a batch whose commit fails, and keeps none of it', async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db);
    // A deferred foreign key is checked at commit: the whole batch's commit fails.
    await sql`create table deferred_child (brand_id text references brands(id) deferrable initially deferred)`.execute(db);
    const results = await Promise.allSettled([
      tx.run(async (trx) => trx.insertInto('brands').values(brand('brand_ok')).execute()),
      tx.run(async (trx) =>
        trx
          .insertInto('deferred_child' as 'brands')
          .values({ brand_id: 'brand_missing' } as never)
          .execute(),
      ),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal((await db.selectFrom('brands').select('id').execute()).length, 0);
    // The next batch works.
    await tx.run(async (trx) => trx.insertInto('brands').values(brand('brand_after')).execute());
    assert.equal((await db.selectFrom('brands').select('id').execute()).length, 1);
  });

  it("runs a unit PostgreSQL aborted (deadlock, serialisation failure) again in the next batch, without its first run's writes", async (t) => {
    const db = await freshDatabase(t);
    // As on PostgreSQL, where nothing tells whether a failed unit wrote: every unit in a savepoint.
    const tx = groupCommit(db, { writeProbe: null });
    const unit = abortedUnit('40P01', 1);
    const results = await Promise.all([tx.run(async (trx) => trx.insertInto('brands').values(brand('brand_other')).execute()), tx.run(unit.work)]);
    assert.equal(results[1], 'done');
    assert.equal(unit.runs, 2);
    const ids = (await db.selectFrom('brands').select('id').orderBy('id').execute()).map((r) => r.id);
    assert.deepEqual(ids, ['brand_other', 'brand_run_2'], 'the aborted run rolled back, the other unit kept');
    assert.deepEqual(tx.stats(), { commits: 2, units: 3, rerunWithSavepoints: 0 }, 'the retry ran in a batch of its own, after the first committed');
  });

  it("gives up on a unit aborted 8 times, with the database's error, and keeps none of its runs", async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db, { writeProbe: null });
    const unit = abortedUnit('40001', Number.POSITIVE_INFINITY);
    await assert.rejects(tx.run(unit.work), { code: '40001' });
    assert.equal(unit.runs, 8);
    assert.equal((await db.selectFrom('brands').select('id').execute()).length, 0);
    // Any other error is the caller's at once.
    let runs = 0;
    await assert.rejects(
      tx.run(async () => {
        runs++;
        throw new Error('not the database');
      }),
      /not the database/,
    );
    assert.equal(runs, 1);
  });

  it("leaves a new search row to the batch's end, drops a failed unit's, and writes them before anything else touches the table", async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db);
    const fields = (text: string) => ({ subject: text, body: '', meta: '' });
    const ftsRows = async (trx: DbOrTx) =>
      (await sql<{ rowid: number; subject: string }>`select rowid, subject from search_fts order by rowid`.execute(trx)).rows.map((r) => [r.rowid, r.subject]);
    let seenInOwnUnit: unknown;
    const outcomes = await Promise.allSettled([
      tx.run(async (trx) => {
        await trx.insertInto('brands').values(brand('brand_a')).execute();
        await sqliteKeywordIndex.upsert(trx, [{ docId: 1, fields: fields('alpha') }], { fresh: true });
        seenInOwnUnit = await ftsRows(trx);
        return 'a';
      }),
      tx.run(async (trx) => {
        await sqliteKeywordIndex.upsert(trx, [{ docId: 2, fields: fields('beta') }], { fresh: true });
        throw new Error('refused after queueing its row, having written nothing');
      }),
      tx.run(async (trx) => {
        // Replaces document 1: the row the first unit left waiting is written first, then replaced.
        await sqliteKeywordIndex.upsert(trx, [{ docId: 1, fields: fields('gamma') }]);
        return 'c';
      }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(seenInOwnUnit, [], "the first unit's row was not written in its unit");
    assert.deepEqual(await ftsRows(db), [[1, 'gamma']], "the replacement last; the failed unit's row never written");
    assert.deepEqual(tx.stats(), { commits: 1, units: 3, rerunWithSavepoints: 0 });
  });

  it('runs every write at once where units have savepoints', async (t) => {
    const db = await freshDatabase(t);
    const tx = groupCommit(db, { writeProbe: null });
    const seen = await tx.run(async (trx) => {
      assert.equal(batchEndWrites(trx), undefined);
      await sqliteKeywordIndex.upsert(trx, [{ docId: 7, fields: { subject: 'delta', body: '', meta: '' } }], { fresh: true });
      return (await sql<{ n: number }>`select count(*) as n from search_fts`.execute(trx)).rows[0]!.n;
    });
    assert.equal(seen, 1);
  });

  it('a unit that locks a ticket and is then refused (a stale If-Match) does not roll back its batch', async (t) => {
    const app = await build(t);
    const { id: brandId } = await createBrand(app);
    const ticket = await createTicket(app, brandId);
    const tx = groupCommit(app.runtime.db);
    const outcomes = await Promise.allSettled([
      tx.run(async (trx) => trx.insertInto('brands').values(brand('brand_beside')).execute()),
      tx.run(async (trx) => {
        await lockTicket(trx, ticket.id);
        throw new Error('precondition failed');
      }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected'],
    );
    assert.equal(tx.stats().rerunWithSavepoints, 0);
  });
});
