import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const MiB = 1024 * 1024;

interface Sent {
  status: number;
  body: string;
  sha256: string;
  sent: number;
}

/**
 * PUTs `total` pseudo-random bytes generated one reused 1 MiB buffer at a time, so the test itself
 * never holds the file; stops sending as soon as the server answers.
 */
function streamPut(port: number, urlPath: string, contentType: string, total: number, headers: Record<string, string> = {}): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const chunk = Buffer.alloc(MiB);
    let sent = 0;
    let answered = false;
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method: 'PUT', agent: false, headers: { 'content-type': contentType, ...headers } },
      (res) => {
        answered = true;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sha256: hash.digest('hex'), sent }));
      },
    );
    req.on('error', (err) => (answered ? undefined : reject(err)));
    const pump = async () => {
      while (sent < total && !answered) {
        const n = Math.min(MiB, total - sent);
        const piece = n === MiB ? chunk : chunk.subarray(0, n);
        randomFillSync(piece);
        hash.update(piece);
        sent += n;
        // The callback runs once the bytes are handed to the socket, so the buffer may be refilled.
        await new Promise<void>((done, fail) => req.write(piece, (err) => (err ? fail(err) : done())));
      }
      req.end();
    };
    pump().catch((err: unknown) => (answered ? undefined : reject(err as Error)));
  });
}

/** Downloads over the real connection, hashing as the bytes arrive. */
function streamGet(port: number, urlPath: string): Promise<{ status: number; size: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        const hash = createHash('sha256');
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          hash.update(d);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, size, sha256: hash.digest('hex') }));
      })
      .on('error', reject);
  });
}

/** Samples this process's resident set every few milliseconds while `work` runs. */
async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - baseline };
  } finally {
    clearInterval(timer);
  }
}

function blobFiles(t: TestApp): string[] {
  const root = path.join(t.dataDir, 'attachments');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(root, f)).isFile());
}

async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return (t.app.server.address() as AddressInfo).port;
}

describe('large attachments over a real connection', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await buildTestApp({ env: { NEXUS_ATTACHMENT_MAX_BYTES: String(128 * MiB) } });
    port = await listen(t);
  });
  after(() => t.close());

  it('streams a 100 MiB upload to disk with bounded memory, and serves the same bytes back', async (ctx) => {
    const total = 100 * MiB;
    // Warm up first (JIT, lazily loaded code, first file-system calls), so the baseline is steady.
    const warmUp = (
      await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'warm.bin', content_type: 'application/octet-stream' } })
    ).json();
    assert.equal((await streamPut(port, new URL(warmUp.upload_url).pathname, 'application/octet-stream', 8 * MiB)).status, 200);

    const created = (
      await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'disk.img', content_type: 'application/octet-stream', size: total } })
    ).json();
    const { result: sent, growth } = await peakRssGrowth(() =>
      streamPut(port, new URL(created.upload_url).pathname, 'application/octet-stream', total, { 'content-length': String(total) }),
    );
    ctx.diagnostic(`peak RSS growth during the 100 MiB upload: ${(growth / MiB).toFixed(1)} MiB`);
    assert.equal(sent.status, 200, sent.body);
    const body = JSON.parse(sent.body) as { size: number; sha256: string };
    assert.equal(body.size, total);
    assert.equal(body.sha256, sent.sha256);
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);

    const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
    const { result: got, growth: downloadGrowth } = await peakRssGrowth(() => streamGet(port, new URL(view.download_url).pathname));
    ctx.diagnostic(`peak RSS growth during the 100 MiB download: ${(downloadGrowth / MiB).toFixed(1)} MiB`);
    assert.equal(got.status, 200);
    assert.equal(got.size, total);
    assert.equal(got.sha256, sent.sha256);
    assert.ok(downloadGrowth < 64 * MiB, `RSS grew by ${(downloadGrowth / MiB).toFixed(1)} MiB`);
  });
});

describe('oversize uploads over a real connection', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await buildTestApp({ env: { NEXUS_ATTACHMENT_MAX_BYTES: String(MiB) } });
    port = await listen(t);
  });
  after(() => t.close());

  it('stops a chunked upload at the limit with a 413 and keeps nothing', async () => {
    const created = (
      await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'big.bin', content_type: 'application/octet-stream' } })
    ).json();
    const sent = await streamPut(port, new URL(created.upload_url).pathname, 'application/octet-stream', 16 * MiB);
    assert.equal(sent.status, 413, sent.body);
    assert.equal(JSON.parse(sent.body).code, 'payload_too_large');
    assert.ok(sent.sent < 16 * MiB, 'the client was stopped before sending everything');
    assert.deepEqual(blobFiles(t), []);
    const row = await t.runtime.db.selectFrom('attachments').select('status').where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'pending');
  });

  it('keeps nothing from an upload the client abandons half way, and the URL stays usable', async () => {
    const created = (
      await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'half.bin', content_type: 'application/octet-stream' } })
    ).json();
    const urlPath = new URL(created.upload_url).pathname;
    const statusOf = async () => (await t.runtime.db.selectFrom('attachments').select('status').where('id', '=', created.id).executeTakeFirstOrThrow()).status;
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: urlPath,
      method: 'PUT',
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(MiB) },
    });
    req.on('error', () => {});
    await new Promise<void>((done) => req.write(Buffer.alloc(256 * 1024, 7), () => done()));
    for (let i = 0; i < 6000 && (await statusOf()) !== 'uploading'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await statusOf(), 'uploading');
    req.destroy();
    for (let i = 0; i < 6000 && (await statusOf()) !== 'pending'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await statusOf(), 'pending');
    assert.deepEqual(blobFiles(t), []);

    const retry = await streamPut(port, urlPath, 'application/octet-stream', 1000);
    assert.equal(retry.status, 200, retry.body);
    assert.equal(JSON.parse(retry.body).sha256, retry.sha256);
  });
});
