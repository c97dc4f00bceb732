import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';
import type { SqlWriter } from './prepared.js';

/**
 * Kysely prepares every query it runs (`db.prepare(sql)`), and preparing costs more than running
 * the primary-key reads the API mostly makes. The API's queries come from a few hundred shapes, so
 * this keeps the most recently used statements by their SQL text and hands them out again.
 *
 * A statement that is still being iterated (a streamed query) is busy and cannot run a second time
 * at once: the caller then gets a fresh one. Bounded, oldest first out, since queries with an
 * `in (…)` list of varying length have a text per length.
 */
export function statementCache(sqlite: SqliteDatabase, capacity = 500): (sql: string) => Statement {
  const cache = new Map<string, Statement>();
  return (sql) => {
    const cached = cache.get(sql);
    if (cached && !cached.busy) {
      // Re-inserted so that the Map's order stays least-recently-used first.
      cache.delete(sql);
      cache.set(sql, cached);
      return cached;
    }
    const statement = withRowShape(sqlite.prepare(sql));
    if (!cached) {
      cache.set(sql, statement);
      if (cache.size > capacity) cache.delete(cache.keys().next().value!);
    }
    return statement;
  };
}

/**
 * Makes a reading statement return its rows through a row constructor compiled for its columns.
 *
 * better-sqlite3 builds each row object from C++, one property at a time, which costs about as much
 * as SQLite's own work on a page of wide ticket rows. In raw mode it returns arrays, and a function
 * made once per statement (`{"id": r[0], "subject": r[1], …}`) turns each into an object of one
 * fixed shape: the same objects, in half the time for a 20-row page (measured on the tickets list).
 * A repeated column name keeps its last value, as the object rows did.
 */
function withRowShape(statement: Statement): Statement {
  if (!statement.reader) return statement;
  const names = statement.columns().map((c) => c.name);
  // A literal `"__proto__": …` would set the prototype, not a property.
  if (names.includes('__proto__')) return statement;
  const toRow = new Function('r', `return {${names.map((n, i) => `${JSON.stringify(n)}: r[${i}]`).join(', ')}};`) as (r: unknown[]) => unknown;
  statement.raw(true);
  const all = statement.all.bind(statement);
  const get = statement.get.bind(statement);
  const iterate = statement.iterate.bind(statement);
  return Object.assign(statement, {
    all: (...params: unknown[]) => (all(...params) as unknown[][]).map(toRow),
    get: (...params: unknown[]) => {
      const row = get(...params) as unknown[] | undefined;
      return row === undefined ? undefined : toRow(row);
    },
    iterate: function* (...params: unknown[]) {
      for (const row of iterate(...params) as IterableIterator<unknown[]>) yield toRow(row);
    },
  }) as Statement;
}

/**
 * The connection as Kysely's SQLite dialect takes it, with its statements cached, and its
 * transactions begun `IMMEDIATE`.
 *
 * Kysely opens every transaction with a plain `BEGIN` (deferred): the transaction reads from a
 * snapshot and asks for the write lock at its first write. If another process committed in
 * between, SQLite cannot let it write from a stale snapshot and fails it at once with
 * SQLITE_BUSY_SNAPSHOT, without waiting out `busy_timeout`: with several processes on one file
 * (`nexus serve --processes N`, `nexus worker`), any transaction that reads before it writes (a
 * group commit, the dispatcher's fan-out) would fail now and then. `BEGIN IMMEDIATE` takes the
 * write lock first, waiting for it under `busy_timeout` like any lock wait. Every transaction
 * opened here writes, so nothing that could have run beside a writer is held back; reads outside
 * transactions go to the read connection (src/db/prepared.ts).
 */
export function cachingStatements(sqlite: SqliteDatabase, capacity = 500): KyselySqliteDatabase & SqlWriter {
  const prepare = statementCache(sqlite, capacity);
  return {
    close: () => sqlite.close(),
    prepare: (sql) => prepare(sql === 'begin' ? 'begin immediate' : sql),
    // As Kysely's SQLite driver runs a statement: rows from one that returns any, else the changes.
    execute: (sql, parameters) => {
      const statement = prepare(sql);
      if (statement.reader) return { rows: statement.all(parameters), changes: 0 };
      return { rows: [], changes: statement.run(parameters).changes };
    },
  };
}
