/**
 * The ticket export: GET /v1/exports/tickets.jsonl (admin) and `nexus export`, over the real app.
 * Every ticket with its messages, participants, audit trail and attachment references; brand
 * scoping; the since filter; the CSV's columns and quoting; and that the stream reads a page at a
 * time only as fast as its reader takes lines (backpressure).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { type TestApp, build } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';
import { runNexus } from '../helpers/cli-process.js';
import { eventually } from '../helpers/wait.js';

// biome-ignore lint/suspicious/noExplicitAny: export lines are read as loose JSON; the assertions check their shape
type Json = any;

const lines = (body: string): Json[] =>
  body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

async function attach(t: TestApp, brandId: string, bytes: Buffer): Promise<string> {
  const created = (
    await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'invoice.pdf', content_type: 'application/pdf', brand_id: brandId } })
  ).json();
  const put = await t.app.inject({ method: 'PUT', url: new URL(created.upload_url).pathname, headers: { 'content-type': 'application/pdf' }, payload: bytes });
  assert.equal(put.statusCode, 200, put.body);
  return created.id;
}

describe('ticket export', () => {
  it('streams every ticket with its messages, participants, audit trail and attachment references (no bytes), oldest first', async (t) => {
    const app = await build(t);
    const brand = await createBrand(app, { name: 'Acme' });
    const first = await createTicket(app, brand.id, { subject: 'Broken kettle', tags: ['kettle'], metadata: { order: 42 } });
    const bytes = randomBytes(2048);
    const attachmentId = await attach(app, brand.id, bytes);
    const reply = await app.request({
      method: 'POST',
      url: `/v1/tickets/${first.id}/messages`,
      body: {
        author_type: 'agent',
        body: 'A new one is on its way',
        author: { email: 'agent@acme.example', name: 'Agent' },
        cc: ['boss@example.com'],
        attachments: [attachmentId],
      },
    });
    assert.equal(reply.statusCode, 201, reply.body);
    await app.request({ method: 'PATCH', url: `/v1/tickets/${first.id}`, body: { status: 'resolved' } });
    const second = await createTicket(app, brand.id, { subject: 'Second' });

    const res = await app.request({ method: 'GET', url: '/v1/exports/tickets.jsonl' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
    const exported = lines(res.body);
    assert.deepEqual(
      exported.map((x) => x.id),
      [first.id, second.id],
    );
    const ticket = exported[0];
    const detail = (await app.request({ method: 'GET', url: `/v1/tickets/${first.id}` })).json();
    // The ticket as GET shows it, without its queue placement, plus the brand's name.
    for (const field of [
      'subject',
      'status',
      'priority',
      'tags',
      'customer',
      'metadata',
      'created_at',
      'updated_at',
      'first_response_at',
      'participants',
      'audit_trail',
    ]) {
      assert.deepEqual(ticket[field], detail[field], field);
    }
    assert.equal(ticket.brand_name, 'Acme');
    assert.equal(ticket.queue, undefined);
    assert.deepEqual(
      ticket.messages.map((m: Json) => m.body),
      detail.messages.map((m: Json) => m.body),
    );
    assert.deepEqual(
      ticket.participants.map((p: Json) => p.role),
      ['customer', 'agent', 'cc'],
    );
    assert.deepEqual(
      ticket.audit_trail.map((a: Json) => a.action),
      ['ticket.created', 'message.created', 'ticket.updated'],
    );
    const [ref] = ticket.messages[1].attachments;
    assert.deepEqual(ref, {
      id: attachmentId,
      file_name: 'invoice.pdf',
      content_type: 'application/pdf',
      size: 2048,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    assert.ok(!res.body.includes(bytes.toString('base64').slice(0, 40)), 'no attachment bytes in the export');
  });

  it('a brand-restricted admin token exports only its brands; a token without admin gets a 403', async (t) => {
    const app = await build(t);
    const a = await createBrand(app);
    const b = await createBrand(app);
    const inA = await createTicket(app, a.id);
    await createTicket(app, b.id);
    const adminOfA = await app.token(['admin'], [a.id]);
    const own = await app.request({ method: 'GET', url: '/v1/exports/tickets.jsonl', token: adminOfA });
    assert.deepEqual(
      lines(own.body).map((x) => x.id),
      [inA.id],
    );
    const other = await app.request({ method: 'GET', url: `/v1/exports/tickets.jsonl?brand_id=${b.id}`, token: adminOfA });
    assert.equal(other.statusCode, 200);
    assert.equal(other.body, '', 'another brand exports nothing');
    const one = await app.request({ method: 'GET', url: `/v1/exports/tickets.jsonl?brand_id=${b.id}` });
    assert.deepEqual(
      lines(one.body).map((x) => x.brand_id),
      [b.id],
    );
    // Several brands: one after another (each by its own index), each oldest first.
    const c = await createBrand(app);
    const inC = await createTicket(app, c.id);
    const laterInA = await createTicket(app, a.id);
    const adminOfAC = await app.token(['admin'], [a.id, c.id]);
    const both = lines((await app.request({ method: 'GET', url: '/v1/exports/tickets.jsonl', token: adminOfAC })).body).map((x) => x.id);
    assert.deepEqual(both, a.id < c.id ? [inA.id, laterInA.id, inC.id] : [inC.id, inA.id, laterInA.id]);
    const writer = await app.token(['tickets:write']);
    assertProblem(await app.request({ method: 'GET', url: '/v1/exports/tickets.jsonl', token: writer }), 403);
  });

  it('since keeps the tickets updated at or after it; a bad since or an unknown parameter is a 400 problem that stores nothing', async (t) => {
    const app = await build(t);
    const brand = await createBrand(app);
    await createTicket(app, brand.id);
    app.clock.advance(3600_000);
    const later = await createTicket(app, brand.id);
    const res = await app.request({ method: 'GET', url: `/v1/exports/tickets.jsonl?since=${encodeURIComponent(later.created_at)}` });
    assert.deepEqual(
      lines(res.body).map((x) => x.id),
      [later.id],
    );
    const before = { tickets: await countRows(app, 'tickets'), events: await countRows(app, 'events'), audit: await countRows(app, 'audit_entries') };
    for (const url of ['/v1/exports/tickets.jsonl?since=yesterday', '/v1/exports/tickets.jsonl?since=2025-02-30', '/v1/exports/tickets.jsonl?format=csv']) {
      const bad = await app.request({ method: 'GET', url });
      const problem = assertProblem(bad, 400);
      assert.ok(problem.errors?.length, url);
    }
    // The shared query validation answers an unknown parameter, as on every list: it names it and the known ones.
    const unknown = assertProblem(await app.request({ method: 'GET', url: '/v1/exports/tickets.jsonl?brand=x&since=2025-01-01' }), 400);
    assert.deepEqual(unknown.errors, [{ pointer: 'brand', message: 'is not a known query parameter (known parameters: brand_id, since)' }]);
    assert.deepEqual(
      { tickets: await countRows(app, 'tickets'), events: await countRows(app, 'events'), audit: await countRows(app, 'audit_entries') },
      before,
    );
  });

  it('reads the next page only when the reader has taken the last one (backpressure), so memory does not grow with the export', async (t) => {
    const app = await build(t);
    const brand = await createBrand(app);
    const inputs = Array.from({ length: 300 }, (_, i) => ({
      brand_id: brand.id,
      subject: `Bulk ${i}`,
      description: 'x'.repeat(2000),
      customer: { email: `c${i}@example.com` },
    }));
    await app.runtime.services.tickets.createMany({ tokenId: 'test', tokenName: 'test', scopes: ['admin'], brandIds: null }, inputs);
    const exports = app.runtime.services.exports;
    const plan = exports.plan(null, { batchSize: 20 });
    let produced = 0;
    let written = 0;
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A reader that takes 10 lines, then stalls until told, like a slow client.
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, callback) {
        written++;
        if (written === 10) gate.then(() => callback());
        else callback();
      },
    });
    const source = Readable.from(
      exports.jsonl(plan, () => produced++),
      { highWaterMark: 1 },
    );
    const done = new Promise<void>((resolve, reject) => {
      source.pipe(slow).on('finish', resolve).on('error', reject);
    });
    await eventually('the reader has taken 10 lines and stalls', () => written >= 10);
    // Let the pipeline run until it blocks on the stalled reader (event-loop turns, not a sleep).
    for (let i = 0; i < 200; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(written, 10);
    assert.ok(produced <= written + 3, `with the reader stalled, at most one page ahead: ${produced} produced, ${written} taken`);
    release!();
    await done;
    assert.equal(produced, 300);
    assert.equal(written, 300);
  });

  it('nexus export writes jsonl and CSV files (header, quoting, formula cells defused) with a progress bar, for one brand on request', async (t) => {
    const app = await build(t);
    const brand = await createBrand(app, { name: 'Acme, Inc.' });
    const other = await createBrand(app);
    const quoted = await createTicket(app, brand.id, { subject: '=HYPERLINK("http://evil")', description: 'line one\nline "two"', tags: ['a', 'b'] });
    await createTicket(app, other.id);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-export-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const csvFile = path.join(dir, 'tickets.csv');
    const csv = await runNexus(t, app, ['export', '--format', 'csv', '--brand', brand.id, '--out', csvFile]).done;
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /exported 1 tickets/);
    assert.match(csv.stderr, /export \[.*\] 100% 1\/1 tickets .*ETA/);
    assert.ok(!fs.existsSync(`${csvFile}.partial`));
    const text = fs.readFileSync(csvFile, 'utf8');
    const [header, row] = text.split('\r\n');
    assert.equal(
      header,
      'id,brand_id,brand_name,subject,status,priority,origin,customer_email,customer_name,assigned_to,tags,created_at,updated_at,first_response_at,snoozed_until,message_count,last_message_at,attachment_count,description,metadata',
    );
    assert.ok(row!.startsWith(`${quoted.id},${brand.id},"Acme, Inc.","'=HYPERLINK(""http://evil"")",open,normal,api,`), row);
    assert.ok(text.includes('"line one\nline ""two"""'), 'a field with a line break and quotes is quoted whole');
    assert.ok(row!.includes(',a;b,'));

    const jsonlFile = path.join(dir, 'tickets.jsonl');
    const jsonl = await runNexus(t, app, ['export', '--format', 'jsonl', '--out', jsonlFile]).done;
    assert.equal(jsonl.code, 0, jsonl.stderr);
    assert.equal(lines(fs.readFileSync(jsonlFile, 'utf8')).length, 2);

    const usage = await runNexus(t, app, ['export', '--format', 'xml', '--out', jsonlFile]).done;
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--format jsonl or --format csv/);
  });
});
