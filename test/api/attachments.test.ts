import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { contentDisposition, parseRange } from '../../src/attachments/download-headers.js';
import { coreJobs } from '../../src/workers.js';
import { build, buildTestApp, removeDataDir, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const pathOf = (url: string): string => new URL(url).pathname;

async function requestUpload(t: TestApp, body: Record<string, unknown>, token?: string): Promise<Json> {
  const res = await t.request({ method: 'POST', url: '/v1/attachments', body, ...(token ? { token } : {}) });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

/** PUTs like a browser would: no Authorization header, only the URL. */
function put(t: TestApp, uploadUrl: string, payload: Buffer | Readable, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'PUT', url: pathOf(uploadUrl), headers, payload });
}

async function uploaded(t: TestApp, bytes: Buffer, fields: Record<string, unknown> = {}, token?: string): Promise<Json> {
  const created = await requestUpload(t, { file_name: 'report.bin', content_type: 'application/octet-stream', ...fields }, token);
  const res = await put(t, created.upload_url, bytes, { 'content-type': String(fields.content_type ?? 'application/octet-stream') });
  assert.equal(res.statusCode, 200, res.body);
  return created;
}

/** Every file under the blob store, temporary ones included. */
function blobFiles(t: TestApp): string[] {
  const root = path.join(t.dataDir, 'attachments');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(root, f)).isFile()).sort();
}

async function attachmentRow(t: TestApp, id: string) {
  return t.runtime.db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();
}

async function attachmentCount(t: TestApp): Promise<number> {
  const row = await t.runtime.db
    .selectFrom('attachments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** What a reply attempt may have left behind: it must be nothing when the reply is refused. */
async function snapshot(t: TestApp) {
  return {
    messages: await countRows(t, 'messages'),
    events: await countRows(t, 'events'),
    audit: await countRows(t, 'audit_entries'),
    linked: Number(
      (
        await t.runtime.db
          .selectFrom('attachments')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('message_id', 'is not', null)
          .executeTakeFirstOrThrow()
      ).n,
    ),
  };
}

function reply(t: TestApp, ticketId: string, attachments: string[], token?: string) {
  return t.request({
    method: 'POST',
    url: `/v1/tickets/${ticketId}/messages`,
    body: { author_type: 'agent', body: 'See attached.', attachments },
    ...(token ? { token } : {}),
  });
}

describe('attachments', () => {
  let t: TestApp;
  let brand: { id: string };
  let otherBrand: { id: string };
  before(async () => {
    t = await buildTestApp();
    brand = await createBrand(t);
    otherBrand = await createBrand(t);
  });
  after(() => t.close());

  describe('round trip', () => {
    it('uploads random bytes, links them to a reply and serves the exact bytes back', async () => {
      const bytes = randomBytes(300_000);
      const created = await requestUpload(t, { file_name: 'logs.tar.gz', content_type: 'application/gzip', size: bytes.length });
      assert.match(created.id, /^att_[0-9a-z]{26}$/);
      assert.equal(created.status, 'pending');
      assert.equal(created.file_name, 'logs.tar.gz');
      assert.equal(created.content_type, 'application/gzip');
      assert.ok(created.upload_url.startsWith(`${t.config.publicUrl}/v1/uploads/`), created.upload_url);
      assert.equal(created.upload_expires_at, '2026-01-15T10:15:00Z');

      const up = await put(t, created.upload_url, bytes, { 'content-type': 'application/gzip' });
      assert.equal(up.statusCode, 200, up.body);
      assert.deepEqual(up.json(), {
        id: created.id,
        file_name: 'logs.tar.gz',
        content_type: 'application/gzip',
        status: 'ready',
        size: bytes.length,
        sha256: sha256(bytes),
      });

      const ticket = await createTicket(t, brand.id);
      const res = await reply(t, ticket.id, [created.id]);
      assert.equal(res.statusCode, 201, res.body);
      const onMessage = res.json().attachments;
      assert.equal(onMessage.length, 1);
      assert.deepEqual(Object.keys(onMessage[0]).sort(), ['content_type', 'download_url', 'file_name', 'id', 'sha256', 'size']);

      const full = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
      const listed = full.messages[1].attachments[0];
      assert.deepEqual(
        { ...listed, download_url: undefined },
        { id: created.id, file_name: 'logs.tar.gz', content_type: 'application/gzip', size: bytes.length, sha256: sha256(bytes), download_url: undefined },
      );
      assert.ok(listed.download_url.startsWith(`${t.config.publicUrl}/v1/downloads/`));
      assert.deepEqual(full.messages[0].attachments, []);

      const single = await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` });
      assert.equal(single.statusCode, 200, single.body);
      assert.equal(single.json().status, 'ready');
      assert.equal(single.json().ticket_id, ticket.id);
      assert.equal(single.json().message_id, res.json().id);
      assert.equal(single.json().brand_id, brand.id);
      assert.equal(single.json().sha256, sha256(bytes));

      const paged = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages` })).json();
      assert.equal(paged.data[1].attachments[0].id, created.id);

      // The download needs no bearer token.
      const dl = await t.app.inject({ method: 'GET', url: pathOf(listed.download_url) });
      assert.equal(dl.statusCode, 200);
      assert.equal(sha256(dl.rawPayload), sha256(bytes));
      assert.equal(dl.headers['content-type'], 'application/gzip');
      assert.equal(dl.headers['content-length'], String(bytes.length));
      assert.equal(dl.headers['content-disposition'], 'attachment; filename="logs.tar.gz"');
      assert.equal(dl.headers['x-content-type-options'], 'nosniff');
      assert.equal(dl.headers['accept-ranges'], 'bytes');
      assert.equal(dl.headers.etag, `"${sha256(bytes)}"`);
    });

    it('serves byte ranges, honours If-Range and answers HEAD without a body', async () => {
      const bytes = randomBytes(1000);
      const created = await uploaded(t, bytes);
      const url = pathOf((await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json().download_url);

      const middle = await t.app.inject({ method: 'GET', url, headers: { range: 'bytes=10-19' } });
      assert.equal(middle.statusCode, 206);
      assert.equal(middle.headers['content-range'], 'bytes 10-19/1000');
      assert.equal(middle.headers['content-length'], '10');
      assert.deepEqual(middle.rawPayload, bytes.subarray(10, 20));

      const tail = await t.app.inject({ method: 'GET', url, headers: { range: 'bytes=-5' } });
      assert.equal(tail.statusCode, 206);
      assert.deepEqual(tail.rawPayload, bytes.subarray(995));

      const open = await t.app.inject({ method: 'GET', url, headers: { range: 'bytes=990-' } });
      assert.equal(open.headers['content-range'], 'bytes 990-999/1000');
      assert.deepEqual(open.rawPayload, bytes.subarray(990));

      const beyond = await t.app.inject({ method: 'GET', url, headers: { range: 'bytes=5000-' } });
      assert.equal(beyond.statusCode, 416);
      assert.equal(beyond.headers['content-range'], 'bytes */1000');

      const stale = await t.app.inject({ method: 'GET', url, headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
      assert.equal(stale.statusCode, 200);
      assert.equal(stale.rawPayload.length, 1000);

      const head = await t.app.inject({ method: 'HEAD', url });
      assert.equal(head.statusCode, 200);
      assert.equal(head.headers['content-length'], '1000');
      assert.equal(head.rawPayload.length, 0);
    });

    it('keeps a zero-byte file', async () => {
      const created = await uploaded(t, Buffer.alloc(0), { size: 0 });
      const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
      assert.equal(view.size, 0);
      assert.equal(view.sha256, sha256(Buffer.alloc(0)));
      const dl = await t.app.inject({ method: 'GET', url: pathOf(view.download_url) });
      assert.equal(dl.statusCode, 200);
      assert.equal(dl.rawPayload.length, 0);
    });

    it('needs tickets:write to request an upload URL, and no token at all to upload', async () => {
      const before = await attachmentCount(t);
      assertProblem(
        await t.request({ method: 'POST', url: '/v1/attachments', token: null, body: { file_name: 'a', content_type: 'text/plain' } }),
        401,
        'unauthorized',
      );
      const reader = await t.token(['tickets:read']);
      assertProblem(
        await t.request({ method: 'POST', url: '/v1/attachments', token: reader, body: { file_name: 'a', content_type: 'text/plain' } }),
        403,
        'forbidden',
      );
      assertProblem(await t.request({ method: 'GET', url: '/v1/attachments/att_00000000000000000000000000', token: null }), 401, 'unauthorized');
      assert.equal(await attachmentCount(t), before);
    });
  });

  describe('upload checks', () => {
    it('refuses the wrong Content-Type with 415 and keeps nothing; the URL still works after', async () => {
      const files = blobFiles(t);
      const created = await requestUpload(t, { file_name: 'a.png', content_type: 'image/png' });
      const wrong = await put(t, created.upload_url, randomBytes(100), { 'content-type': 'text/html' });
      assertProblem(wrong, 415, 'unsupported_media_type');
      assert.match(wrong.json().detail, /image\/png/);
      const missing = await put(t, created.upload_url, randomBytes(100));
      assertProblem(missing, 415, 'unsupported_media_type');
      const malformed = await put(t, created.upload_url, randomBytes(100), { 'content-type': 'image png' });
      assert.match(assertProblem(malformed, 415, 'unsupported_media_type').detail, /declared/);
      assert.equal((await attachmentRow(t, created.id))!.status, 'pending');
      assert.deepEqual(blobFiles(t), files);

      const right = await put(t, created.upload_url, randomBytes(100), { 'content-type': 'Image/PNG' });
      assert.equal(right.statusCode, 200, right.body);
    });

    it('holds an upload to its declared size', async () => {
      const files = blobFiles(t);
      const created = await requestUpload(t, { file_name: 'a.bin', content_type: 'application/octet-stream', size: 10 });
      const res = await put(t, created.upload_url, randomBytes(11), { 'content-type': 'application/octet-stream' });
      assertProblem(res, 400, 'bad_request');
      assert.equal((await attachmentRow(t, created.id))!.status, 'pending');
      assert.deepEqual(blobFiles(t), files);
    });

    it('refuses a reused URL with 410 and keeps the first bytes', async () => {
      const first = randomBytes(64);
      const created = await uploaded(t, first);
      const again = await put(t, created.upload_url, randomBytes(64), { 'content-type': 'application/octet-stream' });
      assertProblem(again, 410, 'upload_url_expired');
      assert.match(again.json().detail, /already been used/);
      assert.equal((await attachmentRow(t, created.id))!.sha256, sha256(first));
    });

    it('refuses an expired URL with 410 and keeps nothing', async () => {
      const files = blobFiles(t);
      const created = await requestUpload(t, { file_name: 'late.txt', content_type: 'text/plain' });
      t.clock.advance(15 * 60_000);
      try {
        const res = await put(t, created.upload_url, Buffer.from('too late'), { 'content-type': 'text/plain' });
        assertProblem(res, 410, 'upload_url_expired');
        assert.match(res.json().detail, /expired/);
      } finally {
        t.clock.advance(-15 * 60_000);
      }
      assert.equal((await attachmentRow(t, created.id))!.status, 'pending');
      assert.deepEqual(blobFiles(t), files);
    });

    it('refuses tampered URLs with 403 and keeps nothing', async () => {
      const files = blobFiles(t);
      const a = await requestUpload(t, { file_name: 'a.txt', content_type: 'text/plain' });
      const b = await requestUpload(t, { file_name: 'b.txt', content_type: 'text/plain' });
      const token = pathOf(a.upload_url).split('/').pop()!;
      const [id, expires, kid, signature] = token.split('.') as [string, string, string, string];
      const flip = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
      const tampered = [
        `${id}.${expires}.${kid}.${flip(signature)}`, // signature changed
        `${b.id}.${expires}.${kid}.${signature}`, // another attachment
        `${id}.${(parseInt(expires, 36) + 3600).toString(36)}.${kid}.${signature}`, // longer life
        `${id}.${expires}.${kid}`, // signature dropped
        `${id}.${expires}.${signature}`, // key id dropped (the form URLs had before key ids)
        'not-a-token',
        '..%2F..%2Fetc%2Fpasswd',
      ];
      for (const bad of tampered) {
        const res = await t.app.inject({ method: 'PUT', url: `/v1/uploads/${bad}`, headers: { 'content-type': 'text/plain' }, payload: 'x' });
        assertProblem(res, 403, 'upload_url_invalid');
      }
      // A download token is no upload token, even for the same attachment.
      const ready = await uploaded(t, Buffer.from('abc'));
      const download = (await t.request({ method: 'GET', url: `/v1/attachments/${ready.id}` })).json().download_url;
      const asUpload = await t.app.inject({
        method: 'PUT',
        url: pathOf(download).replace('/downloads/', '/uploads/'),
        headers: { 'content-type': 'application/octet-stream' },
        payload: 'x',
      });
      assertProblem(asUpload, 403, 'upload_url_invalid');

      assert.equal((await attachmentRow(t, a.id))!.status, 'pending');
      assert.equal((await attachmentRow(t, b.id))!.status, 'pending');
      assert.equal(blobFiles(t).length, files.length + 1);
    });

    it('refuses tampered and expired download URLs', async () => {
      const created = await uploaded(t, Buffer.from('secret bytes'));
      const url = pathOf((await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json().download_url);
      assertProblem(await t.app.inject({ method: 'GET', url: url.slice(0, -1) + (url.endsWith('A') ? 'B' : 'A') }), 403, 'download_url_invalid');
      assertProblem(await t.app.inject({ method: 'GET', url: url.replace('/downloads/', '/uploads/') }), 405, 'method_not_allowed');
      t.clock.advance(15 * 60_000);
      try {
        assertProblem(await t.app.inject({ method: 'GET', url }), 410, 'download_url_expired');
      } finally {
        t.clock.advance(-15 * 60_000);
      }
    });

    it('answers a CORS preflight for the upload URL', async () => {
      const created = await requestUpload(t, { file_name: 'a.txt', content_type: 'text/plain' });
      const res = await t.app.inject({
        method: 'OPTIONS',
        url: pathOf(created.upload_url),
        headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' },
      });
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers['access-control-allow-methods'], 'PUT');
    });

    it('validates the request for an upload URL and stores nothing when it fails', async () => {
      const before = await attachmentCount(t);
      const cases: [Record<string, unknown>, string][] = [
        [{ file_name: '', content_type: 'text/plain' }, '/file_name'],
        [{ file_name: '   ', content_type: 'text/plain' }, '/file_name'],
        [{ file_name: 'a\r\nSet-Cookie: x=1', content_type: 'text/plain' }, '/file_name'],
        [{ file_name: 'tab\there', content_type: 'text/plain' }, '/file_name'],
        [{ file_name: 'half \ud83d.txt', content_type: 'text/plain' }, '/file_name'],
        [{ file_name: 'a.txt', content_type: 'text/plain\r\nX-Injected: 1' }, '/content_type'],
        [{ file_name: 'a.txt', content_type: 'not a type' }, '/content_type'],
        [{ file_name: 'a.txt', content_type: 'text/plain', size: -1 }, '/size'],
        [{ file_name: 'a.txt', content_type: 'text/plain', size: 26 * 1024 * 1024 }, '/size'],
        [{ file_name: 'a.txt', content_type: 'text/plain', brand_id: 'brand_nope' }, '/brand_id'],
        [{ file_name: 'a.txt', content_type: 'text/plain', path: '/etc' }, '/path'],
      ];
      for (const [body, pointer] of cases) {
        const problem = assertProblem(await t.request({ method: 'POST', url: '/v1/attachments', body }), 422, 'validation_failed');
        assert.ok(
          problem.errors.some((e: { pointer: string }) => e.pointer === pointer),
          `${JSON.stringify(body)}: ${JSON.stringify(problem.errors)}`,
        );
      }
      assert.equal(await attachmentCount(t), before);
    });
  });

  describe('file names', () => {
    const names: [string, string][] = [
      ['say "hi".txt', 'attachment; filename="say _hi_.txt"; filename*=UTF-8\'\'say%20%22hi%22.txt'],
      ['../../etc/passwd', 'attachment; filename="passwd"'],
      ['..\\..\\boot.ini', 'attachment; filename="boot.ini"'],
      ['résumé 日本.pdf', 'attachment; filename="r_sum_ __.pdf"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.pdf'],
      ['..', 'attachment; filename="attachment"'],
    ];
    for (const [name, header] of names) {
      it(`keeps ${JSON.stringify(name)} as given and serves it as a safe download name`, async () => {
        const bytes = randomBytes(32);
        const created = await uploaded(t, bytes, { file_name: name, content_type: 'text/html' });
        assert.equal(created.file_name, name);
        const view = (await t.request({ method: 'GET', url: `/v1/attachments/${created.id}` })).json();
        assert.equal(view.file_name, name);
        const dl = await t.app.inject({ method: 'GET', url: pathOf(view.download_url) });
        assert.equal(dl.statusCode, 200);
        assert.equal(dl.headers['content-disposition'], header);
        assert.equal(dl.headers['content-type'], 'text/html');
        assert.equal(dl.headers['x-content-type-options'], 'nosniff');
        assert.match(String(dl.headers['content-security-policy']), /sandbox/);
        assert.deepEqual(dl.rawPayload, bytes);
        // On disk the file is named by the server, never by the client.
        for (const file of blobFiles(t)) assert.match(path.basename(file), /^blob_[0-9a-z]{26}$/);
      });
    }

    it('never lets a stored name break the header line', () => {
      const long = `${'a'.repeat(199)}😀.txt`;
      for (const name of [
        'a\r\nSet-Cookie: x=1.txt',
        'a\nb',
        'x\u2028y',
        'invoice\u202Efdp.exe',
        'back\\slash"quote',
        '%22encoded%22',
        'lone\ud800half',
        long,
      ]) {
        const header = contentDisposition(name);
        assert.match(header, /^attachment; filename="[\x20-\x7e]*"(; filename\*=UTF-8''[A-Za-z0-9%._~!-]+)?$/, header);
        assert.ok(!/[\r\n]/.test(header));
      }
    });

    it('parses ranges as RFC 9110 says', () => {
      assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
      assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
      assert.deepEqual(parseRange('bytes=-100', 10), { start: 0, end: 9 });
      assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
      assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
      assert.equal(parseRange('bytes=0-1,3-4', 10), undefined);
      assert.equal(parseRange('bytes=5-2', 10), undefined);
      assert.equal(parseRange('items=0-1', 10), undefined);
      assert.equal(parseRange(undefined, 10), undefined);
    });
  });

  describe('linking to a reply', () => {
    it('refuses a pending attachment with a 422 naming it, and stores nothing', async () => {
      const ticket = await createTicket(t, brand.id);
      const pending = await requestUpload(t, { file_name: 'a.txt', content_type: 'text/plain' });
      const before = await snapshot(t);
      const problem = assertProblem(await reply(t, ticket.id, [pending.id]), 422, 'validation_failed');
      assert.deepEqual(problem.errors, [{ pointer: '/attachments/0', message: `attachment ${pending.id} is not uploaded yet (status pending)` }]);
      assert.deepEqual(await snapshot(t), before);
      assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().messages.length, 1);
    });

    it('refuses before the reply writes anything, so the writes sharing its transaction do not run again', async () => {
      const ticket = await createTicket(t, brand.id);
      const pending = await requestUpload(t, { file_name: 'b.txt', content_type: 'text/plain' });
      const ok = await uploaded(t, randomBytes(16), { brand_id: brand.id });
      const reruns = t.runtime.services.writes.stats().rerunWithSavepoints;
      // Sent together, the three share one group-commit batch; the refused one sits in the middle.
      const [first, refused, last] = await Promise.all([
        t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: 'first' } }),
        reply(t, ticket.id, [pending.id]),
        reply(t, ticket.id, [ok.id]),
      ]);
      assertProblem(refused, 422, 'validation_failed');
      assert.equal(first.statusCode, 201, first.body);
      assert.equal(last.statusCode, 201, last.body);
      assert.equal(t.runtime.services.writes.stats().rerunWithSavepoints, reruns, 'no batch was rolled back and run again');
      const messages = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().messages;
      // Both accepted replies are stored, the refused one is not; concurrent requests reach the
      // write queue in no set order (the reply with an attachment checks it first), so neither is
      // the order of the two.
      assert.equal(messages.length, 3);
      assert.deepEqual(
        messages
          .slice(1)
          .map((m: { body: string }) => m.body)
          .sort(),
        ['See attached.', 'first'],
      );
      assert.equal((await attachmentRow(t, ok.id))!.ticket_id, ticket.id);
    });

    it("treats another brand's attachment exactly like a missing one", async () => {
      const ticket = await createTicket(t, brand.id);
      const foreign = await uploaded(t, randomBytes(16), { brand_id: otherBrand.id });
      const missing = 'att_00000000000000000000000000';
      const before = await snapshot(t);
      const problem = assertProblem(await reply(t, ticket.id, [foreign.id, missing]), 422, 'validation_failed');
      assert.deepEqual(problem.errors, [
        { pointer: '/attachments/0', message: `attachment ${foreign.id} does not exist` },
        { pointer: '/attachments/1', message: `attachment ${missing} does not exist` },
      ]);
      assert.deepEqual(await snapshot(t), before);
      assert.equal((await attachmentRow(t, foreign.id))!.message_id, null);

      const brandToken = await t.token(['tickets:write'], [brand.id]);
      assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${foreign.id}`, token: brandToken }), 404, 'not_found');
      assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${missing}`, token: brandToken }), 404, 'not_found');
    });

    it('refuses an attachment already linked to another ticket, rolling back the whole reply', async () => {
      const first = await createTicket(t, brand.id);
      const second = await createTicket(t, brand.id);
      const shared = await uploaded(t, randomBytes(16), { brand_id: brand.id });
      const fresh = await uploaded(t, randomBytes(16), { brand_id: brand.id });
      assert.equal((await reply(t, first.id, [shared.id])).statusCode, 201);

      const before = await snapshot(t);
      // The fresh attachment is linked first, then the reply fails on the second: nothing may stay.
      const problem = assertProblem(await reply(t, second.id, [fresh.id, shared.id]), 422, 'validation_failed');
      assert.deepEqual(problem.errors, [{ pointer: '/attachments/1', message: `attachment ${shared.id} is already linked to another ticket` }]);
      assert.deepEqual(await snapshot(t), before);
      assert.equal((await attachmentRow(t, fresh.id))!.message_id, null);
      assert.equal((await attachmentRow(t, shared.id))!.ticket_id, first.id);

      const again = assertProblem(await reply(t, first.id, [shared.id]), 422, 'validation_failed');
      assert.equal(again.errors[0].message, `attachment ${shared.id} is already linked to another message of this ticket`);
      const twice = assertProblem(await reply(t, second.id, [fresh.id, fresh.id]), 422, 'validation_failed');
      assert.deepEqual(twice.errors, [{ pointer: '/attachments/1', message: `attachment ${fresh.id} is listed more than once` }]);
      assert.deepEqual(await snapshot(t), before);

      assert.equal((await reply(t, second.id, [fresh.id])).statusCode, 201);
    });
  });

  describe('brands', () => {
    it("takes the token's only brand when brand_id is left out", async () => {
      const token = await t.token(['tickets:write'], [brand.id]);
      const created = await requestUpload(t, { file_name: 'a.txt', content_type: 'text/plain' }, token);
      assert.equal((await attachmentRow(t, created.id))!.brand_id, brand.id);
      assert.equal((await t.request({ method: 'GET', url: `/v1/attachments/${created.id}`, token })).json().brand_id, brand.id);
    });

    it('requires brand_id from a token of several brands, and hides brands it cannot see', async () => {
      const before = await attachmentCount(t);
      const third = await createBrand(t);
      const token = await t.token(['tickets:write'], [brand.id, third.id]);
      const problem = assertProblem(
        await t.request({ method: 'POST', url: '/v1/attachments', token, body: { file_name: 'a', content_type: 'text/plain' } }),
        422,
        'validation_failed',
      );
      assert.equal(problem.errors[0].pointer, '/brand_id');
      const hidden = assertProblem(
        await t.request({ method: 'POST', url: '/v1/attachments', token, body: { file_name: 'a', content_type: 'text/plain', brand_id: otherBrand.id } }),
        422,
        'validation_failed',
      );
      assert.equal(hidden.errors[0].message, `brand ${otherBrand.id} does not exist`);
      assert.equal(await attachmentCount(t), before);
      await requestUpload(t, { file_name: 'a', content_type: 'text/plain', brand_id: third.id }, token);
    });

    it("binds an all-brands token's attachment to the brand of the ticket it is linked to", async () => {
      const created = await uploaded(t, randomBytes(8));
      assert.equal((await attachmentRow(t, created.id))!.brand_id, null);
      // Unbound, it is visible only to all-brands tokens.
      const brandToken = await t.token(['tickets:write'], [brand.id]);
      assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${created.id}`, token: brandToken }), 404, 'not_found');
      const ticket = await createTicket(t, otherBrand.id);
      assert.equal((await reply(t, ticket.id, [created.id])).statusCode, 201);
      assert.equal((await attachmentRow(t, created.id))!.brand_id, otherBrand.id);
    });
  });

  describe('sweeper', () => {
    it('removes uploads never linked after 24 hours, rows and files, and keeps the rest', async () => {
      const clock = t.clock;
      const start = clock.now();
      const ticket = await createTicket(t, brand.id);
      const linked = await uploaded(t, randomBytes(10), { brand_id: brand.id });
      assert.equal((await reply(t, ticket.id, [linked.id])).statusCode, 201);
      const stale = await uploaded(t, randomBytes(10));
      const stalePending = await requestUpload(t, { file_name: 'never.txt', content_type: 'text/plain' });
      clock.advance(12 * 3_600_000);
      const young = await uploaded(t, randomBytes(10));
      const storageKeys = new Map<string, string>();
      for (const { id } of [linked, stale, young]) storageKeys.set(id, (await attachmentRow(t, id))!.storage_key!);
      const fileOf = (id: string) => path.join('attachments', storageKeys.get(id)!.slice(-2), storageKeys.get(id)!);
      assert.ok(fs.existsSync(path.join(t.dataDir, fileOf(stale.id))));

      clock.advance(12 * 3_600_000 - 1000);
      assert.equal(await t.runtime.services.attachments.sweepUnlinked(), 0, 'not before 24 hours');

      clock.set(new Date(start.getTime() + 24 * 3_600_000 + 1000));
      const job = coreJobs(t.runtime).find((j) => j.name === 'attachment-sweeper');
      assert.ok(job, 'the sweeper runs with the core jobs');
      await job.run();
      assert.equal(await attachmentRow(t, stale.id), undefined);
      assert.equal(await attachmentRow(t, stalePending.id), undefined);
      assert.ok(!fs.existsSync(path.join(t.dataDir, fileOf(stale.id))));
      assert.ok(await attachmentRow(t, linked.id));
      assert.ok(fs.existsSync(path.join(t.dataDir, fileOf(linked.id))));
      assert.ok(await attachmentRow(t, young.id));
      assert.ok(fs.existsSync(path.join(t.dataDir, fileOf(young.id))));

      const dl = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().messages[1].attachments[0].download_url;
      assert.equal((await t.app.inject({ method: 'GET', url: pathOf(dl) })).statusCode, 200);
      clock.set(start);
    });

    it('removes partial files a crash left in tmp/ once untouched for 15 minutes, and only those', async () => {
      const tmpDir = path.join(t.dataDir, 'attachments', 'tmp');
      fs.mkdirSync(tmpDir, { recursive: true });
      const old = path.join(tmpDir, 'att_00000000000000000000000000.abc.part');
      const fresh = path.join(tmpDir, 'att_00000000000000000000000001.def.part');
      fs.writeFileSync(old, 'half an upload');
      fs.writeFileSync(fresh, 'an upload in progress');
      // File times come from the real clock, so the age does too.
      const now = new Date();
      const sixteenMinutesAgo = new Date(now.getTime() - 16 * 60_000);
      const fourteenMinutesAgo = new Date(now.getTime() - 14 * 60_000);
      fs.utimesSync(old, sixteenMinutesAgo, sixteenMinutesAgo);
      fs.utimesSync(fresh, fourteenMinutesAgo, fourteenMinutesAgo);
      await t.runtime.services.attachments.sweepUnlinked();
      assert.ok(!fs.existsSync(old));
      assert.ok(fs.existsSync(fresh));
      fs.rmSync(fresh);
    });
  });
});

describe('attachments across restarts', () => {
  it('keeps the URL signing key in the database, so URLs outlive the process', async (t) => {
    const first = await buildTestApp({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-att-restart-')) });
    const created = await requestUpload(first, { file_name: 'a.txt', content_type: 'text/plain' });
    await first.app.close();
    await first.runtime.close();
    const second = await build(t, { dataDir: first.dataDir, clock: first.clock });
    t.after(() => removeDataDir(first.dataDir));
    const res = await put(second, created.upload_url, Buffer.from('hello'), { 'content-type': 'text/plain' });
    assert.equal(res.statusCode, 200, res.body);
  });
});

describe('attachment size limit', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ env: { NEXUS_ATTACHMENT_MAX_BYTES: '1024' } });
  });
  after(() => t.close());

  it('refuses an oversize upload with 413 and leaves nothing on disk, with or without Content-Length', async () => {
    const created = await requestUpload(t, { file_name: 'big.bin', content_type: 'application/octet-stream' });
    const declared = await put(t, created.upload_url, randomBytes(1025), { 'content-type': 'application/octet-stream' });
    assertProblem(declared, 413, 'payload_too_large');
    assert.deepEqual(blobFiles(t), []);

    // Chunked, so the limit can only be found while streaming.
    const chunks = Readable.from([randomBytes(600), randomBytes(600), randomBytes(600)]);
    const streamed = await put(t, created.upload_url, chunks, { 'content-type': 'application/octet-stream' });
    assertProblem(streamed, 413, 'payload_too_large');
    assert.deepEqual(blobFiles(t), []);
    assert.equal((await attachmentRow(t, created.id))!.status, 'pending');

    const exact = await put(t, created.upload_url, randomBytes(1024), { 'content-type': 'application/octet-stream' });
    assert.equal(exact.statusCode, 200, exact.body);
    assert.equal(blobFiles(t).length, 1);
  });

  it('refuses a declared size over the limit before any upload', async () => {
    const problem = assertProblem(
      await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'a', content_type: 'text/plain', size: 1025 } }),
      422,
      'validation_failed',
    );
    assert.deepEqual(problem.errors, [{ pointer: '/size', message: 'must be at most 1024 bytes' }]);
  });
});
