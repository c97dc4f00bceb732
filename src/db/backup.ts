import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';

/**
 * The SQLite side of `nexus backup` and `nexus restore`: the online backup, the checks a copy must
 * pass, and whether another process has the database open. The PostgreSQL side is pg_dump and
 * pg_restore (docs/operations.md), not code of ours.
 */

/** The embedded database file of a configuration, resolved as `openDatabase` resolves it. */
export function sqliteFileOf(config: { dataDir: string; databaseUrl?: string | undefined }): string {
  const url = config.databaseUrl;
  return path.resolve(url?.startsWith('sqlite:') ? url.slice('sqlite:'.length) : path.join(config.dataDir, 'nexus.sqlite'));
}

export const isPostgresUrl = (url: string | undefined): boolean => url !== undefined && /^postgres(ql)?:\/\//.test(url);

/**
 * The most pages one backup step may copy: all of them. SQLite restarts an online backup from the
 * first page whenever another connection writes to the source between two steps, so under a steady
 * stream of writes a backup copied in small steps might never finish. Copied in one step, it reads
 * from a single snapshot (in WAL mode a reader neither blocks the server's writes nor is blocked by
 * them), so the copy is the database as of one commit.
 */
const ALL_PAGES = 0x7fffffff;

export interface SqliteBackup {
  /** Size of the copy in bytes. */
  bytes: number;
  /** The last migration the copy's schema has, or null for a database never migrated. */
  lastMigration: string | null;
  /** Storage keys of the attachments whose bytes are complete in the copy (`status = 'ready'`). */
  readyBlobKeys: string[];
}

/**
 * Copies the live database `source` into the new file `target` with SQLite's online backup API,
 * while servers keep reading and writing it, then checks the copy (`PRAGMA integrity_check`, which
 * reads every page) and leaves it a single self-contained file (rollback journal, nothing in a
 * `-wal` beside it), fsynced, mode 0600. `target` must not exist; on any failure it is removed.
 */
export async function backupSqlite(source: string, target: string): Promise<SqliteBackup> {
  if (!fs.existsSync(source)) throw new Error(`there is no database at ${source}`);
  // Created owner-only and empty before SQLite writes to it: the copy holds everything the database does.
  fs.writeFileSync(target, '', { mode: 0o600, flag: 'wx' });
  try {
    const live = new SqliteDatabase(source, { fileMustExist: true });
    try {
      // A writer mid-checkpoint may hold a lock for a moment; the same patience as every other process.
      live.pragma('busy_timeout = 5000');
      await live.backup(target, { progress: () => ALL_PAGES });
    } finally {
      live.close();
    }
    const copy = new SqliteDatabase(target, { fileMustExist: true });
    let result: SqliteBackup;
    try {
      copy.pragma('journal_mode = DELETE');
      assertIntact(copy, target);
      result = { bytes: 0, lastMigration: lastMigrationOf(copy), readyBlobKeys: readyBlobKeysOf(copy) };
    } finally {
      copy.close();
    }
    fsyncFile(target);
    return { ...result, bytes: fs.statSync(target).size };
  } catch (err) {
    fs.rmSync(target, { force: true });
    throw err;
  }
}

/** What a backup file holds, read without changing it: checks it the way `backupSqlite` checked it when it was made. */
export function inspectSqliteBackup(file: string): SqliteBackup {
  const copy = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    assertIntact(copy, file);
    return { bytes: fs.statSync(file).size, lastMigration: lastMigrationOf(copy), readyBlobKeys: readyBlobKeysOf(copy) };
  } finally {
    copy.close();
  }
}

/** `PRAGMA integrity_check` of a database file, 'ok' when it passes; the first problems otherwise. */
export function integrityCheck(file: string): string {
  const db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    return integrityOf(db);
  } finally {
    db.close();
  }
}

function integrityOf(db: SqliteDatabase.Database): string {
  const rows = db.pragma('integrity_check(10)') as { integrity_check: string }[];
  return rows.map((r) => r.integrity_check).join('; ');
}

function assertIntact(db: SqliteDatabase.Database, file: string): void {
  const verdict = integrityOf(db);
  if (verdict !== 'ok') throw new Error(`${file} fails PRAGMA integrity_check: ${verdict}`);
}

function hasTable(db: SqliteDatabase.Database, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`).get(name) !== undefined;
}

function lastMigrationOf(db: SqliteDatabase.Database): string | null {
  if (!hasTable(db, 'kysely_migration')) return null;
  const row = db.prepare('SELECT max(name) AS name FROM kysely_migration').get() as { name: string | null };
  return row.name;
}

/**
 * The blobs the copy refers to. Only `ready` attachments have complete bytes; an upload running at
 * the moment of the copy is restored as `uploading`, and its lease lapses so that it can be sent again.
 */
function readyBlobKeysOf(db: SqliteDatabase.Database): string[] {
  if (!hasTable(db, 'attachments')) return [];
  const rows = db.prepare(`SELECT storage_key FROM attachments WHERE status = 'ready' AND storage_key IS NOT NULL ORDER BY storage_key`).all() as {
    storage_key: string;
  }[];
  return rows.map((r) => r.storage_key);
}

/**
 * Whether some process (a server, a worker, a CLI command) has the database open. Every connection
 * to a WAL database holds a shared lock on the file for as long as it is open, so an exclusive lock,
 * asked for without waiting, is refused while any other connection exists, idle or not. The locks
 * are POSIX advisory locks: they see processes on this machine, not on another one sharing the
 * file over a network file system (which SQLite does not support in WAL mode anyway).
 */
export function isSqliteInUse(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  const db = new SqliteDatabase(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY' || (err as { code?: string }).code === 'SQLITE_LOCKED') return true;
      throw err;
    }
    db.exec('COMMIT');
    return false;
  } finally {
    db.close();
  }
}

/** The files SQLite keeps beside a database in WAL mode; they belong with it and move with it. */
export const SQLITE_SIDE_FILES = ['-wal', '-shm'] as const;

/** Flushes a file's bytes to the disk: a backup or restore that reports success is on the disk. */
export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
