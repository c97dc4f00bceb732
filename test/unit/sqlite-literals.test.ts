import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { inlinedOnSqlite, prepareQuery } from '../../src/db/prepared.js';
import type { Database } from '../../src/db/schema.js';
import { cachingStatements } from '../../src/db/sqlite-statements.js';
import { SqliteLiteralLimits } from '../../src/db/sqlite-literal-limits.js';

/** The table these tests make (not one of the app's). */
interface NotesDatabase {
  notes: { id: number; status: string; kind: string };
}

/**
 * A real SQLite database with a `notes` table, opened as the app opens its own (statement cache,
 * the limits plugin), and the SQL texts SQLite was asked to prepare.
 */
function notesDatabase() {
  const sqlite = new SqliteDatabase(':memory:');
  sqlite.exec('create table notes (id integer primary key, status text not null, kind text not null)');
  const insert = sqlite.prepare('insert into notes (id, status, kind) values (?, ?, ?)');
  const long = 'x'.repeat(80);
  for (let id = 1; id <= 10; id++) insert.run(id, id <= 6 ? 'open' : id <= 8 ? "it's" : long, id % 2 ? 'odd' : 'even');
  const prepared: string[] = [];
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((text: string) => {
    prepared.push(text);
    return prepare(text);
  }) as typeof sqlite.prepare;
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }), plugins: [new SqliteLiteralLimits()] });
  return { db: db as unknown as Kysely<NotesDatabase>, long, prepared, close: () => db.destroy() };
}

describe('values SQLite plans by, written into the SQL text', () => {
  const notesByStatus = prepareQuery(
    (db, p: { status: string; limit: number; afterId: number }) =>
      (db as unknown as Kysely<NotesDatabase>)
        .selectFrom('notes')
        .select('id')
        .where('status', '=', inlinedOnSqlite(p.status))
        .where('kind', '=', 'odd')
        .where('id', '>', p.afterId)
        .orderBy('id')
        .limit(inlinedOnSqlite(p.limit)) as never,
  );

  it('a prepared query writes its inlined slots and its constants in, and binds the rest', async (t) => {
    const { db, prepared, close } = notesDatabase();
    t.after(close);
    const ids = async (p: { status: string; limit: number; afterId: number }) =>
      ((await notesByStatus.all(db as never, p)) as { id: number }[]).map((r) => r.id);
    assert.deepEqual(await ids({ status: 'open', limit: 2, afterId: 0 }), [1, 3]);
    assert.deepEqual(await ids({ status: 'open', limit: 3, afterId: 0 }), [1, 3, 5]);
    assert.deepEqual(await ids({ status: 'open', limit: 3, afterId: 1 }), [3, 5]);
    const texts = prepared.filter((s) => s.includes('"notes"'));
    assert.equal(texts.length, 2, 'one statement per limit, the bound id reusing it');
    assert.match(texts[0]!, /"status" = 'open' and "kind" = 'odd' and "id" > \? order by "id" limit 2$/);
    assert.match(texts[1]!, /limit 3$/);
  });

  it('a quote in an inlined value is escaped; a long value is bound instead', async (t) => {
    const { db, long, prepared, close } = notesDatabase();
    t.after(close);
    const ids = async (status: string) => ((await notesByStatus.all(db as never, { status, limit: 10, afterId: 0 })) as { id: number }[]).map((r) => r.id);
    assert.deepEqual(await ids("it's"), [7]);
    assert.deepEqual(await ids(long), [9]);
    assert.deepEqual(await ids("x' or '1'='1"), [], 'a value is never read as SQL');
    const texts = prepared.filter((s) => s.includes('"notes"'));
    assert.ok(texts.some((s) => s.includes(`"status" = 'it''s'`)));
    assert.ok(texts.some((s) => s.includes('"status" = ? ')) && !texts.some((s) => s.includes(long)));
  });

  it('a query built for one run has its limit and offset written in', async (t) => {
    const { db, prepared, close } = notesDatabase();
    t.after(close);
    const rows = await db.selectFrom('notes').select('id').orderBy('id').limit(3).offset(2).execute();
    assert.deepEqual(
      rows.map((r) => r.id),
      [3, 4, 5],
    );
    assert.match(prepared.at(-1)!, /limit 3 offset 2$/);
  });

  it('raw SQL with a ? inside a literal keeps its constants and inlined slots bound', async (t) => {
    const { db, prepared, close } = notesDatabase();
    t.after(close);
    const query = prepareQuery(
      (qb, p: { id: number; limit: number }) =>
        (qb as unknown as Kysely<NotesDatabase>)
          .selectFrom('notes')
          .select(sql<string>`'why?'`.as('question'))
          .where('kind', '=', 'even')
          .where('id', '=', p.id)
          .limit(inlinedOnSqlite(p.limit)) as never,
    );
    assert.deepEqual(await query.all(db as never, { id: 4, limit: 1 }), [{ question: 'why?' }]);
    assert.deepEqual(await query.all(db as never, { id: 3, limit: 1 }), []);
    assert.match(prepared.at(-1)!, /"kind" = \? and "id" = \? limit \?$/);
  });
});
