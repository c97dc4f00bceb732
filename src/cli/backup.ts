import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DiskBlobStore } from '../attachments/disk-blob-store.js';
import { defaultBlobStore } from '../attachments/service.js';
import type { Config } from '../config.js';
import {
  SQLITE_SIDE_FILES,
  type SqliteBackup,
  backupSqlite,
  fsyncFile,
  inspectSqliteBackup,
  isPostgresUrl,
  isSqliteInUse,
  sqliteFileOf,
} from '../db/backup.js';
import { PRIVATE_FILE_MODE, ensurePrivateDir } from '../shared/private-files.js';
import { secretKeyFileOf } from '../shared/secret-box.js';

/**
 * `nexus backup --out <file>` and `nexus restore <file> [--force]`, for the embedded SQLite database.
 *
 * A backup is up to three paths side by side:
 * - `<file>`: the database, copied with SQLite's online backup API while servers keep serving: one
 *   consistent snapshot, checked with `PRAGMA integrity_check`, a plain SQLite file;
 * - `<file>.blobs/`: the bytes of every attachment complete in that snapshot, laid out as the disk
 *   blob store lays them out (absent when the blob store is not on local disk);
 * - `<file>.secret-key`: the key that seals webhook secrets and URL-signing keys, unless it comes
 *   from NEXUS_SECRET_KEY (then it is not in the backup and must be kept beside it).
 * docs/operations.md ("Backups and restore") is the operator's side of this.
 */

type Out = (line: string) => void;

const POSTGRES_REFUSAL = [
  'DATABASE_URL names PostgreSQL: back it up with pg_dump and restore with pg_restore, as docs/operations.md ("Backups and restore") shows:',
  '  pg_dump --format=custom --file=nexus.dump "$DATABASE_URL"',
  '  pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction --dbname="$DATABASE_URL" nexus.dump',
];

const blobsBeside = (file: string): string => `${file}.blobs`;
const keyBeside = (file: string): string => `${file}.secret-key`;

/** The disk folder attachment bytes live in, or undefined when the configured blob store is not on local disk. */
async function diskBlobRoot(config: Config): Promise<string | undefined> {
  const store = await defaultBlobStore(config);
  return store instanceof DiskBlobStore ? path.resolve(store.root) : undefined;
}

/** `nexus backup --out <file>`; returns the exit code. */
export async function runBackup(args: string[], config: Config, out: Out, err: Out): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } } });
  if (!values.out) {
    err('backup needs --out <file>');
    return 2;
  }
  if (isPostgresUrl(config.databaseUrl)) {
    for (const line of POSTGRES_REFUSAL) err(line);
    return 1;
  }
  const file = path.resolve(values.out);
  const taken = [file, blobsBeside(file), keyBeside(file)].filter((p) => fs.existsSync(p));
  if (taken.length > 0) {
    err(`refusing to overwrite ${taken.join(', ')}: choose a new --out name for each backup`);
    return 1;
  }
  if (!fs.existsSync(path.dirname(file))) {
    err(`the folder ${path.dirname(file)} does not exist`);
    return 1;
  }

  const source = sqliteFileOf(config);
  if (!fs.existsSync(source)) {
    err(`there is no database at ${source}`);
    return 1;
  }
  const started = performance.now();
  let db: SqliteBackup;
  try {
    db = await backupSqlite(source, file);
  } catch (e) {
    err(`backup failed, nothing kept: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  out(`database ${source} → ${file} (${formatBytes(db.bytes)}, schema at ${db.lastMigration ?? 'no migration'}, integrity_check ok, ${seconds(started)})`);

  const blobRoot = await diskBlobRoot(config);
  if (blobRoot === undefined) {
    out(
      "attachments: the blob store is not on local disk; its bytes are not copied: the bucket's own versioning or replication is their backup (docs/operations.md)",
    );
  } else if (db.readyBlobKeys.length > 0) {
    // Blobs are written once under a fresh key and never changed, so copying them after the snapshot
    // gives every one it refers to, unless one was deleted in between (the sweeper removing an old
    // unlinked attachment): such a blob is reported, and the restored row is swept again.
    const copied = copyBlobs(db.readyBlobKeys, new DiskBlobStore(blobRoot), new DiskBlobStore(blobsBeside(file)));
    out(`attachments: ${files(copied.copied)} (${formatBytes(copied.bytes)}) → ${blobsBeside(file)}/`);
    if (copied.missing.length > 0) {
      err(`warning: ${copied.missing.length} attachment files the snapshot refers to were already gone from ${blobRoot}: ${listSome(copied.missing)}`);
    }
  } else {
    out('attachments: none complete in this snapshot');
  }

  if (config.secretKey !== undefined) {
    out(
      'secret key: NEXUS_SECRET_KEY is set, so the backup does not hold it; keep it with the backup: without it, webhook secrets and URL-signing keys cannot be unsealed',
    );
  } else if (fs.existsSync(secretKeyFileOf(config.dataDir))) {
    copyPrivateFile(secretKeyFileOf(config.dataDir), keyBeside(file));
    out(`secret key → ${keyBeside(file)} (the backup is as sensitive as the data dir: keep it as private)`);
  }
  return 0;
}

/** `nexus restore <file> [--force]`; returns the exit code. */
export async function runRestore(args: string[], config: Config, out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { force: { type: 'boolean' } }, allowPositionals: true });
  if (positionals.length !== 1) {
    err('restore needs the backup file: nexus restore <file> [--force]');
    return 2;
  }
  if (isPostgresUrl(config.databaseUrl)) {
    for (const line of POSTGRES_REFUSAL) err(line);
    return 1;
  }
  const file = path.resolve(positionals[0]!);
  if (!fs.existsSync(file)) {
    err(`there is no backup at ${file}`);
    return 1;
  }
  let backup: SqliteBackup;
  try {
    backup = inspectSqliteBackup(file);
  } catch (e) {
    err(`${file} is not a usable backup: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }

  const target = sqliteFileOf(config);
  if (isSqliteInUse(target)) {
    err(`refusing to restore: a process has ${target} open (a server, a worker or a CLI command); stop every process using this data dir first`);
    return 1;
  }
  const blobRoot = await diskBlobRoot(config);
  const keyFile = config.secretKey === undefined ? secretKeyFileOf(config.dataDir) : undefined;
  const backupKey = fs.existsSync(keyBeside(file)) ? keyBeside(file) : undefined;
  const backupBlobs = fs.existsSync(blobsBeside(file)) ? blobsBeside(file) : undefined;

  // What the restore would replace. A key file equal to the backup's is not in the way.
  const existing: string[] = [];
  if (fs.existsSync(target)) existing.push(target);
  for (const suffix of SQLITE_SIDE_FILES) if (fs.existsSync(target + suffix)) existing.push(target + suffix);
  if (blobRoot !== undefined && backupBlobs !== undefined && holdsFiles(blobRoot)) existing.push(blobRoot);
  const replaceKey = keyFile !== undefined && backupKey !== undefined && fs.existsSync(keyFile) && !sameBytes(keyFile, backupKey);
  if (replaceKey) existing.push(keyFile);
  const inTheWay = existing.filter((p) => !SQLITE_SIDE_FILES.some((s) => p === target + s));
  if (inTheWay.length > 0 && values.force !== true) {
    err(`refusing to restore over existing data: ${inTheWay.join(', ')}; run with --force to move it aside (nothing is deleted)`);
    return 1;
  }

  // Everything is first copied next to its final place, then moved aside and renamed in: a failed
  // copy leaves the data dir as it was, and each rename is atomic.
  ensurePrivateDir(config.dataDir);
  ensurePrivateDir(path.dirname(target));
  const staged: { from: string; to: string }[] = [];
  try {
    const stagedDb = `${target}.restoring`;
    fs.rmSync(stagedDb, { force: true });
    copyPrivateFile(file, stagedDb);
    staged.push({ from: stagedDb, to: target });

    let blobNote: string;
    if (blobRoot === undefined) {
      blobNote = backupBlobs
        ? `attachments: the blob store is not on local disk; restore its bytes from the bucket's versioning or replication (the files in ${backupBlobs}/ are not copied)`
        : "attachments: the blob store is not on local disk; restore its bytes from the bucket's versioning or replication";
    } else if (backupBlobs === undefined) {
      blobNote =
        backup.readyBlobKeys.length > 0
          ? `attachments: the backup holds no attachment files (${backup.readyBlobKeys.length} attachments refer to some); restore them into ${blobRoot} by other means`
          : 'attachments: none in the backup';
    } else {
      ensurePrivateDir(path.dirname(blobRoot));
      const stagedBlobs = `${blobRoot}.restoring`;
      fs.rmSync(stagedBlobs, { recursive: true, force: true });
      const copied = copyBlobs(backup.readyBlobKeys, new DiskBlobStore(backupBlobs), new DiskBlobStore(stagedBlobs));
      staged.push({ from: stagedBlobs, to: blobRoot });
      blobNote = `attachments: ${files(copied.copied)} (${formatBytes(copied.bytes)}) → ${blobRoot}/`;
      if (copied.missing.length > 0) blobNote += `; ${copied.missing.length} the database refers to are not in the backup: ${listSome(copied.missing)}`;
    }

    let keyNote: string | undefined;
    if (keyFile === undefined) {
      keyNote = 'secret key: NEXUS_SECRET_KEY is set and unseals the restored secrets if it is the key the backup was taken with';
    } else if (backupKey === undefined) {
      keyNote = `secret key: the backup holds none; the server must start with the key the backup was taken with (NEXUS_SECRET_KEY or ${keyFile})`;
    } else if (!fs.existsSync(keyFile) || replaceKey) {
      const stagedKey = `${keyFile}.restoring`;
      fs.rmSync(stagedKey, { force: true });
      copyPrivateFile(backupKey, stagedKey);
      staged.push({ from: stagedKey, to: keyFile });
      keyNote = `secret key → ${keyFile}`;
    }

    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const asideName = (p: string): string => {
      const side = SQLITE_SIDE_FILES.find((s) => p === target + s);
      // A -wal stays next to its database under the database's new name, so the pair still opens together.
      return side ? `${target}.replaced-${stamp}${side}` : `${p}.replaced-${stamp}`;
    };
    // The copies took a while: a server started meanwhile must not have the file swapped under it.
    if (isSqliteInUse(target))
      throw new RestoreRefused(`refusing to restore: a process opened ${target} while the backup was being copied; stop it and run the restore again`);
    const movedAside: string[] = [];
    for (const p of existing) {
      fs.renameSync(p, asideName(p));
      movedAside.push(asideName(p));
    }
    // A blob folder that holds no file (left by a server that never stored one) is simply replaced.
    if (blobRoot !== undefined && backupBlobs !== undefined && fs.existsSync(blobRoot)) fs.rmSync(blobRoot, { recursive: true });
    for (const { from, to } of staged) fs.renameSync(from, to);
    staged.length = 0;
    for (const dir of new Set([path.dirname(target), config.dataDir, ...(blobRoot ? [path.dirname(blobRoot)] : [])])) fsyncFile(dir);

    out(`database ${file} → ${target} (${formatBytes(backup.bytes)}, schema at ${backup.lastMigration ?? 'no migration'}, integrity_check ok)`);
    out(blobNote);
    if (keyNote) out(keyNote);
    if (movedAside.length > 0) out(`the data it replaced was moved aside: ${movedAside.join(', ')}; delete it once the restored data is checked`);
    out('start the server: it brings the schema up to date and rebuilds the search indexes it keeps in memory');
    return 0;
  } catch (e) {
    if (!(e instanceof RestoreRefused)) throw e;
    err(e.message);
    return 1;
  } finally {
    for (const { from } of staged) fs.rmSync(from, { recursive: true, force: true });
  }
}

class RestoreRefused extends Error {}

/** Copies the blobs `keys` from one disk layout to another, each file 0600 and fsynced; a missing source is reported, not fatal. */
function copyBlobs(keys: string[], from: DiskBlobStore, to: DiskBlobStore): { copied: number; bytes: number; missing: string[] } {
  let copied = 0;
  let bytes = 0;
  const missing: string[] = [];
  ensurePrivateDir(to.root);
  for (const key of keys) {
    const source = from.pathOf(key);
    if (!fs.existsSync(source)) {
      missing.push(key);
      continue;
    }
    const target = to.pathOf(key);
    ensurePrivateDir(path.dirname(target));
    copyPrivateFile(source, target);
    bytes += fs.statSync(target).size;
    copied++;
  }
  return { copied, bytes, missing };
}

/** Copies a file (a reflink where the file system offers one), owner-only and fsynced. */
function copyPrivateFile(from: string, to: string): void {
  fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE);
  fs.chmodSync(to, PRIVATE_FILE_MODE);
  fsyncFile(to);
}

function holdsFiles(dir: string): boolean {
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).some((entry) => !entry.isDirectory());
}

function sameBytes(a: string, b: string): boolean {
  return fs.readFileSync(a).equals(fs.readFileSync(b));
}

const files = (n: number): string => `${n} ${n === 1 ? 'file' : 'files'}`;

const listSome = (keys: string[]): string => `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}`;

const seconds = (started: number): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
