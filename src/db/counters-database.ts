import SqliteDatabase from 'better-sqlite3';
import { type DialectAdapter, Kysely, SqliteDialect } from 'kysely';
import { createPrivateFile } from '../shared/private-files.js';
import type { Database, Db } from './schema.js';

/**
 * Where the server processes on one database add up their rate-limit counts
 * (src/http/rate-limiter.ts): on SQLite, a file of its own beside the database file; on PostgreSQL
 * (and an in-memory SQLite database), the database itself, whose migrations made the table.
 *
 * Every process writes its counts twice a second. In the database file each of those commits
 * fsyncs the WAL on the event loop, and it changes the file under every other connection: SQLite
 * then drops the read connection's whole page cache and the token lookups kept while nothing was
 * committed (src/auth/token-service.ts). Measured under a read-only load of `GET
 * /v1/tickets/{id}` at 10,000 tickets: 162 against 144 µs of CPU per request with the counts
 * written elsewhere. The counts are a hint shared between processes, not data: this file commits
 * without an fsync (`synchronous=NORMAL` in WAL mode: a power cut may lose the last counts, never
 * the file), waits at most a second for another process's lock, and holds no copy in a backup.
 */
const BUSY_TIMEOUT_MS = 1000;

const countersOf = new WeakMap<DialectAdapter, Db>();

/** The file beside the database, named after it as SQLite names its own: `nexus.sqlite` → `nexus.sqlite-rate-limits`. */
export const countersFileOf = (databaseFile: string): string => `${databaseFile}-rate-limits`;

/** Opens (making it, owner-only, on first use) the counters file of the SQLite database file `databaseFile`. */
export function openCountersDatabase(databaseFile: string): Db {
  const file = countersFileOf(databaseFile);
  createPrivateFile(file);
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  // As migration 0007 makes it in the database; `if not exists`, as processes may start together.
  sqlite.exec(`
    create table if not exists rate_limit_counters (
      bucket text not null,
      window_start bigint not null,
      count integer not null,
      expires_at bigint not null,
      constraint rate_limit_counters_pk primary key (bucket, window_start)
    );
    create index if not exists rate_limit_counters_expires on rate_limit_counters (expires_at);
  `);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

/** Makes `counters` what `countersDatabaseOf(db)` returns. */
export function registerCountersDatabase(db: Db, counters: Db): void {
  countersOf.set(db.getExecutor().adapter, counters);
}

/** The database that holds `db`'s rate-limit counters: its counters file, or `db` itself. */
export function countersDatabaseOf(db: Db): Db {
  return countersOf.get(db.getExecutor().adapter) ?? db;
}
