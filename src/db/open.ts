import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import { PRIVATE_FILE_MODE, createPrivateFile, ensurePrivateDir } from '../shared/private-files.js';
import type { Dialect } from './dialect-of.js';
import type { Database } from './schema.js';
import { migrations } from './migrations/index.js';
import { runPreparedAsNamed } from './pg-statements.js';
import { coalesceWritesPerTurn } from './pg-writes.js';
import { openCountersDatabase, registerCountersDatabase } from './counters-database.js';
import { type SqlReader, registerReader, registerWriter } from './prepared.js';
import { cachingStatements, statementCache } from './sqlite-statements.js';
import { SqliteLiteralLimits } from './sqlite-literal-limits.js';
import { registerPipelining, registerWriteProbe } from './transactions.js';
import { startWalCheckpoints } from './wal-checkpoints.js';
import { WalSync, WalSyncingSqliteDialect } from './wal-sync.js';

export type { Dialect };

/**
 * SQLite's page cache per connection, in KiB when negative: 64 MiB instead of the default 2 MiB.
 * Every read that misses it is a system call and a page copy; at 100,000 tickets the hot pages
 * (ticket rows, the indexes the API walks) no longer fit in 2 MiB. Pages are allocated as used.
 */
const PAGE_CACHE = -65536;

/**
 * The read connection maps the database file into memory (up to 2 GiB, SQLite's compiled-in
 * ceiling; pages past it are read as before): a page that is not in the connection's own cache is
 * read from the OS page cache where it lies instead of by a system call and a copy. Measured in
 * alternating runs of `GET /v1/tickets/{id}` over 5,000 tickets: 5–6 % less CPU per request at
 * 10,000 and 100,000 tickets, 5 % per list page; a larger page cache (256 MiB) gained nothing. The
 * mapping is read-only (writes go through the WAL as before), and SQLite re-checks the file's size
 * at each read transaction, so a file that grows under it is simply mapped further.
 */
const READ_MMAP_BYTES = 2 * 1024 * 1024 * 1024;

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data lives, for logs: a file path or the PostgreSQL URL without its password. */
  location: string;
  close(): Promise<void>;
}

/**
 * Opens the database named by `databaseUrl`, or the embedded SQLite file in `dataDir`.
 *
 * SQLite runs in WAL mode and every commit is fsynced before the HTTP response goes out, so an
 * acknowledged write survives the process being killed and a power cut. The fsync is the one
 * `synchronous=FULL` would make inside the COMMIT, issued instead off the event loop before the
 * commit's statement resolves (wal-sync.ts); the WAL is copied into the database file by a thread
 * of its own (wal-checkpoints.ts), not by the commits on the event loop.
 */
export function openDatabase(options: { dataDir: string; databaseUrl?: string | undefined; pgPoolSize?: number }): OpenDatabase {
  const url = options.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    // Pipelined: a query is written to the server as soon as it is made, not once the one before it
    // has been answered, so a group commit's units can send writes without waiting for them
    // (transactions.ts, `SentWrites`). A caller that awaits each query sees no difference.
    const pool = new pg.Pool({ connectionString: url, max: options.pgPoolSize ?? 10, pipeline: true });
    // An idle connection the server drops (restart, failover, admin kill) emits 'error' on the pool;
    // unhandled, that would crash the process. The pool replaces the connection on next use.
    pool.on('error', (err) => process.emitWarning(`PostgreSQL connection lost: ${err.message}`, 'NexusDatabaseWarning'));
    // A connection lost while checked out (a query in flight when the server restarts or an admin
    // kills the backend) rejects that query, which its caller handles, and also emits 'error' on the
    // client, which the pool listens to only while the client is idle: without this listener that
    // second copy of the error would end the process. The pool discards the broken client on release.
    pool.on('connect', (client) => {
      client.on('error', () => {});
      // Prepared queries run as named statements, parsed and planned once per connection.
      runPreparedAsNamed(client);
      coalesceWritesPerTurn(client);
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    registerPipelining(db);
    return { db, dialect: 'postgres', location: url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@'), close: () => db.destroy() };
  }
  const file = url?.startsWith('sqlite:') ? url.slice('sqlite:'.length) : path.join(options.dataDir, 'nexus.sqlite');
  // Made owner-only before SQLite sees it: SQLite would create the file 0644, and it gives the
  // -wal and -shm files the database file's mode, so all three end up 0600 whatever the umask.
  let created = false;
  if (file !== ':memory:') {
    ensurePrivateDir(path.dirname(path.resolve(file)));
    created = createPrivateFile(file);
  }
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  if (created) {
    for (const suffix of ['-wal', '-shm']) if (fs.existsSync(file + suffix)) fs.chmodSync(file + suffix, PRIVATE_FILE_MODE);
  }
  // On a file, the commits' fsync is WalSync's, off the event loop (wal-sync.ts); NORMAL keeps
  // SQLite's own syncs at checkpoints.
  const walSync = file === ':memory:' ? undefined : new WalSync(`${file}-wal`);
  sqlite.pragma(walSync ? 'synchronous = NORMAL' : 'synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // Deleted and overwritten rows are zeroed, not left in free space: an erased customer
  // (src/customers/erasure.ts) must not stay readable in the file. Pages being written anyway carry
  // the zeros, and a freed page is mostly reused in the same transaction, so it costs little I/O.
  sqlite.pragma('secure_delete = ON');
  // Another process (a `nexus worker`, the CLI, the other API processes of --processes N) may hold
  // the write lock; on a loaded machine a commit can take seconds. Past this wait the request is a
  // 503 with Retry-After (src/db/busy.ts), never a 500.
  sqlite.pragma('busy_timeout = 15000');
  sqlite.pragma(`cache_size = ${PAGE_CACHE}`);
  // SQLite copies every page a savepoint (a group commit's, src/db/transactions.ts) or a statement
  // that may fail halfway first changes into a statement journal, so it could roll back to it.
  // Kept in a file, past 64 KiB, that was a write system call per page: 11 % of a create's CPU,
  // in the kernel, when each request ran in a savepoint (docs/benchmarks.md). In memory it is a
  // copy, freed at each release. Temporary tables and sorts of this connection (migrations
  // building an index) are kept in memory too: tens of MB at a million tickets.
  sqlite.pragma('temp_store = MEMORY');
  const connection = cachingStatements(sqlite);
  const totalChanges = sqlite.prepare('select total_changes()').pluck();
  const writeProbe = { changes: () => totalChanges.get() as number, inTransaction: () => sqlite.inTransaction };
  const dialect = walSync ? new WalSyncingSqliteDialect({ database: connection }, sqlite, writeProbe, walSync) : new SqliteDialect({ database: connection });
  const db = new Kysely<Database>({ dialect, plugins: [new SqliteLiteralLimits()] });
  registerWriter(db, connection);
  registerWriteProbe(db, writeProbe);
  const reader = walSync ? openReader(file, walSync) : undefined;
  if (reader) registerReader(db, reader);
  const counters = file === ':memory:' ? undefined : openCountersDatabase(file);
  if (counters) registerCountersDatabase(db, counters);
  const checkpoints =
    file === ':memory:'
      ? undefined
      : startWalCheckpoints(sqlite, file, {
          onFailure: (err) => process.emitWarning(`WAL checkpoint thread failed, the writer checkpoints again: ${err.message}`, 'NexusDatabaseWarning'),
        });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    close: async () => {
      await checkpoints?.close();
      reader?.close();
      await counters?.destroy();
      await db.destroy();
    },
  };
}

/**
 * A second connection to the file, for prepared reads outside transactions (src/db/prepared.ts).
 * In WAL mode it reads the last committed state while the writer holds its transaction open (a
 * group commit keeps one open across requests), so reads neither wait for the writer nor see what
 * it has not committed; a read made while a commit's fsync runs waits for it (`commitsPending`), so
 * none sees a write that is not yet durable. `query_only` makes sure nothing ever writes through it.
 */
function openReader(file: string, walSync: WalSync): SqlReader & { close(): void } {
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('query_only = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma(`cache_size = ${PAGE_CACHE}`);
  sqlite.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
  const prepare = statementCache(sqlite);
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  return {
    all: (sql, parameters) => prepare(sql).all(parameters),
    dataVersion: () => dataVersion.get() as number,
    commitsPending: () => walSync.pending(),
    close: () => sqlite.close(),
  };
}

/** Brings the schema up to date; safe to run on every start and from several processes. */
export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
