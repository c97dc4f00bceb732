import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type BlobStore, BlobSizeMismatchError, BlobTooLargeError, type ByteRange, type StoredBlob } from './blob-store.js';

/** Keys are ids the server made; anything else is refused before it can become a path. */
const KEY = /^[a-z]{1,8}_[0-9a-z]{26}$/;

/**
 * Files under one root folder: `<root>/<last two characters of the key>/<key>`. Uploads are
 * written to `<root>/tmp/` first and renamed into place after an fsync, so a crash or a rejected
 * upload never leaves a partial file where a reader could find it.
 */
export class DiskBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  private pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return path.join(this.root, key.slice(-2), key);
  }

  async put(key: string, source: Readable, options: { maxBytes: number; expectedSize?: number | undefined }): Promise<StoredBlob> {
    const final = this.pathOf(key);
    const tmpDir = path.join(this.root, 'tmp');
    await fsp.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${key}.${randomBytes(6).toString('hex')}.part`);
    const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    const hash = createHash('sha256');
    let size = 0;
    try {
      await once(out, 'open');
      // Read by hand rather than pipe(): a pipeline would destroy the request on overflow, and
      // then the 413 could not be sent.
      for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      }
      if (options.expectedSize !== undefined && size !== options.expectedSize) throw new BlobSizeMismatchError(options.expectedSize, size);
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await fsync(tmp);
      await fsp.mkdir(path.dirname(final), { recursive: true });
      await fsp.rename(tmp, final);
      return { size, sha256: hash.digest('hex') };
    } catch (err) {
      out.destroy();
      await fsp.rm(tmp, { force: true });
      throw err;
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

async function fsync(file: string): Promise<void> {
  const handle = await fsp.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
