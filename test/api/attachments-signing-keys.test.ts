import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CURRENT_KEY, PREVIOUS_KEY } from '../../src/attachments/signing-keys.js';
import { main } from '../../src/cli/main.js';
import { AppError } from '../../src/http/problem.js';
import { ManualClock, toTimestamp } from '../../src/shared/clock.js';
import { buildTestApp, removeDataDir, testPostgresUrl, type TestApp } from '../helpers/app.js';
import { assertProblem } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const pathOf = (url: string): string => new URL(url).pathname;
const tokenOf = (url: string): string => pathOf(url).split('/').pop()!;
const kidOf = (url: string): string => tokenOf(url).split('.')[2]!;
const MINUTE = 60_000;

async function requestUpload(t: TestApp): Promise<Json> {
  const res = await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'a.bin', content_type: 'application/octet-stream' } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

const put = (t: TestApp, url: string, bytes: Buffer) =>
  t.app.inject({ method: 'PUT', url: pathOf(url), headers: { 'content-type': 'application/octet-stream' }, payload: bytes });

async function readyWithDownload(t: TestApp): Promise<{ id: string; bytes: Buffer; downloadUrl: string }> {
  const created = await requestUpload(t);
  const bytes = randomBytes(100);
  assert.equal((await put(t, created.upload_url, bytes)).statusCode, 200);
  const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
  return { id: created.id, bytes, downloadUrl: view.download_url };
}

const status = async (t: TestApp, id: string) =>
  (await t.runtime.db.selectFrom('attachments').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

/** Every byte the SQLite database keeps on disk (main file, WAL, shared memory). */
function databaseBytes(dataDir: string): Buffer {
  return Buffer.concat(
    fs
      .readdirSync(dataDir)
      .filter((f) => f.startsWith('nexus.sqlite'))
      .map((f) => fs.readFileSync(path.join(dataDir, f))),
  );
}

describe('URL-signing keys', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('keeps the keys sealed, names the key in every URL, and refuses an unknown key id or a tampered signature with 403', async () => {
    // Only the URL-signing keys: other features keep keys of their own in the same table.
    const rows = await t.runtime.db.selectFrom('server_keys').selectAll().where('name', 'like', 'attachment-url-signing%').execute();
    assert.deepEqual(
      rows.map((r) => r.name),
      [CURRENT_KEY],
    );
    assert.match(rows[0]!.secret, /^v1\./, 'sealed with the secret box');

    const created = await requestUpload(t);
    const [id, expires, kid, signature] = tokenOf(created.upload_url).split('.') as [string, string, string, string];
    assert.match(kid, /^[0-9a-z]{8}$/);
    const flip = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
    for (const bad of [`${id}.${expires}.zzzzzzzz.${signature}`, `${id}.${expires}.0.${signature}`, `${id}.${expires}.${kid}.${flip(signature)}`]) {
      const res = await t.app.inject({ method: 'PUT', url: `/v1/uploads/${bad}`, headers: { 'content-type': 'application/octet-stream' }, payload: 'x' });
      assertProblem(res, 403, 'upload_url_invalid');
    }
    assert.equal(await status(t, created.id), 'pending');

    const ready = await readyWithDownload(t);
    const [did, dexp, dkid, dsig] = tokenOf(ready.downloadUrl).split('.') as [string, string, string, string];
    assert.equal(dkid, kid);
    for (const bad of [`${did}.${dexp}.zzzzzzzz.${dsig}`, `${did}.${dexp}.${dkid}.${flip(dsig)}`]) {
      assertProblem(await t.app.inject({ method: 'GET', url: `/v1/downloads/${bad}` }), 403, 'download_url_invalid');
    }
  });

  it('rotates: URLs signed before keep working until they expire, new ones use the new key, and a key two rotations old is gone', async () => {
    const keys = t.runtime.services.attachments.signingKeys;
    // The key made at start is younger than a URL's lifetime: rotating now would break live URLs.
    await assert.rejects(
      keys.rotate(),
      (err: unknown) => err instanceof AppError && err.code === 'conflict' && /URLs signed with the previous key/.test(err.message),
    );
    const start = t.clock.now();
    try {
      t.clock.advance(10 * MINUTE);
      const before = await requestUpload(t);
      const beforeDownload = await readyWithDownload(t);
      const oldKid = kidOf(before.upload_url);
      t.clock.advance(6 * MINUTE);
      const lateBefore = await requestUpload(t); // valid until 10:31
      assert.equal(kidOf(lateBefore.upload_url), oldKid);

      t.clock.advance(1 * MINUTE);
      const rotation = await keys.rotate();
      assert.equal(rotation.previous?.kid, oldKid);
      assert.equal(rotation.retired, null);
      assert.notEqual(rotation.current.kid, oldKid);
      assert.deepEqual(
        (await keys.list()).map((k) => [k.kid, k.role]),
        [
          [rotation.current.kid, 'current'],
          [oldKid, 'previous'],
        ],
      );

      const after = await requestUpload(t);
      assert.equal(kidOf(after.upload_url), rotation.current.kid);
      const fresh = (await t.request({ method: 'GET', url: `/v1/attachments/${beforeDownload.id}` })).json().download_url;
      assert.equal(kidOf(fresh), rotation.current.kid);

      // Signed before the rotation, still within its 15 minutes: accepted.
      const got = await t.app.inject({ method: 'GET', url: pathOf(beforeDownload.downloadUrl) });
      assert.equal(got.statusCode, 200);
      assert.deepEqual(got.rawPayload, beforeDownload.bytes);
      const bytes = randomBytes(50);
      const uploaded = await put(t, before.upload_url, bytes);
      assert.equal(uploaded.statusCode, 200, uploaded.body);
      assert.equal(uploaded.json().sha256, sha256(bytes));
      // ...until its 15 minutes are over, like any URL.
      t.clock.advance(9 * MINUTE);
      assertProblem(await t.app.inject({ method: 'GET', url: pathOf(beforeDownload.downloadUrl) }), 410, 'download_url_expired');

      // A second rotation drops the key from two rotations ago: its URLs no longer verify, live or not.
      const second = await keys.rotate({ force: true });
      assert.equal(second.retired?.kid, oldKid);
      assert.equal(second.previous?.kid, rotation.current.kid);
      const refused = await put(t, lateBefore.upload_url, randomBytes(5));
      assertProblem(refused, 403, 'upload_url_invalid');
      assert.equal(await status(t, lateBefore.id), 'pending');
      const stillGood = await put(t, after.upload_url, randomBytes(5));
      assert.equal(stillGood.statusCode, 200, 'a URL of the key just replaced still works');
      assert.deepEqual(
        (await t.runtime.db.selectFrom('server_keys').select('name').where('name', 'like', 'attachment-url-signing%').orderBy('name').execute()).map(
          (r) => r.name,
        ),
        [CURRENT_KEY, PREVIOUS_KEY],
      );
    } finally {
      t.clock.set(start);
    }
  });
});

describe('a plain URL-signing key from an older version', () => {
  it('is sealed at start: URLs signed before keep working, and the plain key is gone from the database files', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-plain-key-'));
    const clock = new ManualClock('2026-01-15T10:00:00Z');
    const first = await buildTestApp({ dataDir, clock });
    let second: TestApp | undefined;
    try {
      const pending = await requestUpload(first);
      const ready = await readyWithDownload(first);
      // What the older version kept: one row, the key in plain hex; and the URLs it signed, without key id.
      const hex = randomBytes(32).toString('hex');
      await first.runtime.db.deleteFrom('server_keys').execute();
      await first.runtime.db
        .insertInto('server_keys')
        .values({ name: CURRENT_KEY, secret: hex, created_at: toTimestamp(clock.now()) })
        .execute();
      const legacy = (purpose: string, id: string) => {
        const expires = Math.floor((clock.now().getTime() + 15 * MINUTE) / 1000).toString(36);
        const mac = createHmac('sha256', Buffer.from(hex, 'hex')).update(`nexus-attachment-url\n${purpose}\n${id}\n${expires}`).digest('base64url');
        return `${id}.${expires}.${mac}`;
      };
      const uploadToken = legacy('upload', pending.id);
      const downloadToken = legacy('download', ready.id);
      await first.app.close();
      await first.runtime.close();
      if (!testPostgresUrl) assert.ok(databaseBytes(dataDir).includes(Buffer.from(hex)), 'the plain key is in the file before the upgrade');

      clock.advance(MINUTE);
      second = await buildTestApp({ dataDir, clock });
      const row = await second.runtime.db.selectFrom('server_keys').selectAll().where('name', '=', CURRENT_KEY).executeTakeFirstOrThrow();
      assert.match(row.secret, /^v1\./);
      if (!testPostgresUrl) {
        const bytes = databaseBytes(dataDir);
        assert.ok(!bytes.includes(Buffer.from(hex)), 'no plain key in nexus.sqlite, -wal or -shm');
        assert.ok(!bytes.includes(Buffer.from(hex, 'hex')), 'nor its raw bytes');
      }

      const bytes = randomBytes(80);
      const uploaded = await second.app.inject({
        method: 'PUT',
        url: `/v1/uploads/${uploadToken}`,
        headers: { 'content-type': 'application/octet-stream' },
        payload: bytes,
      });
      assert.equal(uploaded.statusCode, 200, uploaded.body);
      assert.equal(uploaded.json().sha256, sha256(bytes));
      const got = await second.app.inject({ method: 'GET', url: `/v1/downloads/${downloadToken}` });
      assert.equal(got.statusCode, 200);
      assert.deepEqual(got.rawPayload, ready.bytes);
      // The same key goes on signing, now under the key id of the older URLs.
      assert.equal(kidOf((await second.request({ method: 'GET', url: `/v1/attachments/${ready.id}` })).json().download_url), '0');
      // A tampered old-style URL is still refused.
      assertProblem(
        await second.app.inject({ method: 'GET', url: `/v1/downloads/${downloadToken.slice(0, -1)}${downloadToken.endsWith('A') ? 'B' : 'A'}` }),
        403,
        'download_url_invalid',
      );
    } finally {
      await second?.close();
      if (!second) await first.close().catch(() => {});
      await removeDataDir(dataDir);
    }
  });
});

describe('nexus keys', () => {
  it('lists the keys without their secrets, refuses a rotation that would break live URLs, and rotates when forced', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-keys-cli-'));
    const saved = { dataDir: process.env.NEXUS_DATA_DIR, databaseUrl: process.env.DATABASE_URL };
    process.env.NEXUS_DATA_DIR = dir;
    delete process.env.DATABASE_URL;
    try {
      const lines: string[] = [];
      const errors: string[] = [];
      const run = (...argv: string[]) =>
        main(
          argv,
          (l) => lines.push(l),
          (l) => errors.push(l),
        );
      assert.equal(await run('keys', 'list'), 0);
      assert.equal(lines.length, 1);
      const [kid, role] = lines[0]!.split('\t');
      assert.equal(role, 'current');
      assert.match(kid!, /^[0-9a-z]{8}$/);

      assert.equal(await run('keys', 'rotate'), 1);
      assert.match(errors.join('\n'), /Rotate after/);
      lines.length = 0;
      assert.equal(await run('keys', 'list'), 0);
      assert.equal(lines.length, 1, 'a refused rotation changes nothing');

      lines.length = 0;
      assert.equal(await run('keys', 'rotate', '--force'), 0);
      assert.match(lines.join('\n'), new RegExp(`previous key ${kid}`));
      lines.length = 0;
      assert.equal(await run('keys', 'list'), 0);
      assert.deepEqual(
        lines.map((l) => l.split('\t')[1]),
        ['current', 'previous'],
      );
      assert.equal(lines[1]!.split('\t')[0], kid);
      assert.ok(!lines.join('\n').match(/[0-9a-f]{64}/), 'no key material printed');
    } finally {
      if (saved.dataDir === undefined) delete process.env.NEXUS_DATA_DIR;
      else process.env.NEXUS_DATA_DIR = saved.dataDir;
      if (saved.databaseUrl !== undefined) process.env.DATABASE_URL = saved.databaseUrl;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
