import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BLOB_KEY, type BlobStore, type ByteRange, type StoredBlob, copyBounded } from './blob-store.js';

/**
 * Parts of a multipart upload are buffered in memory before they go out: the S3 minimum (5 MiB,
 * except for the last part), at most QUEUE_SIZE in flight plus the one being filled, so one
 * upload holds ~15 MiB at most whatever the file's size. A file smaller than one part goes as a
 * single PutObject once its last byte has arrived.
 */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;

export interface S3BlobStoreOptions {
  bucket: string;
  /** Empty, or ends with `/`: objects are `<prefix><key>`. */
  prefix: string;
  /** Undefined means AWS S3 itself. */
  endpoint: string | undefined;
  /** Undefined leaves the region to the SDK's chain (AWS_REGION, the profile). */
  region: string | undefined;
  forcePathStyle: boolean;
  /**
   * The longest an upload can run (the size limit at the minimum upload rate): a multipart upload
   * initiated longer ago than this before the sweeper's cut-off belongs to no running upload.
   */
  longestUploadMs: number;
}

/**
 * Objects in one bucket of any S3-compatible store, named `<prefix><key>`. Bytes stream through
 * this server: `put` hashes and counts them on the way into a multipart upload (lib-storage), which
 * S3 makes visible only when completed, so a rejected or broken upload never leaves an object; its
 * uploaded parts are aborted at once, and those of a process killed mid-upload by
 * `removeAbandonedParts` (or the bucket's lifecycle rule). Credentials come from the AWS SDK's
 * standard chain.
 */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;

  constructor(private readonly options: S3BlobStoreOptions) {
    const custom = options.endpoint !== undefined;
    this.client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      forcePathStyle: options.forcePathStyle,
      // Since 2025 the SDK adds CRC checksums (aws-chunked trailers) to every upload by default, which
      // several S3-compatible stores refuse; AWS S3 keeps them. The SHA-256 we compute is ours either way.
      requestChecksumCalculation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      responseChecksumValidation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      requestHandler: {
        // An endpoint that does not answer fails the start (check) in seconds rather than hanging it.
        connectionTimeout: 5_000,
        // A download holds its socket for as long as the client takes to read; the SDK's 50 would
        // let 50 slow downloads stall every other request to the store.
        httpAgent: { keepAlive: true, maxSockets: 1024 },
        httpsAgent: { keepAlive: true, maxSockets: 1024 },
      },
    });
  }

  /** Where the store is, for error messages: never credentials. */
  describe(): string {
    const where = this.options.endpoint ?? `AWS S3${this.options.region ? ` (${this.options.region})` : ''}`;
    return `bucket "${this.options.bucket}" at ${where}`;
  }

  private objectKey(key: string): string {
    if (!BLOB_KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return `${this.options.prefix}${key}`;
  }

  /**
   * The bucket exists and these credentials may use it (HeadBucket). Rejects with a message naming
   * the bucket and the endpoint, and what to change.
   */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }), { abortSignal: AbortSignal.timeout(20_000) });
    } catch (err) {
      throw new Error(`The attachment store cannot be used: ${this.describe()}: ${explain(err)}`, { cause: err });
    }
  }

  async put(key: string, source: Readable, options: { maxBytes: number; expectedSize?: number | undefined }): Promise<StoredBlob> {
    const Key = this.objectKey(key);
    const body = new PassThrough({ highWaterMark: 256 * 1024 });
    // Destroyed with the cause when the upload fails; whoever reads it by then may be gone.
    body.on('error', () => {});
    const upload = new Upload({ client: this.client, params: { Bucket: this.options.bucket, Key, Body: body }, partSize: PART_SIZE, queueSize: QUEUE_SIZE });
    const done = upload.done();
    done.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
    try {
      // Back-pressure from the store reaches the client; a store that fails meanwhile ends the wait.
      const stored = await copyBounded(source, options, (chunk) => (body.write(chunk) ? undefined : Promise.race([once(body, 'drain'), done])));
      body.end();
      await done;
      return stored;
    } catch (err) {
      // The body ends in an error, never normally, so the upload can never complete: lib-storage
      // then aborts the multipart upload (at once, or when a part in flight returns). abort()
      // settles `done` now rather than after a store that has stopped answering.
      body.destroy(err instanceof Error ? err : new Error(String(err)));
      await upload.abort();
      await done.catch(() => {});
      throw err;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    // Awaited here, so that a missing object is an error before any header is sent.
    const res = await this.client.send(
      new GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
    );
    const body = res.Body;
    if (!(body instanceof Readable)) throw new Error(`${this.describe()} answered GetObject without a body stream`);
    if (range && !res.ContentRange) {
      // A store that ignored the range sent the whole object: never serve that as the range.
      body.destroy();
      throw new Error(`${this.describe()} ignored the Range header`);
    }
    return body;
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a key that does not exist.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }));
  }

  /**
   * Aborts multipart uploads under the prefix that no running upload can own: initiated longer
   * than the longest possible upload before `before` (a failed upload aborts its own at once; these
   * are what a killed process leaves). A store without ListMultipartUploads removes nothing here:
   * its lifecycle rule must (docs/attachments.md).
   */
  async removeAbandonedParts(before: Date): Promise<number> {
    const cutoff = before.getTime() - this.options.longestUploadMs;
    const { bucket, prefix } = this.options;
    let removed = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      let page: ListMultipartUploadsCommandOutput;
      try {
        page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker, UploadIdMarker }));
      } catch (err) {
        if (errorName(err) === 'NotImplemented' || statusOf(err) === 501) return removed;
        throw err;
      }
      for (const upload of page.Uploads ?? []) {
        const { Key, UploadId, Initiated } = upload;
        // Only keys this server makes: other tools may share the prefix.
        if (!Key || !UploadId || !Initiated || !BLOB_KEY.test(Key.slice(prefix.length))) continue;
        if (Initiated.getTime() >= cutoff) continue;
        try {
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
          removed++;
        } catch (err) {
          // Completed or aborted by someone else since the listing.
          if (errorName(err) !== 'NoSuchUpload') throw err;
        }
      }
      if (!page.IsTruncated) return removed;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }
}

const errorName = (err: unknown): string | undefined => (err instanceof Error ? err.name : undefined);
const statusOf = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;

/** What went wrong, in words an operator can act on. */
function explain(err: unknown): string {
  const status = statusOf(err);
  const name = errorName(err);
  const code = (err as { code?: string } | undefined)?.code;
  if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') return 'the bucket does not exist (create it, or fix NEXUS_BLOB_URL)';
  if (status === 403) return 'access denied (403): check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and the bucket policy';
  if (status === 301 || name === 'PermanentRedirect') return 'the bucket is in another region: set NEXUS_S3_REGION';
  if (name === 'CredentialsProviderError')
    return 'no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or use an instance role)';
  if (name === 'TimeoutError' || name === 'AbortError') return 'no answer within 20 s (is NEXUS_S3_ENDPOINT right, and reachable from here?)';
  if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(code)) {
    return `unreachable (${code}): is NEXUS_S3_ENDPOINT right, and is the store running?`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `${name ?? 'error'}${status ? ` (${status})` : ''}: ${message}`;
}
