import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helpers/app.js';
import { brandWithAddresses, postMail, rawMail } from '../helpers/email.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

describe('brand e-mail addresses', () => {
  it('are set on create and replaced with PATCH, stored lower-cased', async (t) => {
    const app = await build(t);
    const brand = await brandWithAddresses(app, ['Support@Acme.test', 'help@acme.test']);
    assert.deepEqual(brand.email_addresses, ['support@acme.test', 'help@acme.test']);
    const res = await app.request({ method: 'PATCH', url: `/v1/brands/${brand.id}`, body: { email_addresses: ['help@acme.test'] } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().email_addresses, ['help@acme.test']);
    const renamed = await app.request({ method: 'PATCH', url: `/v1/brands/${brand.id}`, body: { name: 'Acme' } });
    assert.deepEqual(renamed.json().email_addresses, ['help@acme.test'], 'a rename keeps the addresses');
    const plain = await createBrand(app);
    const got = await app.request({ method: 'GET', url: `/v1/brands/${plain.id}` });
    assert.deepEqual(got.json().email_addresses, []);
  });

  it('an address of another brand is a 409 and changes nothing', async (t) => {
    const app = await build(t);
    const a = await brandWithAddresses(app, ['support@acme.test']);
    const b = await brandWithAddresses(app, ['hello@beta.test']);
    const brandsBefore = await countRows(app, 'brands');
    assertProblem(
      await app.request({ method: 'PATCH', url: `/v1/brands/${b.id}`, body: { email_addresses: ['hello@beta.test', 'SUPPORT@acme.test'] } }),
      409,
      'conflict',
    );
    assertProblem(await app.request({ method: 'POST', url: '/v1/brands', body: { name: 'C', email_addresses: ['support@acme.test'] } }), 409, 'conflict');
    assert.equal(await countRows(app, 'brands'), brandsBefore, 'no brand created');
    const bNow = await app.request({ method: 'GET', url: `/v1/brands/${b.id}` });
    assert.deepEqual(bNow.json().email_addresses, ['hello@beta.test']);
    const aNow = await app.request({ method: 'GET', url: `/v1/brands/${a.id}` });
    assert.deepEqual(aNow.json().email_addresses, ['support@acme.test']);
  });

  it('bad addresses are 422 at their index, and nothing is stored', async (t) => {
    const app = await build(t);
    const brand = await brandWithAddresses(app, ['support@acme.test']);
    const brandsBefore = await countRows(app, 'brands');
    for (const [list, pointer] of [
      [['not-an-address'], '/email_addresses/0'],
      [['support@acme.test', 'support+x@acme.test'], '/email_addresses/1'],
      [['a@acme.test', 'A@acme.test'], '/email_addresses/1'],
      [['Name <a@acme.test>'], '/email_addresses/0'],
    ] as const) {
      const patch = assertProblem(
        await app.request({ method: 'PATCH', url: `/v1/brands/${brand.id}`, body: { email_addresses: list } }),
        422,
        'validation_failed',
      );
      assert.equal(patch.errors[0].pointer, pointer, JSON.stringify(list));
      assertProblem(await app.request({ method: 'POST', url: '/v1/brands', body: { name: 'X', email_addresses: list } }), 422, 'validation_failed');
    }
    assertProblem(await app.request({ method: 'PATCH', url: `/v1/brands/${brand.id}`, body: {} }), 422);
    assert.equal(await countRows(app, 'brands'), brandsBefore);
    const now = await app.request({ method: 'GET', url: `/v1/brands/${brand.id}` });
    assert.deepEqual(now.json().email_addresses, ['support@acme.test']);
  });
});

describe('POST /v1/inbound/email', () => {
  it('a reply to the thread of a merged ticket is added to the ticket it was merged into', async (t) => {
    const app = await build(t);
    const brand = await brandWithAddresses(app, ['support@acme.test']);
    const mail = (id: string, extra: string[]) =>
      Buffer.from(
        ['From: Casey <casey@example.net>', 'To: support@acme.test', 'Subject: Printer', `Message-ID: <${id}>`, ...extra, '', 'Text', ''].join('\r\n'),
      );
    const first = await postMail(app, mail('merge-1@example.net', []));
    assert.equal(first.statusCode, 201, first.body);
    const source = first.json().ticket_id;
    const target = await createTicket(app, brand.id);
    assert.equal((await app.request({ method: 'POST', url: `/v1/tickets/${source}/merge`, body: { into: target.id } })).statusCode, 200);
    const reply = await postMail(app, mail('merge-2@example.net', ['In-Reply-To: <merge-1@example.net>', 'References: <merge-1@example.net>']));
    assert.equal(reply.statusCode, 201, reply.body);
    assert.equal(reply.json().outcome, 'message_added');
    assert.equal(reply.json().ticket_id, target.id);
    const messages = (await app.request({ method: 'GET', url: `/v1/tickets/${target.id}/messages` })).json().data;
    assert.ok(messages.some((m: { id: string }) => m.id === reply.json().message_id));
  });

  it('turns a mail into an email ticket: subject, text, customer, participants, attachments and the raw message', async (t) => {
    const app = await build(t);
    const brand = await brandWithAddresses(app, ['support@acme.test']);
    const boundary = 'XYZ';
    const raw = Buffer.from(
      [
        'From: "Casey Customer" <Casey@Example.net>',
        'To: support@acme.test, Robin <robin@example.net>',
        'Cc: boss@example.net',
        'Subject: =?UTF-8?Q?Printer_=C3=A0_feu?=',
        'Message-ID: <first-1@example.net>',
        'MIME-Version: 1.0',
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        'It started smoking this morning.',
        `--${boundary}`,
        'Content-Type: application/pdf; name="invoice.pdf"',
        'Content-Disposition: attachment; filename="invoice.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('%PDF-1.4 pretend').toString('base64'),
        `--${boundary}--`,
        '',
      ].join('\r\n'),
    );
    const res = await postMail(app, raw);
    assert.equal(res.statusCode, 201, res.body);
    const result = res.json();
    assert.equal(result.outcome, 'ticket_created');
    assert.equal(result.brand_id, brand.id);
    const ticket = (await app.request({ method: 'GET', url: `/v1/tickets/${result.ticket_id}` })).json();
    assert.equal(ticket.origin, 'email');
    assert.equal(ticket.subject, 'Printer à feu');
    assert.equal(ticket.description, 'It started smoking this morning.');
    assert.deepEqual(ticket.customer, { email: 'casey@example.net', name: 'Casey Customer' });
    assert.deepEqual(
      ticket.participants.map((p: { email: string; role: string }) => `${p.role}:${p.email}`),
      ['customer:casey@example.net', 'cc:robin@example.net', 'cc:boss@example.net'],
    );
    const [first] = ticket.messages;
    assert.equal(first.id, result.message_id);
    assert.equal(first.author_type, 'customer');
    assert.equal(first.visibility, 'public');
    assert.equal(first.delivery, null);
    assert.deepEqual(
      first.attachments.map((a: { file_name: string; content_type: string }) => `${a.file_name} ${a.content_type}`),
      ['invoice.pdf application/pdf', 'original.eml message/rfc822'],
    );
    const pdf = await app.app.inject({ method: 'GET', url: new URL(first.attachments[0].download_url).pathname });
    assert.equal(pdf.body, '%PDF-1.4 pretend');
    assert.equal(pdf.headers['content-disposition']?.toString().startsWith('attachment'), true);
    const original = await app.app.inject({ method: 'GET', url: new URL(first.attachments[1].download_url).pathname });
    assert.deepEqual(original.rawPayload, raw, 'the raw message is kept byte for byte');

    // The same mail again (its sender never saw our answer) is recognised, not a second ticket.
    const again = await postMail(app, raw);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().outcome, 'duplicate');
    assert.equal(again.json().ticket_id, result.ticket_id);
    assert.equal(await countRows(app, 'tickets'), 1);
  });

  it('HTML-only mail becomes readable text', async (t) => {
    const app = await build(t);
    await brandWithAddresses(app, ['support@acme.test']);
    const raw = rawMail({
      headers: { 'Content-Type': 'text/html; charset=utf-8' },
      body: '<html><head><style>p{color:red}</style></head><body><p>Hello <b>team</b>,</p><p>see <a href="https://example.net/x">this page</a><img src="cid:logo"></p></body></html>',
    });
    const res = await postMail(app, raw);
    assert.equal(res.statusCode, 201, res.body);
    const ticket = (await app.request({ method: 'GET', url: `/v1/tickets/${res.json().ticket_id}` })).json();
    assert.equal(ticket.description, 'Hello team,\n\nsee this page [https://example.net/x]');
  });

  it('needs the email:ingest scope, and a brand-restricted token only takes mail for its brands', async (t) => {
    const app = await build(t);
    const a = await brandWithAddresses(app, ['support@acme.test']);
    const b = await brandWithAddresses(app, ['hello@beta.test']);
    assertProblem(await postMail(app, rawMail(), await app.token(['tickets:write'])), 403, 'forbidden');
    const ingestA = await app.token(['email:ingest'], [a.id]);
    const other = assertProblem(await postMail(app, rawMail({ to: 'hello@beta.test' }), ingestA), 422, 'validation_failed');
    assert.equal(other.errors[0].pointer, '/to');
    assert.equal(await countRows(app, 'tickets'), 0);
    const ok = await postMail(app, rawMail(), ingestA);
    assert.equal(ok.statusCode, 201, ok.body);
    const ingestB = await app.token(['email:ingest'], [b.id]);
    assert.equal((await postMail(app, rawMail({ to: 'hello@beta.test' }), ingestB)).statusCode, 201);
  });

  it('refuses what it cannot take with a problem and stores nothing', async (t) => {
    const app = await build(t, { env: { NEXUS_SMTP_MAX_BYTES: '4096' } });
    await brandWithAddresses(app, ['support@acme.test']);
    const unknown = assertProblem(await postMail(app, rawMail({ to: 'nobody@elsewhere.test' })), 422, 'validation_failed');
    assert.equal(unknown.errors[0].pointer, '/to');
    const noFrom = assertProblem(await postMail(app, rawMail({ from: null })), 422, 'validation_failed');
    assert.equal(noFrom.errors[0].pointer, '/from');
    assertProblem(await postMail(app, rawMail(), undefined, 'text/plain'), 415);
    assertProblem(await postMail(app, rawMail({ body: 'x'.repeat(5000) })), 413, 'payload_too_large');
    assertProblem(await postMail(app, Buffer.alloc(0)), 422);
    for (const table of ['tickets', 'messages', 'events'] as const) assert.equal(await countRows(app, table), 0, table);
    const attachments = await app.runtime.db.selectFrom('attachments').selectAll().execute();
    assert.equal(attachments.length, 0);
  });
});
