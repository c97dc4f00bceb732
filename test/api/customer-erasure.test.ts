import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ManualClock, systemClock } from '../../src/shared/clock.js';
import { type WebhookDispatcher, createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { buildTestApp, testPostgresUrl, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';
import { brandWithAddresses, postMail, rawMail } from '../helpers/email.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { type WebhookReceiver, startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { waitFor } from '../helpers/wait.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

const EMAIL = 'zebulon.quixworth@erasure.example';
const NAME = 'Zebulon Quixworthy';
/** A piece of the name's analysed (stemmed, lower-cased) form, as the keyword index keeps it; FTS5 prefix-compresses its terms. */
const TERM = 'uixworth';
const OTHER = { email: 'otto.survivor@erasure.example', name: 'Otto Survivor' };

/** Every way the person's address and name may be stored: as written, lower and upper case. */
const needles = (): Buffer[] =>
  [EMAIL, EMAIL.toUpperCase(), 'Zebulon.Quixworth@erasure.example', NAME, NAME.toLowerCase(), NAME.toUpperCase(), TERM].map((s) => Buffer.from(s, 'utf8'));

/** Which needles occur in `bytes`. */
const found = (bytes: Buffer | string): string[] => {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return needles()
    .filter((n) => b.indexOf(n) >= 0)
    .map((n) => n.toString('utf8'));
};

/** The SQLite main file and its WAL, each read whole. */
function databaseFiles(t: TestApp): { name: string; bytes: Buffer }[] {
  return ['nexus.sqlite', 'nexus.sqlite-wal']
    .map((f) => path.join(t.dataDir, f))
    .filter((f) => fs.existsSync(f))
    .map((f) => ({ name: path.basename(f), bytes: fs.readFileSync(f) }));
}

/** Every file of the disk blob store. */
function blobFiles(t: TestApp): string[] {
  const root = path.join(t.dataDir, 'attachments');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).map((f) => path.join(root, f)).filter((f) => fs.statSync(f).isFile());
}

describe('customer erasure', () => {
  let t: TestApp;
  let dispatcher: WebhookDispatcher;
  let receiver: WebhookReceiver;
  let brandA: string;
  let brandB: string;
  let mailbox: string;
  let hookId: string;
  let person: Json;
  /** Tickets: the person's by API (t1) and by mail (t2); another customer's that copies and names them (t3); another customer's that does not (t4); the other customer in brand B (t5). */
  const ids: Record<'t1' | 't2' | 't3' | 't4' | 't5', string> = { t1: '', t2: '', t3: '', t4: '', t5: '' };
  let attachmentId: string;
  let blobsBefore: string[];

  const post = (url: string, body?: unknown, token?: string) =>
    t.request({ method: 'POST', url, ...(body !== undefined ? { body } : {}), ...(token ? { token } : {}) });
  const get = async (url: string, token?: string): Promise<Json> => {
    const res = await t.request({ method: 'GET', url, ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res;
  };

  /** Every table the erasure may touch, as text: equal before and after means nothing changed. */
  async function fingerprint(): Promise<string> {
    const db = t.runtime.db;
    const tables = [
      'customers',
      'tickets',
      'messages',
      'audit_entries',
      'events',
      'attachments',
      'inbound_emails',
      'email_outbox',
      'search_documents',
    ] as const;
    const out: unknown[] = [];
    for (const table of tables) out.push(await db.selectFrom(table).selectAll().execute());
    out.push((await db.selectFrom('idempotency_keys').select(['token_id', 'key']).orderBy('key').execute()).length);
    out.push(blobFiles(t).sort());
    return JSON.stringify(out, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
  }

  /** Everything the API shows about the person's brand, as one text. */
  async function everythingVisible(): Promise<string> {
    const parts: string[] = [];
    for (const id of Object.values(ids)) {
      parts.push((await get(`/v1/tickets/${id}`)).body);
      parts.push((await get(`/v1/tickets/${id}/messages?limit=100`)).body);
      parts.push((await get(`/v1/tickets/${id}/audit?limit=100`)).body);
    }
    parts.push((await get(`/v1/tickets?brand_id=${brandA}&limit=100`)).body);
    parts.push((await get(`/v1/tickets?customer_email=${encodeURIComponent(EMAIL)}`)).body);
    parts.push((await get(`/v1/customers?brand_id=${brandA}&limit=100`)).body);
    parts.push((await get(`/v1/customers?q=quixworth`)).body);
    parts.push((await get(`/v1/customers/${person.id}`)).body);
    parts.push((await get(`/v1/customers/${person.id}/tickets`)).body);
    let after = '';
    for (;;) {
      const page = await get(`/v1/events?limit=500${after ? `&after=${after}` : ''}`);
      parts.push(page.body);
      after = page.json().next_cursor;
      if (!after) break;
    }
    for (const mode of ['keyword', 'semantic', 'hybrid']) {
      for (const query of [NAME, EMAIL, 'quixworth']) {
        parts.push((await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query, mode, filters: { brand_id: brandA } } })).body);
      }
    }
    parts.push((await get('/v1/exports/tickets.jsonl')).body);
    parts.push((await get(`/v1/webhooks/${hookId}/deliveries?limit=100`)).body);
    return parts.join('\n');
  }

  before(async () => {
    // The clock near the wall clock, so that the dispatcher (on the wall clock) finds the events due.
    t = await buildTestApp({ clock: new ManualClock(new Date()) });
    dispatcher = createWebhookDispatcher(
      { db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox, config: t.config, log: pino({ level: 'silent' }) },
      { clock: systemClock, pollIntervalMs: 50, attemptTimeoutMs: 3000 },
    );
    dispatcher.start();
    receiver = await startWebhookReceiver();
    // The endpoint echoes what it was sent: the attempt records then hold the person too.
    // (A short echo: the attempt record keeps the first kilobyte, and a name cut in two there could not be recognised.)
    receiver.respond((r) => ({
      status: 200,
      body: JSON.stringify({ echo: r.json?.data?.ticket?.customer ?? null, text: r.json?.data?.ticket?.description ?? null }),
    }));

    mailbox = 'help@erasure-a.test';
    brandA = (await brandWithAddresses(t, [mailbox])).id;
    brandB = (await createBrand(t, { name: 'Erasure B' })).id;
    const hook = await post('/v1/webhooks', { url: receiver.url, events: ['*'] });
    assert.equal(hook.statusCode, 201, hook.body);
    hookId = hook.json().id;

    // t1: through the API, with their address in the text and metadata, a reply naming them, their own message with a file.
    const t1 = await createTicket(t, brandA, {
      subject: `Refund for ${NAME}`,
      description: `Please answer ${EMAIL}; order 10021.`,
      customer: { email: EMAIL.toUpperCase(), name: NAME },
      metadata: { contact: EMAIL, nested: { who: NAME } },
    });
    ids.t1 = t1.id;
    const reply = await post(`/v1/tickets/${t1.id}/messages`, { author_type: 'agent', body: `Hello ${NAME}, we will write to ${EMAIL} today.` });
    assert.equal(reply.statusCode, 201, reply.body);
    const upload = await post('/v1/attachments', { file_name: 'receipt.txt', content_type: 'text/plain', brand_id: brandA });
    assert.equal(upload.statusCode, 201, upload.body);
    attachmentId = upload.json().id;
    const put = await t.app.inject({
      method: 'PUT',
      url: new URL(upload.json().upload_url).pathname,
      headers: { 'content-type': 'text/plain' },
      payload: Buffer.from(`Receipt for ${NAME} <${EMAIL}>`),
    });
    assert.equal(put.statusCode, 200, put.body);
    // Longer than a page: its text lives in overflow pages, which a rewrite frees whole. Only
    // secure_delete=ON zeroes freed pages (FAST leaves them as they were, in the free list).
    const long = await post(`/v1/tickets/${t1.id}/messages`, {
      author_type: 'agent',
      body: Array.from({ length: 200 }, (_, i) => `Call ${i} with ${NAME} about order 10021, nothing new.`).join('\n'),
    });
    assert.equal(long.statusCode, 201, long.body);
    const own = await post(`/v1/tickets/${t1.id}/messages`, {
      author_type: 'customer',
      author: { email: EMAIL, name: NAME },
      body: `It is me, ${NAME}.`,
      attachments: [attachmentId],
    });
    assert.equal(own.statusCode, 201, own.body);
    // The latest message, so the ticket's last_message_preview: their name and address on its first
    // line, in HTML whose entities hide the name from a search of the stored body (`&#104;` is `h`).
    const html = await post(`/v1/tickets/${t1.id}/messages`, {
      author_type: 'agent',
      body: `<p>Dear&nbsp;${NAME.replace(/h/, '&#104;')} &lt;${EMAIL}&gt;,</p><p>your refund is on its way.</p>`,
    });
    assert.equal(html.statusCode, 201, html.body);
    assert.equal((await get(`/v1/tickets/${t1.id}`)).json().last_message_preview, `Dear ${NAME} <${EMAIL}>,`);
    assert.equal(
      (await t.request({ method: 'PATCH', url: `/v1/tickets/${t1.id}`, body: { status: 'pending', tags: ['refund'], subject: `Refund for ${NAME}!` } }))
        .statusCode,
      200,
    );

    // t2: by mail, so a raw original.eml is stored.
    const mail = await postMail(t, rawMail({ from: `${NAME} <${EMAIL}>`, to: mailbox, subject: 'Broken kettle', body: `Regards,\r\n${NAME}\r\n` }));
    assert.equal(mail.statusCode, 201, mail.body);
    ids.t2 = mail.json().ticket_id;

    // t3: another customer's ticket that copies the person and names them.
    const t3 = await createTicket(t, brandA, { subject: 'Printer jam', description: 'Paper stuck in tray 2', customer: OTHER });
    ids.t3 = t3.id;
    const cc = await post(`/v1/tickets/${t3.id}/messages`, { author_type: 'agent', body: `Copying ${NAME} as asked.`, cc: [EMAIL] });
    assert.equal(cc.statusCode, 201, cc.body);

    // t4: another customer's ticket that has nothing of the person; t5: that customer in brand B.
    ids.t4 = (await createTicket(t, brandA, { subject: 'Lost password', description: 'Cannot sign in', customer: OTHER })).id;
    ids.t5 = (await createTicket(t, brandB, { subject: 'Brand B question', description: 'Opening hours?', customer: OTHER })).id;

    // A ticket created with an Idempotency-Key: its answer (with the person) is kept for replays.
    const kept = await t.request({
      method: 'POST',
      url: '/v1/tickets',
      body: { brand_id: brandA, subject: 'Second thing', description: 'More', customer: { email: EMAIL, name: NAME } },
      headers: { 'idempotency-key': 'erasure-kept-1' },
    });
    assert.equal(kept.statusCode, 201, kept.body);

    person = (await get(`/v1/customers?brand_id=${brandA}&email=${encodeURIComponent(EMAIL)}`)).json().data[0];
    assert.ok(person, 'the person is a customer of brand A');
    // Every event so far delivered (and echoed), so the attempt records hold the person.
    const events = (await get('/v1/events?limit=500')).json().data.length;
    await receiver.waitFor(events, { timeoutMs: 60_000 });
    await waitFor('attempt records of every event', 60_000, async () => {
      const rows = await t.runtime.db.selectFrom('webhook_attempts').select('id').execute();
      return rows.length >= events ? true : undefined;
    });
    blobsBefore = blobFiles(t);
  });

  after(async () => {
    await dispatcher.stop({ graceMs: 0 });
    await receiver.close();
    await t.close();
  });

  it('refuses bad requests with a problem, changing nothing', async () => {
    const before = await fingerprint();
    assertProblem(await post('/v1/customers/cus_00000000000000000000000000/erase'), 404, 'not_found');
    assertProblem(await post('/v1/customers/nonsense/erase'), 404, 'not_found');
    const writer = await t.token(['tickets:write']);
    assertProblem(await post(`/v1/customers/${person.id}/erase`, undefined, writer), 403, 'forbidden');
    assertProblem(await post(`/v1/customers/${person.id}/erase?dry_run=true`, undefined, writer), 403, 'forbidden');
    // An admin of brand B only: brand A's customer does not exist for it.
    const adminB = await t.token(['admin'], [brandB]);
    assertProblem(await post(`/v1/customers/${person.id}/erase`, undefined, adminB), 404, 'not_found');
    assertProblem(await post(`/v1/customers/${person.id}/erase?dry_run=maybe`), 400);
    assertProblem(await post(`/v1/customers/${person.id}/erase?dry_run=true&also=1`), 400);
    assert.equal(await fingerprint(), before);
  });

  it('shows the person everywhere before, as the checks below rely on', async () => {
    const visible = found(await everythingVisible());
    assert.ok(visible.includes(EMAIL) && visible.includes(NAME), visible.join(', '));
    if (!testPostgresUrl) {
      const all = found(Buffer.concat(databaseFiles(t).map((f) => f.bytes)));
      assert.ok(all.includes(EMAIL) && all.includes(NAME) && all.includes(TERM), `the files hold ${all.join(', ')}`);
    }
    assert.ok(
      blobFiles(t).some((f) => found(fs.readFileSync(f)).length > 0),
      'the blob store holds their files',
    );
  });

  let dryCounts: Json;
  it('a dry run answers the counts and changes nothing', async () => {
    const before = await fingerprint();
    const res = await post(`/v1/customers/${person.id}/erase?dry_run=true`);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual({ ...body, counts: undefined }, { customer_id: person.id, erased: false, dry_run: true, erased_at: null, counts: undefined });
    dryCounts = body.counts;
    assert.ok(dryCounts.tickets >= 4, JSON.stringify(dryCounts));
    assert.ok(dryCounts.messages >= 4 && dryCounts.attachments >= 2 && dryCounts.events > 0 && dryCounts.audit_entries > 0, JSON.stringify(dryCounts));
    assert.ok(dryCounts.webhook_attempts > 0 && dryCounts.inbound_emails === 1 && dryCounts.kept_responses === 1, JSON.stringify(dryCounts));
    assert.equal(await fingerprint(), before);
  });

  let result: Json;
  let t4Before: string;
  let t5Before: string;
  let otherCustomerBefore: string;
  it('erases: the same counts as the dry run, and no byte of the person left in the API, the blob store or the database files', async () => {
    t4Before = (await get(`/v1/tickets/${ids.t4}`)).body;
    t5Before = (await get(`/v1/tickets/${ids.t5}`)).body;
    otherCustomerBefore = JSON.stringify((await get(`/v1/customers?brand_id=${brandA}&email=${OTHER.email}`)).json().data[0]);
    // Read once, so the detail cache holds the old version.
    assert.ok(found((await get(`/v1/tickets/${ids.t1}`)).body).includes(EMAIL));
    const started = performance.now();
    const res = await post(`/v1/customers/${person.id}/erase`);
    const ms = performance.now() - started;
    assert.equal(res.statusCode, 200, res.body);
    result = res.json();
    assert.equal(result.erased, true);
    assert.equal(result.dry_run, false);
    assert.match(result.erased_at, /^\d{4}-\d{2}-\d{2}T/);
    assert.deepEqual(result.counts, dryCounts);
    assert.ok(ms < 30_000, `took ${ms} ms`);

    const visible = await everythingVisible();
    assert.deepEqual(found(visible), [], 'nothing of the person through the API');

    const customer = (await get(`/v1/customers/${person.id}`)).json();
    assert.deepEqual(
      { email: customer.email, name: customer.name, external_id: customer.external_id, notes: customer.notes, erased_at: customer.erased_at },
      { email: `${person.id}@erased.invalid`, name: null, external_id: null, notes: null, erased_at: result.erased_at },
    );
    assert.equal(customer.ticket_count, person.ticket_count, 'the tombstone keeps its counts');
    const theirs = (await get(`/v1/customers/${person.id}/tickets`)).json().data.map((x: Json) => x.id);
    assert.ok(theirs.includes(ids.t1) && theirs.includes(ids.t2));

    // Their ticket: redacted, with a new version and an audit entry naming who erased, not what.
    const t1 = (await get(`/v1/tickets/${ids.t1}`)).json();
    assert.deepEqual(t1.customer, { email: `${person.id}@erased.invalid`, name: null });
    assert.equal(t1.subject, 'Refund for [erased]!');
    assert.equal(t1.last_message_preview, 'Dear [erased] <[erased]>,');
    assert.deepEqual(t1.metadata, { contact: `${person.id}@erased.invalid`, nested: { who: '[erased]' } });
    assert.deepEqual(t1.tags, ['refund']);
    assert.equal(t1.status, 'pending');
    const audit = t1.audit_trail.at(-1);
    assert.deepEqual(
      { action: audit.action, actor: audit.actor.name, changes: audit.changes },
      {
        action: 'customer.erased',
        actor: 'test admin',
        changes: { erased_customer: { from: null, to: person.id } },
      },
    );
    assert.ok(
      t1.messages.every((m: Json) => m.attachments.length === 0),
      'their files are gone',
    );
    assertProblem(await t.request({ method: 'GET', url: `/v1/attachments/${attachmentId}` }), 404);
    // Another customer's ticket that copied them: only the person is gone.
    const t3 = (await get(`/v1/tickets/${ids.t3}`)).json();
    assert.deepEqual(t3.customer, OTHER);
    assert.deepEqual(t3.messages.at(-1).cc, []);
    assert.equal(t3.messages.at(-1).body, 'Copying [erased] as asked.');
    assert.deepEqual(
      t3.participants.map((p: Json) => p.email),
      [OTHER.email],
    );
    // Untouched: another customer's ticket, the same address in another brand, the other customer.
    assert.equal((await get(`/v1/tickets/${ids.t4}`)).body, t4Before);
    assert.equal((await get(`/v1/tickets/${ids.t5}`)).body, t5Before);
    assert.equal(JSON.stringify((await get(`/v1/customers?brand_id=${brandA}&email=${OTHER.email}`)).json().data[0]), otherCustomerBefore);

    // The blob store: their files and raw mail are gone; the rest stays.
    const blobsAfter = blobFiles(t);
    assert.equal(blobsBefore.length - blobsAfter.length, result.counts.attachments);
    for (const f of blobsAfter) assert.deepEqual(found(fs.readFileSync(f)), [], f);

    // The webhook: customer.erased with the id and counts only.
    const [hook] = await receiver.waitFor(1, { timeoutMs: 60_000, filter: (r) => r.json?.type === 'customer.erased' });
    assert.deepEqual(hook!.json.data, { customer_id: person.id, brand_id: brandA, counts: result.counts });
    assert.deepEqual(found(hook!.body), []);

    if (!testPostgresUrl) {
      // The files themselves, main database and WAL, byte by byte.
      for (const file of databaseFiles(t)) {
        const hits = found(file.bytes);
        assert.deepEqual(hits, [], `${file.name} still holds ${hits.join(', ')}`);
      }
    }
  });

  it('a second erasure (and its dry run) answers erased with zero counts and changes nothing', async () => {
    const before = await fingerprint();
    for (const url of [`/v1/customers/${person.id}/erase`, `/v1/customers/${person.id}/erase?dry_run=true`]) {
      const res = await post(url);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.erased, true);
      assert.equal(body.erased_at, result.erased_at);
      assert.ok(
        Object.values(body.counts).every((n) => n === 0),
        res.body,
      );
    }
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/customers/${person.id}`, body: { name: NAME } }), 409, 'conflict');
    assert.equal(await fingerprint(), before);
  });
});

describe('customer erasure, the same address in two brands', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it("erases the customer of one brand only: the other brand's customer, tickets and events stay byte for byte", async () => {
    const a = (await createBrand(t, { name: 'Two brands A' })).id;
    const b = (await createBrand(t, { name: 'Two brands B' })).id;
    const mine = await createTicket(t, a, { subject: `About ${NAME}`, description: `Write to ${EMAIL}`, customer: { email: EMAIL, name: NAME } });
    const theirs = await createTicket(t, b, { subject: `About ${NAME}`, description: `Write to ${EMAIL}`, customer: { email: EMAIL, name: NAME } });
    const customerOf = async (brand: string) =>
      (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&email=${encodeURIComponent(EMAIL)}` })).json().data[0];
    const inB = async () =>
      JSON.stringify([
        (await t.request({ method: 'GET', url: `/v1/tickets/${theirs.id}` })).body,
        await customerOf(b),
        await t.runtime.db.selectFrom('events').selectAll().where('brand_id', '=', b).orderBy('id').execute(),
        await t.runtime.db.selectFrom('messages').selectAll().where('ticket_id', '=', theirs.id).execute(),
      ]);
    const before = await inB();
    const res = await t.request({ method: 'POST', url: `/v1/customers/${(await customerOf(a)).id}/erase` });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().counts.tickets, 1);
    assert.equal(await inB(), before);
    assert.deepEqual(found((await t.request({ method: 'GET', url: `/v1/tickets/${mine.id}` })).body), []);
    const search = await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'quixworthy', mode: 'keyword' } });
    assert.deepEqual(
      search.json().data.map((h: Json) => h.ticket.id),
      [theirs.id],
    );
  });
});

describe('customer erasure, attachments in an S3-compatible bucket', () => {
  const BUCKET = 'erasure-files';
  let s3: S3TestServer;
  let t: TestApp;
  before(async () => {
    s3 = await startS3Server({ buckets: [BUCKET] });
    t = await buildTestApp({ env: s3.env(BUCKET, 'files') });
  });
  after(async () => {
    await t?.close();
    await s3?.close();
  });

  it("deletes their objects (files and the raw mail) from the bucket and keeps everyone else's", async () => {
    const mailbox = 'help@erasure-s3.test';
    const brand = (await brandWithAddresses(t, [mailbox])).id;
    const mine = await postMail(t, rawMail({ from: `${NAME} <${EMAIL}>`, to: mailbox, subject: 'Kettle', body: 'It leaks.' }));
    assert.equal(mine.statusCode, 201, mine.body);
    const theirs = await postMail(t, rawMail({ from: `${OTHER.name} <${OTHER.email}>`, to: mailbox, subject: 'Toaster', body: 'It burns.' }));
    assert.equal(theirs.statusCode, 201, theirs.body);
    const before = await s3.keys(BUCKET, 'files');
    assert.equal(before.length, 2, 'one original.eml each');
    const customer = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&email=${encodeURIComponent(EMAIL)}` })).json().data[0];
    const res = await t.request({ method: 'POST', url: `/v1/customers/${customer.id}/erase` });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().counts.attachments, 1);
    const left = await s3.keys(BUCKET, 'files');
    assert.equal(left.length, 1);
    assert.ok(before.includes(left[0]!));
    const other = (await t.request({ method: 'GET', url: `/v1/tickets/${theirs.json().ticket_id}` })).json();
    assert.equal(other.messages[0].attachments[0].file_name, 'original.eml', 'the other sender keeps their raw mail');
    assert.deepEqual(found((await t.request({ method: 'GET', url: `/v1/tickets/${mine.json().ticket_id}` })).body), []);
  });
});
