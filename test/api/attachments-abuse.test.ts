import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as store from '../../src/attachments/store.js';
import { ManualClock, toTimestamp } from '../../src/shared/clock.js';
import { coreJobs } from '../../src/workers.js';
import { buildTestApp, testPostgresUrl, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/server-process.js';
import { eventually } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX = MiB;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const pathOf = (url: string): string => new URL(url).pathname;

/** Which of the `length-over` attacks send their headers alone and wait for the answer. */
const askFirst = (variant: number): boolean => (variant >> 2) % 2 === 0;

type Attack = 'chunked-cut' | 'length-cut' | 'chunked-over' | 'length-over';

interface Outcome {
  /** The status line's code, when the server answered before the connection went. */
  status: number | undefined;
  sent: number;
}

/**
 * One abusive PUT over a raw socket, byte for byte as a broken or careless client would send it:
 * - chunked-cut: chunked body stopped mid-stream (sometimes mid-chunk), then the socket destroyed;
 * - length-cut: a Content-Length larger than what is sent, then the socket destroyed;
 * - chunked-over: a chunked body past the size limit, sent until the server answers;
 * - length-over: a Content-Length past the limit, with part of the body.
 */
function attack(port: number, urlPath: string, kind: Attack, variant: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let response = '';
    let sent = 0;
    let answered = false;
    socket.on('data', (d: Buffer) => {
      // Answered: stop sending and let the connection wind down from both ends.
      if (!answered) socket.end();
      answered = true;
      response += d.toString('latin1');
    });
    // A reset after the server refused the body is expected; the outcome says what arrived.
    socket.on('error', () => {});
    socket.on('close', () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(response);
      resolve({ status: match ? Number(match[1]) : undefined, sent });
    });
    const chunked = kind.startsWith('chunked');
    const announced = kind === 'length-over' ? MAX + 512 * KiB : 900 * KiB;
    const target = {
      'chunked-cut': 100 * KiB + ((variant * 37 * KiB) % (800 * KiB)),
      'length-cut': (variant * 53 * KiB) % announced, // 0 included: headers, then nothing
      'chunked-over': MAX + 512 * KiB,
      // Every other one waits for the answer before sending any body, as a client sending
      // `Expect: 100-continue` would; the others send a body, and the answer may then be lost to
      // the reset a server causes by closing on unread bytes.
      'length-over': askFirst(variant) ? 0 : 256 * KiB,
    }[kind];
    const piece = randomBytes(48 * KiB + variant);
    socket.once('connect', () => {
      socket.write(
        `PUT ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n` +
          (chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${announced}\r\n`) +
          '\r\n',
      );
      const pump = (): void => {
        while (sent < target && !answered && !socket.destroyed) {
          const n = Math.min(piece.length, target - sent);
          sent += n;
          const body = piece.subarray(0, n);
          const framed = chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : body;
          if (!socket.write(framed)) {
            socket.once('drain', pump);
            return;
          }
        }
        if (kind === 'chunked-cut' && variant % 3 === 0) socket.write('1f4'); // half a chunk-size line
        if (kind.endsWith('-cut')) {
          // Everything written has reached the kernel: now vanish without finishing the body.
          socket.end(() => socket.destroy());
        }
        // The over-limit kinds wait for the server's answer and its close.
      };
      pump();
    });
  });
}

/** A complete, correct upload over a real connection. */
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

function download(port: number, urlPath: string): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(parts) }));
      })
      .on('error', reject);
  });
}

/** Every file under the blob store (partial ones included), relative to it. */
function blobFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'attachments');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(root, f)).isFile()).sort();
}

const partFiles = (dataDir: string): string[] => blobFiles(dataDir).filter((f) => f.endsWith('.part'));

function startServer(env: Record<string, string>): { child: ChildProcess; output: () => string; serving: Promise<void> } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, NEXUS_LOG_LEVEL: 'info', NEXUS_WORKERS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serving = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('NexusCore is serving')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before serving:\n${output}`)));
  });
  serving.catch(() => {});
  return { child, output: () => output, serving };
}

/**
 * The server under attack runs in a process of its own, so that a crash is a dead process the test
 * sees, not an exception inside the test runner. It shares the test app's database (and data dir,
 * hence its secret key), through which the test creates attachments and inspects rows.
 */
describe('upload abuse against a running server', () => {
  let t: TestApp;
  let port: number;
  let server: ReturnType<typeof startServer>;
  before(async () => {
    // The server keeps real time, so the URLs the test app signs must too.
    t = await buildTestApp({ env: { NEXUS_ATTACHMENT_MAX_BYTES: String(MAX) }, clock: new ManualClock(new Date()) });
    port = await freePort();
    server = startServer({
      PORT: String(port),
      NEXUS_DATA_DIR: t.dataDir,
      DATABASE_URL: t.config.databaseUrl ?? '',
      NEXUS_ATTACHMENT_MAX_BYTES: String(MAX),
    });
    await server.serving;
  });
  after(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      const exited = once(server.child, 'exit');
      server.child.kill('SIGKILL');
      await exited;
    }
    await t?.close();
  });

  it('survives 50 interrupted and over-limit uploads, keeps no partial file, and the same URLs then take the real file', async (ctx) => {
    const attachments: Json[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: `f${i}.bin`, content_type: 'application/octet-stream' } });
      assert.equal(res.statusCode, 201, res.body);
      attachments.push(res.json());
    }
    const row = (id: string) => store.findAttachment(t.runtime.db, id);
    const kinds: Attack[] = ['chunked-cut', 'length-cut', 'chunked-over', 'length-over'];
    const seen: Record<Attack, (number | undefined)[]> = { 'chunked-cut': [], 'length-cut': [], 'chunked-over': [], 'length-over': [] };
    for (let i = 0; i < 50; i++) {
      assert.equal(server.child.exitCode, null, `the server died after ${i} uploads:\n${server.output().slice(-2000)}`);
      const target = attachments[i % attachments.length];
      // The previous attempt on this URL may still be unwinding on the server after the client vanished.
      await eventually(`${target.id} is pending again`, async () => (await row(target.id))?.status === 'pending');
      const kind = kinds[i % kinds.length]!;
      const outcome = await attack(port, pathOf(target.upload_url), kind, i);
      seen[kind].push(outcome.status);
    }

    ctx.diagnostic(`answers seen: ${JSON.stringify(seen)}`);
    // The process is alive and serving, over the network.
    assert.equal(server.child.exitCode, null, `the server died:\n${server.output().slice(-2000)}`);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    for (const a of attachments) await eventually(`${a.id} is pending again`, async () => (await row(a.id))?.status === 'pending');

    // Over-limit uploads were answered 413 whenever the answer could arrive before the connection
    // went, or 409 when an earlier attempt on the same URL, abandoned by its client before the
    // server read it, claimed the URL after the test saw it pending again (seen on a busy machine).
    for (const kind of ['chunked-over', 'length-over'] as const) {
      for (const status of seen[kind]) assert.ok(status === undefined || status === 413 || status === 409, `${kind}: ${status}`);
      assert.ok(
        seen[kind].some((s) => s === 413),
        `${kind}: no 413 at all (${seen[kind].join(',')})`,
      );
    }
    const askedFirst = seen['length-over'].filter((_, k) => askFirst(k * kinds.length + 3));
    assert.ok(
      askedFirst.length > 0 && askedFirst.every((s) => s === 413),
      `a too-large Content-Length is refused before the body: ${seen['length-over'].join(',')}`,
    );
    // Broken uploads never got a success.
    for (const kind of ['chunked-cut', 'length-cut'] as const)
      assert.ok(
        seen[kind].every((s) => s !== 200),
        `${kind}: ${seen[kind].join(',')}`,
      );

    // Nothing partial anywhere: no file on disk, no attachment marked uploaded.
    assert.deepEqual(blobFiles(t.dataDir), []);
    for (const a of attachments) {
      const r = (await row(a.id))!;
      assert.equal(r.status, 'pending');
      assert.equal(r.size, null);
      assert.equal(r.sha256, null);
      assert.equal(r.storage_key, null);
    }

    // Each URL, abused ten times, still takes the real file, and serves exactly those bytes.
    for (const a of attachments) {
      const bytes = randomBytes(700 * KiB);
      const res = await honestPut(port, pathOf(a.upload_url), bytes);
      assert.equal(res.status, 200, res.body);
      assert.equal(JSON.parse(res.body).sha256, sha256(bytes));
      const view = (await t.request({ method: 'GET', url: `/v1/attachments/${a.id}` })).json();
      assert.equal(view.status, 'ready');
      assert.equal(view.size, bytes.length);
      const got = await download(port, pathOf(view.download_url));
      assert.equal(got.status, 200);
      assert.equal(sha256(got.bytes), sha256(bytes));
    }
    assert.deepEqual(partFiles(t.dataDir), []);
    assert.equal(blobFiles(t.dataDir).length, attachments.length);
  });
});

describe('an upload held by another attempt', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('answers a PUT while another upload holds the URL with 409 and Retry-After, and takes over once that upload stops renewing', async () => {
    const created = (
      await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'held.bin', content_type: 'application/octet-stream' } })
    ).json();
    // What a process killed mid-upload leaves: the row held under a lease nobody will renew.
    const now = t.clock.now();
    const lease = new Date(now.getTime() + 30_000);
    assert.ok(
      await store.claimUpload(t.runtime.db, created.id, {
        storage_key: 'blob_00000000000000000000000000',
        now: toTimestamp(now),
        lease_expires_at: toTimestamp(lease),
      }),
    );
    const bytes = randomBytes(10 * KiB);
    const held = await t.app.inject({
      method: 'PUT',
      url: pathOf(created.upload_url),
      headers: { 'content-type': 'application/octet-stream' },
      payload: bytes,
    });
    assert.equal(held.statusCode, 409, held.body);
    assert.match(String(held.headers['content-type']), /^application\/problem\+json/);
    assert.equal(held.headers['retry-after'], '30');
    assert.equal((await store.findAttachment(t.runtime.db, created.id))!.status, 'uploading');

    t.clock.advance(30_000);
    try {
      const retried = await t.app.inject({
        method: 'PUT',
        url: pathOf(created.upload_url),
        headers: { 'content-type': 'application/octet-stream' },
        payload: bytes,
      });
      assert.equal(retried.statusCode, 200, retried.body);
      assert.equal(retried.json().sha256, sha256(bytes));
      const stored = (await store.findAttachment(t.runtime.db, created.id))!;
      assert.equal(stored.status, 'ready');
      assert.notEqual(stored.storage_key, 'blob_00000000000000000000000000', 'the new attempt wrote a blob of its own');
    } finally {
      t.clock.advance(-30_000);
    }
  });
});

describe('an upload cut off by a killed server', { skip: testPostgresUrl ? 'spawns a server on the SQLite file' : false }, () => {
  it('leaves a URL that works again once the lease lapses, and a .part file that goes once abandoned', async (ctx) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-kill-upload-'));
    const admin = randomBytes(24).toString('hex');
    const port = await freePort();
    const server = startServer({ PORT: String(port), NEXUS_DATA_DIR: dataDir, NEXUS_ADMIN_TOKEN: admin, NEXUS_ATTACHMENT_MAX_BYTES: String(MAX) });
    let socket: net.Socket | undefined;
    ctx.after(() => {
      socket?.destroy();
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    await server.serving;
    const res = await fetch(`http://127.0.0.1:${port}/v1/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ file_name: 'cut.bin', content_type: 'application/octet-stream' }),
    });
    assert.equal(res.status, 201);
    const created = (await res.json()) as Json;

    // Half a body, then the server dies while waiting for the rest.
    socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(`PUT ${pathOf(created.upload_url)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${800 * KiB}\r\n\r\n`);
    socket.write(randomBytes(300 * KiB));
    await eventually('the server writes a .part file', () => partFiles(dataDir).length === 1);
    const killed = once(server.child, 'exit');
    server.child.kill('SIGKILL');
    await killed;
    socket.destroy();
    const [part] = partFiles(dataDir);

    // Restarted (in process, with a clock the test moves), on the same data dir.
    const clock = new ManualClock(new Date());
    const t = await buildTestApp({ dataDir, clock });
    try {
      const left = (await store.findAttachment(t.runtime.db, created.id))!;
      assert.equal(left.status, 'uploading', 'the killed process could not let go');
      const leaseEnd = Date.parse(left.upload_lease_expires_at!);
      const bytes = randomBytes(200 * KiB);
      const put = () =>
        t.app.inject({ method: 'PUT', url: pathOf(created.upload_url), headers: { 'content-type': 'application/octet-stream' }, payload: bytes });

      clock.set(new Date(leaseEnd - 1000));
      const early = await put();
      assert.equal(early.statusCode, 409, early.body);
      assert.ok(Number(early.headers['retry-after']) >= 1);

      clock.set(new Date(leaseEnd + 1000));
      const retried = await put();
      assert.equal(retried.statusCode, 200, retried.body);
      assert.equal(retried.json().sha256, sha256(bytes));

      // The dead upload's partial file is young: kept (it could belong to a live process sharing the folder)...
      const sweeper = coreJobs(t.runtime).find((j) => j.name === 'attachment-sweeper')!;
      await sweeper.run();
      assert.deepEqual(partFiles(dataDir), [part]);
      // ...until nothing has touched it for the upload URL's lifetime.
      const stale = new Date(Date.now() - 16 * 60_000);
      fs.utimesSync(path.join(dataDir, 'attachments', part!), stale, stale);
      await sweeper.run();
      assert.deepEqual(partFiles(dataDir), []);
    } finally {
      await t.close();
    }
  });
});
