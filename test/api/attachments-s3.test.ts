import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as store from '../../src/attachments/store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { coreJobs } from '../../src/workers.js';
import { build, buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { freePort, spawnServer, startServer } from '../helpers/server-process.js';
import { eventually } from '../helpers/wait.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

const KiB = 1024;
const MiB = 1024 * KiB;
/** Above the store's 5 MiB part size, so that the largest uploads here go as multipart uploads. */
const MAX = 12 * MiB;
const BUCKET = 'nexus-attachments';
const PREFIX = 'helpdesk/files';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const pathOf = (url: string): string => new URL(url).pathname;

async function requestUpload(t: TestApp, body: Record<string, unknown>): Promise<Json> {
  const res = await t.request({ method: 'POST', url: '/v1/attachments', body });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

function put(t: TestApp, uploadUrl: string, payload: Buffer | Readable, contentType = 'application/octet-stream') {
  return t.app.inject({ method: 'PUT', url: pathOf(uploadUrl), headers: { 'content-type': contentType }, payload });
}

const storageKey = async (t: TestApp, id: string): Promise<string | null> => (await store.findAttachment(t.runtime.db, id))!.storage_key;

/** The requests the store received since `from` that concern one object key. */
const requestsFor = (s3: S3TestServer, objectKey: string, from = 0): string[] => s3.requests.slice(from).filter((r) => r.includes(`/${objectKey}`));

describe('attachments in an S3-compatible bucket', () => {
  let s3: S3TestServer;
  let t: TestApp;
  before(async () => {
    s3 = await startS3Server({ buckets: [BUCKET] });
    t = await buildTestApp({ env: { ...s3.env(BUCKET, PREFIX), NEXUS_ATTACHMENT_MAX_BYTES: String(MAX) } });
  });
  after(async () => {
    await t?.close();
    await s3?.close();
  });

  const objectOf = (key: string) => `${PREFIX}/${key}`;

  it('stores the bytes as one object under the prefix, links them to a reply and serves them and their ranges back', async () => {
    const brand = await createBrand(t);
    const ticket = await createTicket(t, brand.id);
    // One small file (a single PutObject) and one over the part size (a multipart upload).
    for (const size of [300 * KiB, 7 * MiB + 123]) {
      const bytes = randomBytes(size);
      const created = await requestUpload(t, { file_name: 'logs.tar.gz', content_type: 'application/gzip', size });
      const from = s3.requests.length;
      const up = await put(t, created.upload_url, bytes, 'application/gzip');
      assert.equal(up.statusCode, 200, up.body);
      assert.deepEqual(up.json(), { id: created.id, file_name: 'logs.tar.gz', content_type: 'application/gzip', status: 'ready', size, sha256: sha256(bytes) });

      const key = (await storageKey(t, created.id))!;
      assert.match(key, /^blob_[0-9a-z]{26}$/);
      const sent = requestsFor(s3, objectOf(key), from);
      assert.equal(await s3.sizeOf(BUCKET, objectOf(key)), size, 'the object holds every byte');
      if (size > 5 * MiB) {
        assert.ok(
          sent.some((r) => r.startsWith('POST') && r.includes('?uploads')),
          `a multipart upload: ${sent.join(', ')}`,
        );
        assert.ok(
          sent.some((r) => r.startsWith('PUT') && r.includes('partNumber=2')),
          `in parts: ${sent.join(', ')}`,
        );
      } else {
        assert.deepEqual(
          sent.map((r) => r.split(' ')[0]),
          ['PUT'],
          'one PutObject',
        );
      }

      const replied = await t.request({
        method: 'POST',
        url: `/v1/tickets/${ticket.id}/messages`,
        body: { author_type: 'agent', body: 'Logs attached.', attachments: [created.id] },
      });
      assert.equal(replied.statusCode, 201, replied.body);
      const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
      assert.equal(view.status, 'ready');
      assert.equal(view.size, size);
      assert.equal(view.sha256, sha256(bytes));
      assert.equal(view.message_id, replied.json().id);
      // Downloads still go through the API's signed URL, with its headers.
      assert.ok(view.download_url.startsWith(`${t.config.publicUrl}/v1/downloads/`), view.download_url);

      const whole = await t.app.inject({ method: 'GET', url: pathOf(view.download_url) });
      assert.equal(whole.statusCode, 200);
      assert.equal(whole.headers['content-length'], String(size));
      assert.equal(whole.headers.etag, `"${sha256(bytes)}"`);
      assert.equal(whole.headers['content-disposition'], 'attachment; filename="logs.tar.gz"');
      assert.equal(sha256(whole.rawPayload), sha256(bytes));

      const middle = await t.app.inject({ method: 'GET', url: pathOf(view.download_url), headers: { range: 'bytes=100000-100099' } });
      assert.equal(middle.statusCode, 206);
      assert.equal(middle.headers['content-range'], `bytes 100000-100099/${size}`);
      assert.deepEqual(middle.rawPayload, bytes.subarray(100_000, 100_100));
      const tail = await t.app.inject({ method: 'GET', url: pathOf(view.download_url), headers: { range: 'bytes=-10' } });
      assert.equal(tail.statusCode, 206);
      assert.deepEqual(tail.rawPayload, bytes.subarray(size - 10));
      const beyond = await t.app.inject({ method: 'GET', url: pathOf(view.download_url), headers: { range: `bytes=${size}-` } });
      assert.equal(beyond.statusCode, 416);
      const head = await t.app.inject({ method: 'HEAD', url: pathOf(view.download_url) });
      assert.equal(head.statusCode, 200);
      assert.equal(head.rawPayload.length, 0);
    }
  });

  it('keeps a zero-byte file', async () => {
    const created = await requestUpload(t, { file_name: 'empty.txt', content_type: 'text/plain', size: 0 });
    assert.equal((await put(t, created.upload_url, Buffer.alloc(0), 'text/plain')).statusCode, 200);
    assert.equal(await s3.sizeOf(BUCKET, objectOf((await storageKey(t, created.id))!)), 0);
    const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
    assert.equal(view.sha256, sha256(Buffer.alloc(0)));
    const dl = await t.app.inject({ method: 'GET', url: pathOf(view.download_url) });
    assert.equal(dl.statusCode, 200);
    assert.equal(dl.rawPayload.length, 0);
  });

  it('takes an upload URL once: a second PUT is a 410 and the first bytes stay', async () => {
    const first = randomBytes(64 * KiB);
    const created = await requestUpload(t, { file_name: 'a.bin', content_type: 'application/octet-stream' });
    assert.equal((await put(t, created.upload_url, first)).statusCode, 200);
    const objects = await s3.keys(BUCKET, PREFIX);
    const again = await put(t, created.upload_url, randomBytes(64 * KiB));
    assert.match(assertProblem(again, 410, 'upload_url_expired').detail, /already been used/);
    assert.deepEqual(await s3.keys(BUCKET, PREFIX), objects, 'no second object');
    const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
    assert.equal(sha256((await t.app.inject({ method: 'GET', url: pathOf(view.download_url) })).rawPayload), sha256(first));
  });

  it('refuses an upload over the size limit with 413, by Content-Length or while streaming, leaves no object, and the URL still works', async () => {
    const created = await requestUpload(t, { file_name: 'big.bin', content_type: 'application/octet-stream' });
    const objects = await s3.keys(BUCKET, PREFIX);

    const from = s3.requests.length;
    assertProblem(await put(t, created.upload_url, randomBytes(MAX + 1)), 413, 'payload_too_large');
    assert.deepEqual(s3.requests.slice(from), [], 'refused by Content-Length before anything reached the store');
    // Without a Content-Length the limit shows while streaming (past it mid-multipart: see the next suite).
    assertProblem(await put(t, created.upload_url, Readable.from([randomBytes(MAX / 2), randomBytes(MAX / 2 + 1)])), 413, 'payload_too_large');
    assert.deepEqual(await s3.keys(BUCKET, PREFIX), objects, 'no object');
    assert.equal((await store.findAttachment(t.runtime.db, created.id))!.status, 'pending');

    const exact = randomBytes(MAX);
    const res = await put(t, created.upload_url, exact);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().sha256, sha256(exact));
    assert.equal(await s3.sizeOf(BUCKET, objectOf((await storageKey(t, created.id))!)), MAX);
  });

  it('holds an upload to its declared size and keeps nothing otherwise', async () => {
    const created = await requestUpload(t, { file_name: 'a.bin', content_type: 'application/octet-stream', size: 10 });
    const objects = await s3.keys(BUCKET, PREFIX);
    assertProblem(await put(t, created.upload_url, Readable.from([randomBytes(6), randomBytes(6)])), 400, 'bad_request');
    assert.deepEqual(await s3.keys(BUCKET, PREFIX), objects);
    assert.equal((await store.findAttachment(t.runtime.db, created.id))!.status, 'pending');
  });

  it('sweeps the objects of uploads never linked after 24 hours and keeps the rest', async () => {
    const start = t.clock.now();
    const brand = await createBrand(t);
    const ticket = await createTicket(t, brand.id);
    const upload = async () => {
      const created = await requestUpload(t, { file_name: 'a.bin', content_type: 'application/octet-stream', brand_id: brand.id });
      assert.equal((await put(t, created.upload_url, randomBytes(1000))).statusCode, 200);
      return { id: created.id as string, object: objectOf((await storageKey(t, created.id))!) };
    };
    const linked = await upload();
    const stale = await upload();
    const reply = await t.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      body: { author_type: 'agent', body: 'x', attachments: [linked.id] },
    });
    assert.equal(reply.statusCode, 201, reply.body);
    t.clock.advance(12 * 3_600_000);
    const young = await upload();
    try {
      t.clock.set(new Date(start.getTime() + 24 * 3_600_000 + 1000));
      // The job the workers run.
      await coreJobs(t.runtime)
        .find((j) => j.name === 'attachment-sweeper')!
        .run();
      assert.equal(await store.findAttachment(t.runtime.db, stale.id), undefined);
      assert.equal(await s3.sizeOf(BUCKET, stale.object), undefined, 'the stale object is gone');
      assert.equal(await s3.sizeOf(BUCKET, linked.object), 1000);
      assert.equal(await s3.sizeOf(BUCKET, young.object), 1000);
    } finally {
      t.clock.set(start);
    }
  });
});

/** Headers and part of a body over a raw socket; the caller cuts the connection. */
async function startPut(port: number, urlPath: string, announced: number, send: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(`PUT ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${announced}\r\n\r\n`);
  const piece = randomBytes(256 * KiB);
  for (let sent = 0; sent < send; sent += piece.length) {
    if (!socket.write(piece.subarray(0, Math.min(piece.length, send - sent)))) await once(socket, 'drain');
  }
  return socket;
}

/** A chunked PUT that goes on past MAX until the server answers; resolves with the status it answered, if one arrived. */
function chunkedPastLimit(port: number, urlPath: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let response = '';
    socket.on('data', (d: Buffer) => {
      if (!response) socket.end();
      response += d.toString('latin1');
    });
    // A reset after the server refused the body is expected; the status says what arrived.
    socket.on('error', () => {});
    socket.on('close', () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(response);
      resolve(match ? Number(match[1]) : undefined);
    });
    const piece = randomBytes(256 * KiB);
    const frame = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
    let sent = 0;
    const pump = (): void => {
      while (sent <= MAX + MiB && !response && !socket.destroyed) {
        sent += piece.length;
        if (!socket.write(frame)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.once('connect', () => {
      socket.write(`PUT ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`);
      pump();
    });
  });
}

function honestPut(port: number, urlPath: string, bytes: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: 'PUT',
        agent: false,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

/**
 * A server process of its own, on the test app's database and data dir (so its secret key), with
 * its attachments in the bucket: the client vanishes mid-body, as a real one would.
 */
describe('an upload to S3 cut off by the client', () => {
  let s3: S3TestServer;
  let t: TestApp;
  before(async () => {
    s3 = await startS3Server({ buckets: [BUCKET] });
    // The server keeps real time, so the URLs the test app signs must too.
    t = await buildTestApp({ env: { ...s3.env(BUCKET, PREFIX), NEXUS_ATTACHMENT_MAX_BYTES: String(MAX) }, clock: new ManualClock(new Date()) });
  });
  after(async () => {
    await t?.close();
    await s3?.close();
  });

  it('leaves no object and no part, and the same URL then takes the whole file', async (ctx) => {
    const server = await startServer((fn) => ctx.after(fn), {
      NEXUS_DATA_DIR: t.dataDir,
      DATABASE_URL: t.config.databaseUrl ?? '',
      NEXUS_WORKERS: '0',
      NEXUS_ATTACHMENT_MAX_BYTES: String(MAX),
      ...s3.env(BUCKET, PREFIX),
    });
    const created = await requestUpload(t, { file_name: 'cut.bin', content_type: 'application/octet-stream' });
    const row = () => store.findAttachment(t.runtime.db, created.id);
    const objects = await s3.keys(BUCKET, PREFIX);

    // Cut within the first part: nothing has reached the store yet.
    let from = s3.requests.length;
    let socket = await startPut(server.port, pathOf(created.upload_url), 3 * MiB, MiB);
    await eventually('the upload runs', async () => (await row())?.status === 'uploading');
    const smallKey = (await row())!.storage_key!;
    socket.destroy();
    await eventually('the URL is free again', async () => (await row())?.status === 'pending');
    assert.deepEqual(requestsFor(s3, `${PREFIX}/${smallKey}`, from), [], 'nothing was sent for a cut-off single-part upload');

    // Cut after a part has gone out: the multipart upload is aborted.
    from = s3.requests.length;
    socket = await startPut(server.port, pathOf(created.upload_url), 11 * MiB, 7 * MiB);
    await eventually('the upload runs', async () => (await row())?.status === 'uploading');
    const largeKey = `${PREFIX}/${(await row())!.storage_key!}`;
    await eventually('a part reaches the store', () => requestsFor(s3, largeKey, from).some((r) => r.includes('partNumber=1')));
    socket.destroy();
    await eventually('the URL is free again', async () => (await row())?.status === 'pending');
    await eventually('the multipart upload is aborted', () => s3.openUploads(BUCKET).length === 0);
    assert.ok(requestsFor(s3, largeKey, from).some((r) => r.startsWith('DELETE') && r.includes('uploadId=')));
    assert.ok(!requestsFor(s3, largeKey, from).some((r) => r.startsWith('POST') && r.includes('uploadId=')), 'never completed');
    assert.deepEqual(await s3.keys(BUCKET, PREFIX), objects, 'no object left');
    const left = (await row())!;
    assert.equal(left.storage_key, null);
    assert.equal(left.sha256, null);

    // A chunked body past the limit: the 413 comes mid-multipart, whose parts are then aborted.
    from = s3.requests.length;
    const over = chunkedPastLimit(server.port, pathOf(created.upload_url));
    await eventually('the upload runs', async () => (await row())?.status === 'uploading');
    const overKey = `${PREFIX}/${(await row())!.storage_key!}`;
    const status = await over;
    assert.ok(status === 413 || status === undefined, `answered ${status}`);
    await eventually('the URL is free again', async () => (await row())?.status === 'pending');
    assert.ok(
      requestsFor(s3, overKey, from).some((r) => r.includes('partNumber=2')),
      `parts went out: ${requestsFor(s3, overKey, from).join(', ')}`,
    );
    await eventually('the multipart upload is aborted', () => s3.openUploads(BUCKET).length === 0);
    assert.ok(requestsFor(s3, overKey, from).some((r) => r.startsWith('DELETE') && r.includes('uploadId=')));
    assert.deepEqual(await s3.keys(BUCKET, PREFIX), objects, 'no object left');

    assert.equal(server.child.exitCode, null, `the server died:\n${server.output().slice(-2000)}`);
    const bytes = randomBytes(9 * MiB);
    const res = await honestPut(server.port, pathOf(created.upload_url), bytes);
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).sha256, sha256(bytes));
    const key = `${PREFIX}/${(await row())!.storage_key!}`;
    assert.deepEqual(await s3.keys(BUCKET, PREFIX), [...objects, key].sort());
    const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
    const dl = await fetch(`${server.base}${pathOf(view.download_url)}`);
    assert.equal(dl.status, 200);
    assert.equal(sha256(Buffer.from(await dl.arrayBuffer())), sha256(bytes));
  });
});

describe('an upload to S3 cut off by a killed server', () => {
  let s3: S3TestServer;
  let t: TestApp;
  before(async () => {
    s3 = await startS3Server({ buckets: [BUCKET] });
    t = await buildTestApp({ env: { ...s3.env(BUCKET, PREFIX), NEXUS_ATTACHMENT_MAX_BYTES: String(MAX) }, clock: new ManualClock(new Date()) });
  });
  after(async () => {
    await t?.close();
    await s3?.close();
  });

  it('leaves its parts to the sweeper, which aborts them once no running upload can own them', async (ctx) => {
    const server = await startServer((fn) => ctx.after(fn), {
      NEXUS_DATA_DIR: t.dataDir,
      DATABASE_URL: t.config.databaseUrl ?? '',
      NEXUS_WORKERS: '0',
      NEXUS_ATTACHMENT_MAX_BYTES: String(MAX),
      ...s3.env(BUCKET, PREFIX),
    });
    const created = await requestUpload(t, { file_name: 'killed.bin', content_type: 'application/octet-stream' });
    const socket = await startPut(server.port, pathOf(created.upload_url), 11 * MiB, 7 * MiB);
    ctx.after(() => socket.destroy());
    await eventually('the upload runs', async () => (await store.findAttachment(t.runtime.db, created.id))?.status === 'uploading');
    const key = `${PREFIX}/${(await store.findAttachment(t.runtime.db, created.id))!.storage_key!}`;
    await eventually('a multipart upload is open', () => s3.openUploads(BUCKET).includes(key));
    await server.stop('SIGKILL');
    assert.deepEqual(s3.openUploads(BUCKET), [key], 'nobody could abort it');

    // The longest upload the server allows: 12 MiB at the minimum 4 KiB/s, plus one 72 s idle window
    // (about 52 minutes); the sweeper adds the 15 minutes it gives partial files on disk.
    const sweeper = coreJobs(t.runtime).find((j) => j.name === 'attachment-sweeper')!;
    await sweeper.run();
    assert.deepEqual(s3.openUploads(BUCKET), [key], 'a young upload could still be running');
    s3.backdateUploads(BUCKET, 66 * 60_000);
    await sweeper.run();
    assert.deepEqual(s3.openUploads(BUCKET), [key], 'an upload could still be running 66 minutes in');
    s3.backdateUploads(BUCKET, 3 * 60_000);
    assert.equal(await t.runtime.services.attachments.removeAbandonedParts(), 1);
    assert.deepEqual(s3.openUploads(BUCKET), []);
    assert.deepEqual(await s3.keys(BUCKET, PREFIX), [], 'and it never became an object');
  });
});

describe('a blob store that cannot be used', () => {
  let s3: S3TestServer;
  before(async () => {
    s3 = await startS3Server({ buckets: [BUCKET] });
  });
  after(() => s3?.close());

  /** A server on a fresh SQLite data dir of its own; resolves with its exit code and output once it has exited. */
  async function start(
    ctx: { after: (fn: () => Promise<void> | void) => void },
    env: Record<string, string>,
  ): Promise<{ code: number | null; output: string }> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-s3-start-'));
    ctx.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const server = await spawnServer((fn) => ctx.after(fn), { NEXUS_DATA_DIR: dataDir, DATABASE_URL: '', NEXUS_WORKERS: '0', ...env });
    const code = await server.exited();
    return { code, output: server.output() };
  }

  it('is not ready (/readyz) while the bucket does not answer, and is again once it does', async (ctx) => {
    const own = await startS3Server({ buckets: [BUCKET] });
    ctx.after(() => own.close());
    const t = await build(ctx, { env: own.env(BUCKET, PREFIX) });
    assert.equal((await t.request({ method: 'GET', url: '/readyz', token: null })).statusCode, 200);
    await own.pause();
    const res = await t.request({ method: 'GET', url: '/readyz', token: null });
    assert.match(assertProblem(res, 503, 'unavailable').detail, /attachment store/);
    assert.ok(!res.body.includes(own.endpoint), 'the endpoint is logged, not shown');
    await own.resume();
    assert.equal((await t.request({ method: 'GET', url: '/readyz', token: null })).statusCode, 200);
  });

  it('refuses to start on a missing bucket, naming the bucket and the endpoint', async (ctx) => {
    const { code, output } = await start(ctx, s3.env('no-such-bucket', 'files'));
    assert.equal(code, 1, output);
    assert.match(output, /bucket "no-such-bucket"/);
    assert.ok(output.includes(s3.endpoint), output);
    assert.match(output, /does not exist/);
  });

  it('refuses to start when the endpoint does not answer, naming it', async (ctx) => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const { code, output } = await start(ctx, { ...s3.env(BUCKET, 'files'), NEXUS_S3_ENDPOINT: closed });
    assert.equal(code, 1, output);
    assert.ok(output.includes(`bucket "${BUCKET}" at ${closed}`), output);
    assert.match(output, /unreachable/);
  });

  it('refuses a NEXUS_BLOB_URL it cannot use as a configuration error', async (ctx) => {
    const { code, output } = await start(ctx, { NEXUS_BLOB_URL: 'https://example.com/bucket' });
    assert.equal(code, 2, output);
    assert.match(output, /NEXUS_BLOB_URL/);
  });
});
