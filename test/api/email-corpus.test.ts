import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helpers/app.js';
import { brandWithAddresses, fixture, postMail, rawMail } from '../helpers/email.js';
import { assertProblem, countRows } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

interface Expected {
  subject: string;
  customer: { email: string; name: string | null };
  description: string | RegExp;
  /** The untrimmed text, when the stored body is trimmed; null when nothing was trimmed. */
  full_body?: RegExp | null;
  attachments: string[];
}

/** Real-world shaped messages (test/fixtures/email/*.eml) and the tickets they must become. */
const CORPUS: Record<string, Expected> = {
  'multipart-alternative.eml': {
    subject: 'Order 10021 arrived damaged',
    customer: { email: 'dana@example.org', name: 'Dana Buyer' },
    description: 'The box was crushed and the mug is broken.',
    attachments: ['original.eml message/rfc822'],
  },
  'html-only.eml': {
    subject: 'Unsubscribe me',
    customer: { email: 'newsletter-hater@example.org', name: null },
    description: 'Please unsubscribe me.\n * from everything\n * today',
    attachments: ['original.eml message/rfc822'],
  },
  'inline-image.eml': {
    subject: 'Screenshot of the error',
    customer: { email: 'eli@example.org', name: 'Eli' },
    description: 'See the error:\n\nThanks',
    attachments: ['shot.png image/png', 'original.eml message/rfc822'],
  },
  'attachments.eml': {
    subject: 'Two files',
    customer: { email: 'finance@example.org', name: 'Finance' },
    description: 'Invoice and export attached.',
    attachments: ['invoice.pdf application/pdf', 'éxport.csv text/csv', 'original.eml message/rfc822'],
  },
  'quoted-printable.eml': {
    subject: 'Café order',
    customer: { email: 'fran@example.org', name: 'Fran' },
    description: 'I ordered a café crème and this is a very long line that is soft-wrapped by the encoder.',
    attachments: ['original.eml message/rfc822'],
  },
  'iso-8859-1.eml': {
    subject: 'Problème de facture',
    customer: { email: 'gregoire@example.fr', name: 'Grégoire' },
    description: 'Ma facture est erronée: le montant dû est 12,50 EUR.',
    attachments: ['original.eml message/rfc822'],
  },
  'shift-jis.eml': {
    subject: '注文について',
    customer: { email: 'hana@example.jp', name: 'Hana' },
    description: '注文した商品がまだ届きません。',
    attachments: ['original.eml message/rfc822'],
  },
  'forwarded.eml': {
    subject: 'Fwd: Refund request',
    customer: { email: 'ivan@partner.example', name: 'Ivan Agent' },
    // Forwarded mail is never trimmed: what was forwarded is the point.
    description: /^Forwarding this to the right team\.\n\n-+ Forwarded message -+\n[\s\S]*I would like a refund for order 10021\.$/,
    full_body: null,
    attachments: ['original.eml message/rfc822'],
  },
  'outlook-reply.eml': {
    subject: 'RE: Your ticket',
    customer: { email: 'kim@example.org', name: 'Kim' },
    description: 'Thanks, that fixed it.\n\nKim',
    full_body: /_{10,}\nFrom: Acme Support[\s\S]*Please restart the router\.$/,
    attachments: ['original.eml message/rfc822'],
  },
  'gmail-reply.eml': {
    subject: 'Re: Your ticket',
    customer: { email: 'lee@example.org', name: 'Lee' },
    description: 'Still broken, sorry.',
    full_body: /-- \nLee, Example Org\n\nOn Mon, 12 Jan 2026 at 10:00, Acme Support <support@acme\.test>\nwrote:\n> Please restart the router\./,
    attachments: ['original.eml message/rfc822'],
  },
  // Bad mail: accepted as a mail server would, stored as well as can be.
  'malformed-mime.eml': {
    subject: 'Broken structure',
    customer: { email: 'nat@example.org', name: 'Nat' },
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting no control characters survive
    description: /^[^\u0000-\u0008\u000b-\u001f]+$/,
    attachments: ['x.bin application/octet-stream', 'original.eml message/rfc822'],
  },
  'unknown-charset.eml': {
    subject: 'Strange charset',
    customer: { email: 'oz@example.org', name: 'Oz' },
    description: /^Plain words survive .*\.$/,
    attachments: ['original.eml message/rfc822'],
  },
  '8bit-headers.eml': {
    subject: 'Grüße aus Köln',
    customer: { email: 'zoe@example.org', name: 'Zoë Ünicode' },
    description: 'Raw UTF-8 in the headers.',
    attachments: ['original.eml message/rfc822'],
  },
};

describe('a corpus of real-world shaped mail', () => {
  it('each message becomes the expected ticket', async (t) => {
    const app = await build(t);
    const brand = await brandWithAddresses(app, ['support@acme.test']);
    for (const [file, expected] of Object.entries(CORPUS)) {
      const res = await postMail(app, fixture(file));
      assert.equal(res.statusCode, 201, `${file}: ${res.body}`);
      assert.equal(res.json().outcome, 'ticket_created', file);
      const ticket: Json = (await app.request({ method: 'GET', url: `/v1/tickets/${res.json().ticket_id}` })).json();
      assert.equal(ticket.brand_id, brand.id);
      assert.equal(ticket.origin, 'email', file);
      assert.equal(ticket.subject, expected.subject, file);
      assert.deepEqual(ticket.customer, expected.customer, file);
      if (typeof expected.description === 'string') assert.equal(ticket.description, expected.description, file);
      else assert.match(ticket.description, expected.description, file);
      const [first] = ticket.messages;
      assert.equal(first.body, ticket.description, `${file}: the first message is the description`);
      if (expected.full_body) assert.match(first.full_body, expected.full_body, file);
      else assert.equal(first.full_body, null, file);
      assert.deepEqual(
        first.attachments.map((a: Json) => `${a.file_name} ${a.content_type}`),
        expected.attachments,
        file,
      );
    }
    assert.equal(await countRows(app, 'tickets'), Object.keys(CORPUS).length);
  });

  it('a DSN bounce and an out-of-office never become tickets', async (t) => {
    const app = await build(t);
    await brandWithAddresses(app, ['support@acme.test']);
    const bounce = await postMail(app, fixture('dsn-bounce.eml'));
    assert.equal(bounce.statusCode, 200, bounce.body);
    assert.equal(bounce.json().outcome, 'bounce');
    const away = await postMail(app, fixture('out-of-office.eml'));
    assert.equal(away.statusCode, 200);
    assert.equal(away.json().outcome, 'ignored');
    for (const headers of [{ Precedence: 'bulk' }, { 'X-Autoreply': 'yes' }, { 'Return-Path': '<>' }]) {
      const res = await postMail(app, rawMail({ headers }));
      assert.equal(res.json().outcome, headers['Return-Path' as keyof typeof headers] ? 'bounce' : 'ignored', JSON.stringify(headers));
    }
    const daemon = await postMail(app, rawMail({ from: 'postmaster@example.net' }));
    assert.equal(daemon.json().outcome, 'bounce');
    assert.equal(await countRows(app, 'tickets'), 0);
    // Each is on record, raw bytes kept, for audit.
    const rows = await app.runtime.db.selectFrom('inbound_emails').selectAll().execute();
    assert.equal(rows.length, 6);
    assert.ok(rows.every((r) => r.raw_storage_key));
  });

  it('the per-sender limit refuses a mail storm with a 429 that stores nothing', async (t) => {
    const app = await build(t, { env: { NEXUS_MAIL_SENDER_LIMIT: '2' } });
    await brandWithAddresses(app, ['support@acme.test']);
    for (let i = 0; i < 2; i++) assert.equal((await postMail(app, rawMail({ subject: `Storm ${i}` }))).statusCode, 201);
    const tickets = await countRows(app, 'tickets');
    const attachments = (await app.runtime.db.selectFrom('attachments').select('id').execute()).length;
    const refused = assertProblem(await postMail(app, rawMail({ subject: 'Storm 3' })), 429, 'rate_limited');
    assert.match(refused.detail, /casey@example\.net/);
    assert.equal(await countRows(app, 'tickets'), tickets);
    assert.equal((await app.runtime.db.selectFrom('attachments').select('id').execute()).length, attachments);
    // Another sender is not affected; the limit lifts after an hour.
    assert.equal((await postMail(app, rawMail({ from: 'other@example.net' }))).statusCode, 201);
    app.clock.advance(61 * 60_000);
    assert.equal((await postMail(app, rawMail({ subject: 'Later' }))).statusCode, 201);
  });
});

describe('bounces', () => {
  it('a DSN is a bounce by its report type alone, whoever sends it', async (t) => {
    const app = await build(t);
    await brandWithAddresses(app, ['support@acme.test']);
    const dsn = rawMail({
      from: 'Postmaster Service <bounces@mx.example.org>',
      headers: { 'Content-Type': 'multipart/report;\r\n report-type=delivery-status; boundary="b"' },
      body: '--b\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.0.0\r\n--b--\r\n',
    });
    const res = await postMail(app, dsn);
    assert.equal(res.json().outcome, 'bounce', res.body);
    assert.equal(await countRows(app, 'tickets'), 0);
  });
});
