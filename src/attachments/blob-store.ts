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

/**
 * Where attachment bytes live. Keys are chosen by the server (the attachment id), never by a
 * client. The default keeps files on local disk; an S3-compatible store (coming with the
 * PostgreSQL scale-out) implements the same interface plus `presignDownload`, so downloads can go
 * straight to the bucket.
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
   * folder check, S3 `HeadBucket`), no blob written. A store with no blob yet is ready.
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
