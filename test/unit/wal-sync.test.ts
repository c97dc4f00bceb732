import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { prepareQuery } from '../../src/db/prepared.js';
import { groupCommit } from '../../src/db/transactions.js';
import { freshSqliteDatabase } from '../helpers/database.js';

async function freshDatabase(t: { after(fn: () => Promise<void> | void): void }) {
  const opened = await freshSqliteDatabase(t, 'nexus-wal-sync');
  return { db: opened.db, file: opened.location };
}

type FdatasyncCallback = (err: NodeJS.ErrnoException | null) => void;

/**
 * Replaces `fs.fdatasync` for the test: each call is recorded with the file it flushes and held
 * until the test lets it finish (`release`), or answered at once with `error`.
 */
function interceptFdatasync(t: { after(fn: () => void): void }) {
  const original = fs.fdatasync;
  const calls: { ino: number; finish: FdatasyncCallback }[] = [];
  const control = {
    calls,
    hold: false,
    error: undefined as NodeJS.ErrnoException | undefined,
    release() {
      for (const call of calls.splice(0)) setImmediate(call.finish, null);
    },
  };
  fs.fdatasync = ((fd: number, callback: FdatasyncCallback) => {
    const ino = fs.fstatSync(fd).ino;
    if (control.error) return process.nextTick(callback, control.error);
    if (!control.hold) return original(fd, callback);
    calls.push({ ino, finish: callback });
  }) as typeof fs.fdatasync;
  t.after(() => {
    fs.fdatasync = original;
  });
  return control;
}

/** Turns of the event loop: long enough for anything not waiting on the held fsync to finish. */
async function turns(n: number) {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function tracked<T>(promise: Promise<T>) {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

const at = '2026-01-01T00:00:00Z';
const brand = (id: string) => ({ id, name: id, created_at: at, updated_at: at });
const brandById = prepareQuery<{ id: string }, { id: string }>((db, slots) => db.selectFrom('brands').select('id').where('id', '=', slots.id));

describe('commits made durable off the event loop', () => {
  it('acknowledges a commit only after its WAL is fsynced, and no read in the process sees it before', async (t) => {
    const { db, file } = await freshDatabase(t);
    const fsync = interceptFdatasync(t);
    fsync.hold = true;
    const tx = groupCommit(db);
    const write = tracked(tx.run((trx) => trx.insertInto('brands').values(brand('brand_held')).execute()));
    while (fsync.calls.length === 0 && !write.settled) await turns(1);
    assert.equal(fsync.calls.length, 1, 'the commit asked for an fsync before it was acknowledged');
    assert.equal(fsync.calls[0]!.ino, fs.statSync(`${file}-wal`).ino, 'the file flushed is the WAL');

    // Committed already, as another connection sees, but not yet acknowledged or visible here.
    const other = new SqliteDatabase(file, { readonly: true });
    t.after(() => other.close());
    assert.equal(other.prepare("select count(*) from brands where id = 'brand_held'").pluck().get(), 1);
    const preparedRead = tracked(brandById.all(db, { id: 'brand_held' }));
    const kyselyRead = tracked(db.selectFrom('brands').select('id').where('id', '=', 'brand_held').execute());
    await turns(20);
    assert.equal(write.settled, false, 'the write waits for its fsync');
    assert.equal(preparedRead.settled, false, 'a read on the read connection waits for the fsync');
    assert.equal(kyselyRead.settled, false, 'a query on the writer waits for the fsync');

    fsync.release();
    await write.promise;
    assert.deepEqual(await preparedRead.promise, [{ id: 'brand_held' }]);
    assert.deepEqual(await kyselyRead.promise, [{ id: 'brand_held' }]);
  });

  it('fsyncs after a write in autocommit, not after reads or a transaction that only read', async (t) => {
    const { db } = await freshDatabase(t);
    const fsync = interceptFdatasync(t);
    fsync.hold = true;
    assert.deepEqual(await brandById.all(db, { id: 'brand_none' }), []);
    assert.deepEqual(await db.selectFrom('brands').select('id').execute(), []);
    await db.transaction().execute((trx) => trx.selectFrom('brands').select('id').execute());
    await groupCommit(db).run((trx) => trx.selectFrom('brands').select('id').execute());
    assert.equal(fsync.calls.length, 0, 'nothing written, nothing to flush');

    const insert = tracked(db.insertInto('brands').values(brand('brand_autocommit')).execute());
    while (fsync.calls.length === 0 && !insert.settled) await turns(1);
    assert.equal(fsync.calls.length, 1);
    await turns(20);
    assert.equal(insert.settled, false);
    fsync.release();
    await insert.promise;
    assert.equal(fsync.calls.length, 0);
  });

  it('refuses every later write once an fsync failed, and keeps answering reads', async (t) => {
    const { db } = await freshDatabase(t);
    const fsync = interceptFdatasync(t);
    await db.insertInto('brands').values(brand('brand_before')).execute();
    fsync.error = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const tx = groupCommit(db);
    await assert.rejects(
      tx.run((trx) => trx.insertInto('brands').values(brand('brand_failed')).execute()),
      /fsync of the SQLite WAL failed, writes are refused until the server restarts: EIO/,
    );
    fsync.error = undefined;
    await assert.rejects(
      tx.run((trx) => trx.insertInto('brands').values(brand('brand_after')).execute()),
      /fsync of the SQLite WAL failed/,
    );
    assert.deepEqual(await brandById.all(db, { id: 'brand_before' }), [{ id: 'brand_before' }]);
    assert.deepEqual(await db.selectFrom('brands').select('id').where('id', '=', 'brand_before').execute(), [{ id: 'brand_before' }]);
    await assert.rejects(db.insertInto('brands').values(brand('brand_autocommit')).execute(), /fsync of the SQLite WAL failed/);
  });
});
