import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { freePort } from './server-process.js';

/** s3rver's built-in account: the only credentials it accepts. */
const ACCESS_KEY = 'S3RVER';

export interface S3TestServer {
  endpoint: string;
  /** Every request the store received, in order, as `METHOD /path?query`. */
  requests: string[];
  /** A client of the store, for a test to look at what is in it. */
  client: S3Client;
  /** NEXUS_BLOB_URL and the NEXUS_S3_* settings that point the server at `s3://<bucket>/<prefix>` here. */
  env(bucket: string, prefix: string): Record<string, string>;
  /** Every object key in the bucket under `prefix`, sorted. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** The size of an object, or undefined when there is none. */
  sizeOf(bucket: string, key: string): Promise<number | undefined>;
  /** The multipart uploads begun and neither completed nor aborted: their keys, sorted. */
  openUploads(bucket: string): string[];
  /** Moves the start of every open multipart upload of the bucket `ms` into the past. */
  backdateUploads(bucket: string, ms: number): void;
  /** Stops listening (connections refused) until `resume`, keeping every object. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An S3-compatible store (s3rver, files in a temporary folder) on a free loopback port, with the
 * given buckets. It sets the AWS SDK's credentials in this process's environment (the SDK's chain
 * reads them there, and servers spawned by the test inherit them) and turns off the SDK's
 * instance-metadata lookup, so nothing ever leaves the machine. Close it when the test ends.
 */
export async function startS3Server(options: { buckets: string[] }): Promise<S3TestServer> {
  process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = ACCESS_KEY;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-s3-'));
  const store = new S3rver({ silent: true, directory: dir, configureBuckets: options.buckets.map((name) => ({ name, configs: [] })) });
  await store.configureBuckets();
  const requests: string[] = [];
  const handle = store.callback();
  // s3rver's own handler, behind a server of ours that notes each request first and answers the two
  // calls s3rver lacks: ListMultipartUploads and AbortMultipartUpload.
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (!multipartCall(dir, req, res)) handle(req, res);
  });
  const port = await freePort();
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = async () => {
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: ACCESS_KEY },
  });
  return {
    endpoint,
    requests,
    client,
    env: (bucket, prefix) => ({
      NEXUS_BLOB_URL: `s3://${bucket}/${prefix}`,
      NEXUS_S3_ENDPOINT: endpoint,
      NEXUS_S3_REGION: 'us-east-1',
      NEXUS_S3_FORCE_PATH_STYLE: '1',
    }),
    async keys(bucket, prefix) {
      const out: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
        for (const object of page.Contents ?? []) if (object.Key) out.push(object.Key);
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return out.sort();
    },
    async sizeOf(bucket, key) {
      try {
        return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw err;
      }
    },
    openUploads: (bucket) =>
      openUploads(dir, bucket)
        .map((u) => u.key)
        .sort(),
    backdateUploads(bucket, ms) {
      for (const upload of openUploads(dir, bucket)) {
        const then = new Date(upload.initiated.getTime() - ms);
        fs.utimesSync(path.join(upload.dir, 'key'), then, then);
      }
    },
    pause: stop,
    resume: listen,
    async close() {
      client.destroy();
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface OpenUpload {
  dir: string;
  key: string;
  uploadId: string;
  initiated: Date;
}

/** s3rver keeps each open multipart upload in a folder of its own; the file `key`, written first, dates it. */
function openUploads(root: string, bucket: string): OpenUpload[] {
  const uploads = path.join(root, bucket, '._S3rver_uploads');
  if (!fs.existsSync(uploads)) return [];
  return fs.readdirSync(uploads).flatMap((uploadId) => {
    const dir = path.join(uploads, uploadId);
    const keyFile = path.join(dir, 'key');
    if (!fs.existsSync(keyFile)) return [];
    return [{ dir, key: fs.readFileSync(keyFile, 'utf8'), uploadId, initiated: fs.statSync(keyFile).mtime }];
  });
}

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Answers ListMultipartUploads and AbortMultipartUpload from s3rver's folders; false for any other request. */
function multipartCall(root: string, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://s3');
  const [, bucket, ...rest] = url.pathname.split('/').map(decodeURIComponent);
  if (!bucket) return false;
  // `/bucket/` and `/bucket` both name the bucket.
  const key = rest.join('/');
  const xml = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  };
  if (req.method === 'GET' && key === '' && url.searchParams.has('uploads')) {
    const prefix = url.searchParams.get('prefix') ?? '';
    const uploads = openUploads(root, bucket)
      .filter((u) => u.key.startsWith(prefix))
      .sort((a, b) => a.key.localeCompare(b.key) || a.uploadId.localeCompare(b.uploadId));
    const entries = uploads.map(
      (u) =>
        `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
    );
    xml(
      200,
      `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${bucket}</Bucket><Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${entries.join('')}</ListMultipartUploadsResult>`,
    );
    return true;
  }
  if (req.method === 'DELETE' && key !== '' && url.searchParams.has('uploadId')) {
    const upload = openUploads(root, bucket).find((u) => u.uploadId === url.searchParams.get('uploadId') && u.key === key);
    if (!upload) {
      xml(404, '<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>');
      return true;
    }
    fs.rmSync(upload.dir, { recursive: true, force: true });
    res.writeHead(204).end();
    return true;
  }
  return false;
}
