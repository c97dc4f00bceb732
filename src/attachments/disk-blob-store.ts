import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { PRIVATE_FILE_MODE, ensurePrivateDirAsync } from '../shared/private-files.js';
import { BLOB_KEY, type BlobStore, type ByteRange, type StoredBlob, copyBounded } from './blob-store.js';

/**
 * How often a running upload touches its `.part` file, so that its modification time says the
 * writing process is alive even while the client sends nothing. `removeAbandonedParts` relies on it.
 */
export const PART_TOUCH_INTERVAL_MS = 10_000;

/**
 * Files under one root folder: `<root>/<last two characters of the key>/<key>`. Uploads are
 * written to `<root>/tmp/` first and renamed into place after an fsync, so a crash or a rejected
 * upload never leaves a partial file where a reader could find it. Folders are 0700 and files
 * 0600 whatever the umask.
 */
export class DiskBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  /** Where the blob `key` is, or would be, stored; `nexus backup` and `nexus restore` copy blobs by it. */
  pathOf(key: string): string {
    if (!BLOB_KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return path.join(this.root, key.slice(-2), key);
  }

  /**
   * Writes through a FileHandle, one awaited write at a time, rather than a WriteStream: every
   * failure (the client hanging up, a full disk, the size limit) is then a rejected promise on this
   * one path, never an 'error' event that could go unheard and take the process down, and no write
   * is still in flight when the partial file is removed.
   */
  async put(key: string, source: Readable, options: { maxBytes: number; expectedSize?: number | undefined }): Promise<StoredBlob> {
    const final = this.pathOf(key);
    const tmpDir = path.join(this.root, 'tmp');
    await ensurePrivateDirAsync(tmpDir);
    const tmp = path.join(tmpDir, `${key}.${randomBytes(6).toString('hex')}.part`);
    let handle: FileHandle | undefined;
    let touch: NodeJS.Timeout | undefined;
    try {
      handle = await fsp.open(tmp, 'wx', PRIVATE_FILE_MODE);
      const file = handle;
      touch = setInterval(() => {
        const now = new Date();
        file.utimes(now, now).catch(() => {});
      }, PART_TOUCH_INTERVAL_MS);
      touch.unref();
      const stored = await copyBounded(source, options, (chunk) => writeAll(file, chunk));
      await file.sync();
      clearInterval(touch);
      touch = undefined;
      await file.close();
      handle = undefined;
      await ensurePrivateDirAsync(path.dirname(final));
      await fsp.rename(tmp, final);
      return stored;
    } catch (err) {
      // Whatever went wrong, the partial file goes; a failure to clean up must not hide the cause.
      await handle?.close().catch(() => {});
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw err;
    } finally {
      if (touch) clearInterval(touch);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    // Open first so that a missing file is an error here, not an event on a stream already sent.
    const handle = await fsp.open(file, 'r');
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key), { force: true });
  }

  async check(): Promise<void> {
    // `put` makes the folders on first use; so does this, so that a fresh install is ready and a
    // root that cannot be a folder (a file in its place, a missing mount) is not.
    const tmpDir = path.join(this.root, 'tmp');
    await ensurePrivateDirAsync(tmpDir);
    await fsp.access(tmpDir, fsConstants.W_OK | fsConstants.X_OK);
  }

  async removeAbandonedParts(before: Date): Promise<number> {
    const tmpDir = path.join(this.root, 'tmp');
    let names: string[];
    try {
      names = await fsp.readdir(tmpDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names.filter((n) => n.endsWith('.part'))) {
      const file = path.join(tmpDir, name);
      const stat = await fsp.stat(file).catch(() => undefined);
      if (stat && stat.mtimeMs < before.getTime()) {
        await fsp.rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }
}

/** Writes the whole chunk: a file write may, rarely, take fewer bytes than offered. */
async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    if (bytesWritten === 0) throw new Error('the disk accepted no bytes');
    offset += bytesWritten;
  }
}
