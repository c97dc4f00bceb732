import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';

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
    const statement = sqlite.prepare(sql);
    if (!cached) {
      cache.set(sql, statement);
      if (cache.size > capacity) cache.delete(cache.keys().next().value!);
    }
    return statement;
  };
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
export function cachingStatements(sqlite: SqliteDatabase, capacity = 500): KyselySqliteDatabase {
  const prepare = statementCache(sqlite, capacity);
  return { close: () => sqlite.close(), prepare: (sql) => prepare(sql === 'begin' ? 'begin immediate' : sql) };
}
