import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** Folders that hold the database, keys or attachment bytes: the owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Files that hold the database, keys or attachment bytes: the owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) readable by the owner only. The mode given to mkdir is
 * filtered by the process umask, so every folder this call created is chmod-ed afterwards: the
 * result does not depend on the umask. A folder that already existed keeps its mode (an operator
 * may have chosen it).
 */
export function ensurePrivateDir(dir: string): void {
  const absolute = path.resolve(dir);
  const first = fs.mkdirSync(absolute, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  for (let d = absolute; ; d = path.dirname(d)) {
    fs.chmodSync(d, PRIVATE_DIR_MODE);
    if (d === first || path.dirname(d) === d) break;
  }
}

/** `ensurePrivateDir` for async callers (the blob store's write path). */
export async function ensurePrivateDirAsync(dir: string): Promise<void> {
  const absolute = path.resolve(dir);
  const first = await fsp.mkdir(absolute, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  for (let d = absolute; ; d = path.dirname(d)) {
    await fsp.chmod(d, PRIVATE_DIR_MODE);
    if (d === first || path.dirname(d) === d) break;
  }
}

/**
 * Creates `file` empty with mode 0600 if it does not exist yet; returns whether it did. An existing
 * file is left untouched. Used before handing a path to a library that would create it with its
 * own, wider default (SQLite makes 0644, and gives its -wal and -shm files the database's mode).
 */
export function createPrivateFile(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}
