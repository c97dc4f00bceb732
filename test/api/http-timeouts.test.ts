import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, loadConfig } from '../../src/config.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, ticketBody } from '../helpers/factories.js';
import { RawConnection, healthz } from '../helpers/raw-http.js';

/** Generous: the cut must come, but the machine may be busy. */
const BOUND_MS = 20_000;

async function listening(env: Record<string, string>): Promise<{ t: TestApp; port: number }> {
  const t = await buildTestApp({ env });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { t, port: (t.app.server.address() as AddressInfo).port };
}

/**
 * Sends `body` `bytesPerTick` at a time every `intervalMs` until the server answers or closes,
 * (the body is bounded, so is the loop).
 */
async function trickle(c: RawConnection, body: Buffer, bytesPerTick: number, intervalMs: number): Promise<void> {
  for (let at = 0; at < body.length && !c.closed && c.receivedBytes === 0; at += bytesPerTick) {
    c.write(body.subarray(at, at + bytesPerTick));
    await sleep(intervalMs);
  }
}

/** While `during` is pending, other clients keep getting answers: returns how many did. */
async function servedMeanwhile(port: number, during: Promise<unknown>): Promise<number> {
  let pending = true;
  void during.finally(() => (pending = false));
  let served = 0;
  for (let i = 0; i < 5 && pending; i++) {
    const started = Date.now();
    assert.equal(await healthz(port), 200);
    assert.ok(Date.now() - started < 5000, 'another client is answered promptly');
    served++;
    await sleep(150);
  }
  return served;
}

describe('slow clients: header and body deadlines', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    ({ t, port } = await listening({ NEXUS_HTTP_HEADERS_TIMEOUT_MS: '1000', NEXUS_HTTP_REQUEST_TIMEOUT_MS: '1500', NEXUS_HTTP_IDLE_TIMEOUT_MS: '30000' }));
  });
  after(async () => t.close());

  it('an authenticated request trickling its body gets a 408 problem, nothing is stored, others are served meanwhile', async () => {
    const brand = await createBrand(t);
    const before = await countRows(t, 'tickets');
    const body = Buffer.from(JSON.stringify(ticketBody(brand.id)));
    const c = new RawConnection(port);
    try {
      const started = Date.now();
      c.write(
        `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      // One byte every 100 ms would take the whole body ~20 s.
      const sending = trickle(c, body, 1, 100);
      const answer = c.response(BOUND_MS);
      assert.ok((await servedMeanwhile(port, answer)) >= 1);
      const res = await answer;
      const elapsed = Date.now() - started;
      const problem = assertProblem(res, 408, 'request_timeout');
      assert.match(problem.detail, /did not arrive within 1500 ms/);
      assert.equal(res.headers.connection, 'close');
      assert.ok(elapsed >= 1400 && elapsed < BOUND_MS, `cut after ${elapsed} ms`);
      assert.equal(await c.waitClosed(), true, 'the connection is closed');
      await sending;
    } finally {
      c.destroy();
    }
    assert.equal(await countRows(t, 'tickets'), before);
    assert.equal(await healthz(port), 200);
  });

  it('trickled headers get a 408 problem once the headers deadline passes', async () => {
    const c = new RawConnection(port);
    try {
      const started = Date.now();
      c.write(`GET /v1/tickets HTTP/1.1\r\nHost: localhost\r\n`);
      const header = Buffer.from(`X-Slow: ${'s'.repeat(400)}`);
      const sending = trickle(c, header, 1, 50);
      const answer = c.response(BOUND_MS);
      assert.ok((await servedMeanwhile(port, answer)) >= 1);
      const res = await answer;
      const elapsed = Date.now() - started;
      const problem = assertProblem(res, 408, 'request_timeout');
      assert.match(problem.detail, /headers did not arrive within 1000 ms/);
      assert.ok(elapsed >= 900 && elapsed < BOUND_MS, `cut after ${elapsed} ms`);
      assert.equal(await c.waitClosed(), true);
      await sending;
    } finally {
      c.destroy();
    }
    assert.equal(await healthz(port), 200);
  });

  it('a request with a body that arrives in time is not affected', async () => {
    const brand = await createBrand(t);
    const body = Buffer.from(JSON.stringify(ticketBody(brand.id)));
    const c = new RawConnection(port);
    try {
      c.write(
        `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      await sleep(300);
      c.write(body);
      const res = await c.response();
      assert.equal(res.status, 201, res.body);
    } finally {
      c.destroy();
    }
  });
});

describe('slow clients: idle connections', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    ({ t, port } = await listening({ NEXUS_HTTP_HEADERS_TIMEOUT_MS: '60000', NEXUS_HTTP_REQUEST_TIMEOUT_MS: '60000', NEXUS_HTTP_IDLE_TIMEOUT_MS: '1000' }));
  });
  after(async () => t.close());

  it('a body that stops arriving gets a 408 problem after the idle timeout', async () => {
    const brand = await createBrand(t);
    const before = await countRows(t, 'tickets');
    const body = JSON.stringify(ticketBody(brand.id));
    const c = new RawConnection(port);
    try {
      const started = Date.now();
      c.write(
        `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      const res = await c.response(BOUND_MS);
      const problem = assertProblem(res, 408, 'request_timeout');
      assert.match(problem.detail, /No data arrived for 1000 ms/);
      assert.ok(Date.now() - started < BOUND_MS);
      assert.equal(await c.waitClosed(), true);
    } finally {
      c.destroy();
    }
    assert.equal(await countRows(t, 'tickets'), before);
  });

  it('a kept-alive connection with nothing to do, and one that never sends a byte, are closed', async () => {
    const kept = new RawConnection(port);
    const silent = new RawConnection(port);
    try {
      kept.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal((await kept.response()).status, 200);
      assert.equal(await kept.waitClosed(BOUND_MS), true, 'idle keep-alive connection closed');
      assert.equal(await silent.waitClosed(BOUND_MS), true, 'silent connection closed');
    } finally {
      kept.destroy();
      silent.destroy();
    }
    assert.equal(await healthz(port), 200);
  });
});

describe('slow clients: streamed uploads', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    ({ t, port } = await listening({
      NEXUS_HTTP_HEADERS_TIMEOUT_MS: '5000',
      NEXUS_HTTP_REQUEST_TIMEOUT_MS: '500',
      NEXUS_HTTP_IDLE_TIMEOUT_MS: '2000',
      NEXUS_HTTP_UPLOAD_MIN_BYTES_PER_SECOND: '2000',
    }));
  });
  after(async () => t.close());

  async function uploadUrl(size: number): Promise<{ id: string; path: string }> {
    const res = await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'big.bin', content_type: 'application/octet-stream', size } });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json();
    return { id: created.id, path: new URL(created.upload_url).pathname };
  }

  it('a steady upload that takes longer than the request timeout completes', async () => {
    const file = randomBytes(96 * 1024);
    const { id, path } = await uploadUrl(file.length);
    const c = new RawConnection(port);
    try {
      const started = Date.now();
      c.write(`PUT ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${file.length}\r\n\r\n`);
      // 4 KiB every 100 ms: ~40 KB/s, far above the 2,000 B/s minimum; ~2.4 s in all.
      await trickle(c, file, 4096, 100);
      const res = await c.response(BOUND_MS);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json().status, 'ready');
      assert.ok(Date.now() - started > 500, 'it outlasted the 500 ms request timeout');
    } finally {
      c.destroy();
    }
    const got = await t.request({ method: 'GET', url: `/v1/attachments/${id}` });
    assert.equal(got.json().status, 'ready');
  });

  it('an upload trickling below the minimum rate gets a 408 problem and stays pending for a retry', async () => {
    const file = randomBytes(100_000);
    const { id, path } = await uploadUrl(file.length);
    const c = new RawConnection(port);
    try {
      const started = Date.now();
      c.write(`PUT ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${file.length}\r\n\r\n`);
      // 20 bytes every 100 ms: ~200 B/s, a tenth of the minimum.
      const sending = trickle(c, file, 20, 100);
      const answer = c.response(BOUND_MS);
      assert.ok((await servedMeanwhile(port, answer)) >= 1);
      const res = await answer;
      const problem = assertProblem(res, 408, 'request_timeout');
      assert.match(problem.detail, /slowed below 2000 bytes per second/);
      assert.ok(Date.now() - started < BOUND_MS);
      assert.equal(await c.waitClosed(), true);
      await sending;
    } finally {
      c.destroy();
    }
    // The attempt did not use the URL up.
    for (let i = 0; i < 100; i++) {
      const got = await t.request({ method: 'GET', url: `/v1/attachments/${id}` });
      if (got.json().status === 'pending') break;
      await sleep(50);
    }
    assert.equal((await t.request({ method: 'GET', url: `/v1/attachments/${id}` })).json().status, 'pending');
    assert.equal(await healthz(port), 200);
  });
});

describe('timeout settings', () => {
  it('come from the environment, with defaults, and a bad value names its variable', () => {
    const defaults = loadConfig({});
    assert.deepEqual(defaults.http, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, idleTimeoutMs: 72_000, uploadMinBytesPerSecond: 4096 });
    assert.equal(loadConfig({ NEXUS_HTTP_IDLE_TIMEOUT_MS: '5000' }).http.idleTimeoutMs, 5000);
    for (const name of [
      'NEXUS_HTTP_HEADERS_TIMEOUT_MS',
      'NEXUS_HTTP_REQUEST_TIMEOUT_MS',
      'NEXUS_HTTP_IDLE_TIMEOUT_MS',
      'NEXUS_HTTP_UPLOAD_MIN_BYTES_PER_SECOND',
    ]) {
      assert.throws(
        () => loadConfig({ [name]: '0' }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(name),
      );
      assert.throws(
        () => loadConfig({ [name]: 'soon' }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(name),
      );
    }
  });
});
