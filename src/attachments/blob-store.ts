import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** What a blob store reports about the bytes it has just stored. */
export interface StoredBlob {
  size: number;
  /** Lower-case hex SHA-256 of the bytes. */
  sha256: string;
}

/** An inclusive byte range, as HTTP `Range` counts. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Keys are ids the server made (`blob_…`); anything else is refused before it can become a path or an object name. */
export const BLOB_KEY = /^[a-z]{1,8}_[0-9a-z]{26}$/;

/**
 * Where attachment bytes live (NEXUS_BLOB_URL): files on local disk (disk-blob-store.ts, the
 * default) or objects in an S3-compatible bucket (s3-blob-store.ts). Keys are chosen by the
 * server, never by a client. Both stream every byte through this server, which hashes and bounds
 * it; `presignDownload` stays available for a store that would hand out its own download URLs.
 */
export interface BlobStore {
  /**
   * Streams `source` into the blob `key`, hashing as it goes; the blob becomes visible only once
   * every byte is written and flushed. Rejects with BlobTooLargeError as soon as more than
   * `maxBytes` arrive, and with BlobSizeMismatchError when `expectedSize` is given and not met; in
   * both cases nothing is kept. On overflow the source is left open (not destroyed), so an HTTP
   * caller can still answer on the same connection.
   */
  put(key: string, source: Readable, options: { maxBytes: number; expectedSize?: number | undefined }): Promise<StoredBlob>;
  /** A stream of the blob, or of one byte range of it. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes the blob; a missing blob is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Resolves when the store can take and serve blobs now; rejects, with the reason, when it cannot
   * (the disk folder is gone or not writable; the bucket does not answer or refuses the
   * credentials). `/readyz` calls it on every probe, so it stays cheap: one metadata call (a
   * folder check, S3 `HeadBucket`), no blob written. A store with no blob yet is ready. Every
   * process also runs it at start (openRuntime), so a wrong setting stops the start, with a message
   * naming the store, instead of failing uploads later.
   */
  check(): Promise<void>;
  /**
   * Removes partial uploads last written before `before`: what a process killed mid-upload leaves
   * behind. Returns how many went. Stores that cannot leave partial blobs need not implement it.
   */
  removeAbandonedParts?(before: Date): Promise<number>;
  /** A URL that serves the blob without going through this server (S3 presigned GET), if the store can make one. */
  presignDownload?(key: string, options: { expiresAt: Date; fileName: string; contentType: string }): Promise<string>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`more than ${maxBytes} bytes`);
  }
}

export class BlobSizeMismatchError extends Error {
  constructor(
    readonly expected: number,
    readonly received: number,
  ) {
    super(`expected ${expected} bytes, received ${received}`);
  }
}

/**
 * What every store's `put` does with the upload body: reads it chunk by chunk into `write`,
 * hashing and counting, and refuses as `put` promises (BlobTooLargeError once more than `maxBytes`
 * arrive, BlobSizeMismatchError when `expectedSize` is not met). Read by hand rather than piped: a
 * pipeline would destroy the request on overflow, and then the 413 could not be sent; a client
 * that hangs up makes the iterator throw.
 */
export async function copyBounded(
  source: Readable,
  options: { maxBytes: number; expectedSize?: number | undefined },
  write: (chunk: Buffer) => Promise<unknown> | undefined,
): Promise<StoredBlob> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
    hash.update(chunk);
    await write(chunk);
  }
  if (options.expectedSize !== undefined && size !== options.expectedSize) throw new BlobSizeMismatchError(options.expectedSize, size);
  return { size, sha256: hash.digest('hex') };
}
