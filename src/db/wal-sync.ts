import fs from 'node:fs';
import path from 'node:path';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SqliteDialect,
  type SqliteDialectConfig,
  type TransactionSettings,
} from 'kysely';
import type { WriteProbe } from './transactions.js';

/**
 * The writer's commits made durable off the event loop.
 *
 * With `synchronous=FULL` SQLite fsyncs the WAL inside every COMMIT, and better-sqlite3 runs the
 * COMMIT on the calling thread: the event loop stood still for each fsync, no request read,
 * parsed or answered meanwhile. Under creates at a million tickets most event-loop turns of 30 ms
 * or more were that fsync (docs/benchmarks.md, "what holds the event loop").
 *
 * So the writer connection runs with `synchronous=NORMAL`, under which a commit writes its WAL
 * frames without the fsync, and this class issues the same fsync itself (`fdatasync` of the WAL
 * file, on libuv's thread pool) before the commit's statement resolves. What an acknowledged write
 * may count on is unchanged: every Kysely query on the writer that leaves it outside a transaction
 * having written (a COMMIT, or a write in autocommit) resolves only once the WAL is on disk, and the
 * group commit answers its requests only after its COMMIT resolves. fsync works on the file, not on
 * the descriptor, so the flush through our own descriptor takes SQLite's writes with it.
 *
 * Nothing in this process reads a commit before it is durable: Kysely holds the writer connection
 * until the statement resolves (any other query waits for it, as it waited for the synchronous
 * fsync before), and the read connection's queries wait for `pending()` (src/db/prepared.ts).
 * Another process on the same file (`nexus worker`, a second API process) may read it in the
 * milliseconds before the fsync ends: a power cut in them loses a write that process saw, never a
 * write that was acknowledged.
 *
 * Checkpoints keep SQLite's own fsyncs: with NORMAL SQLite still syncs the WAL before a checkpoint
 * and the database file after it, and the checkpoint thread's connection stays at FULL.
 *
 * If an fsync fails, the writes since the last one may not be on disk, and the kernel may already
 * have dropped the pages it could not write (a later fsync could then succeed without them), so
 * every later commit fails too until the process restarts, as PostgreSQL stops on such a failure.
 */
export class WalSync {
  private wal: { fd: number; ino: number } | undefined;
  private running: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(private readonly walFile: string) {}

  /** Undefined when every commit is durable; otherwise settles (never rejects) once the latest one is or has failed to be. */
  pending(): Promise<void> | undefined {
    return this.running;
  }

  /** Resolves once everything written to the WAL before the call is on disk. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // A flush that began before this call may have missed what was written since: the next one starts after it.
    const previous = this.running;
    const run = (previous ? previous.then(() => this.flush()) : this.flush()).then(
      () => {
        if (this.running === settled) this.running = undefined;
      },
      (err: unknown) => {
        if (this.running === settled) this.running = undefined;
        throw err;
      },
    );
    const settled = run.catch(() => {});
    this.running = settled;
    return run;
  }

  close(): void {
    if (this.wal) fs.closeSync(this.wal.fd);
    this.wal = undefined;
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    const fd = await this.walDescriptor();
    try {
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      this.failure = new Error(`fsync of the SQLite WAL failed, writes are refused until the server restarts: ${(err as Error).message}`);
      throw this.failure;
    }
  }

  /**
   * The WAL's descriptor, opened once. SQLite deletes the WAL only when the file's last connection
   * closes, which the writer's being open rules out; should it ever be made anew, its inode
   * differs and it is opened again. The first open also fsyncs the directory, so the WAL's own
   * entry is on disk (SQLite does so when it creates it under FULL).
   */
  private async walDescriptor(): Promise<number> {
    const ino = fs.statSync(this.walFile).ino;
    if (this.wal?.ino === ino) return this.wal.fd;
    this.close();
    const fd = fs.openSync(this.walFile, 'r+');
    this.wal = { fd, ino: fs.fstatSync(fd).ino };
    const dir = await fs.promises.open(path.dirname(this.walFile), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return fd;
  }
}

/**
 * Kysely's SQLite dialect whose writer connection resolves a statement that committed a write only
 * once `wal` has made it durable (see `WalSync`). A commit wrote when the connection's row-change
 * count or its schema version moved since the last durable point; a read-only transaction's
 * COMMIT and reads in autocommit resolve at once.
 */
export class WalSyncingSqliteDialect extends SqliteDialect {
  constructor(
    config: SqliteDialectConfig,
    private readonly sqlite: SqliteDatabase,
    /** The writer's change count and transaction state, as the group commit reads them. */
    private readonly probe: WriteProbe,
    private readonly wal: WalSync,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new WalSyncingDriver(super.createDriver(), this.sqlite, this.probe, this.wal);
  }
}

class WalSyncingDriver implements Driver {
  private connection: DatabaseConnection | undefined;
  private readonly schemaVersion;
  /** The change count and schema version at the last durable point. */
  private durable: { changes: number; schema: number } | undefined;

  constructor(
    private readonly inner: Driver,
    sqlite: SqliteDatabase,
    private readonly probe: WriteProbe,
    private readonly wal: WalSync,
  ) {
    this.schemaVersion = sqlite.prepare('pragma schema_version').pluck();
  }

  async init(): Promise<void> {
    await this.inner.init();
    this.durable = this.mark();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    this.connection ??= this.syncing(connection);
    return this.connection;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]): Promise<void> {
    await this.inner.savepoint?.(connection, name, compile);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]): Promise<void> {
    await this.inner.rollbackToSavepoint?.(connection, name, compile);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]): Promise<void> {
    await this.inner.releaseSavepoint?.(connection, name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection);
  }

  async destroy(): Promise<void> {
    await this.inner.destroy();
    this.wal.close();
  }

  private mark(): { changes: number; schema: number } {
    return { changes: this.probe.changes(), schema: this.schemaVersion.get() as number };
  }

  /** The connection, with each statement that ends having committed a write resolving once it is durable. */
  private syncing(connection: DatabaseConnection): DatabaseConnection {
    return {
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        const result = await connection.executeQuery<R>(query);
        if (this.probe.inTransaction()) return result;
        const now = this.mark();
        const durable = this.durable;
        // Taken as the mark even if the fsync fails: from then on only a statement that writes fails (WalSync refuses it), reads go on.
        this.durable = now;
        // A rollback leaves nothing to sync; the changes it undid stay counted.
        if (durable && (now.changes !== durable.changes || now.schema !== durable.schema) && !/^\s*rollback\b/i.test(query.sql)) await this.wal.sync();
        return result;
      },
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
  }
}
