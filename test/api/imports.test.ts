/**
 * `nexus import` and the import service over the real app and database: Zendesk's and Freshdesk's
 * export shapes (fixtures in test/fixtures/import/) and our own jsonl mapped into brands, tickets
 * with their own timestamps, messages, customers and tags; searchable; no webhook events unless
 * asked; idempotent (run twice) and resumable (a process killed mid-import, then run again).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type TestApp, build } from '../helpers/app.js';
import { countRows, createBrand, createTicket } from '../helpers/factories.js';
import { ROOT } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';
import { runNexus } from '../helpers/cli-process.js';

// biome-ignore lint/suspicious/noExplicitAny: API bodies are read as loose JSON; the assertions check their shape
type Json = any;

const FIXTURES = path.join(ROOT, 'test/fixtures/import');

async function counts(app: TestApp) {
  return {
    tickets: await countRows(app, 'tickets'),
    messages: await countRows(app, 'messages'),
    audit: await countRows(app, 'audit_entries'),
    events: await countRows(app, 'events'),
    brands: await countRows(app, 'brands'),
  };
}

const getJson = async (app: TestApp, url: string): Promise<Json> => {
  const res = await app.request({ method: 'GET', url });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
};

function scratch(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-import-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('ticket import', () => {
  it('maps a Zendesk export (users file) into brands, tickets with their own timestamps, messages, customers and tags; searchable; no events; run twice: nothing duplicated', async (t) => {
    const app = await build(t);
    const imports = app.runtime.services.imports;
    const options = { source: 'zendesk' as const, file: path.join(FIXTURES, 'zendesk-tickets.jsonl'), usersFile: path.join(FIXTURES, 'zendesk-users.jsonl') };
    const eventsBefore = await countRows(app, 'events');
    const summary = await imports.run(options);
    assert.equal(summary.records, 4);
    assert.equal(summary.imported, 3);
    assert.equal(summary.skipped, 1);
    assert.deepEqual(summary.skipped_examples, [
      { position: 3, external_id: 'acme.zendesk.com/103', reason: "the requester's email is unknown (pass Zendesk's users export with --users)" },
    ]);
    assert.deepEqual(summary.brands_created.sort(), ['brand_zendesk_360011', 'brand_zendesk_360012']);
    assert.deepEqual(summary.dropped_by_reason, {
      'attachment referenced but not imported (the export holds no bytes)': 1,
      "private comment by the customer skipped (only an agent's message can be an internal note)": 1,
    });
    assert.equal(await countRows(app, 'events'), eventsBefore, 'historic tickets fire no webhooks');

    const list = await getJson(app, '/v1/tickets?brand_id=brand_zendesk_360011');
    const refund = list.data.find((x: Json) => x.subject === 'Refund for a damaged blender');
    assert.ok(refund, JSON.stringify(list.data));
    assert.equal(refund.status, 'resolved');
    assert.equal(refund.priority, 'high');
    assert.equal(refund.origin, 'email');
    assert.equal(refund.created_at, '2023-03-01T09:15:00Z');
    assert.equal(refund.updated_at, '2023-03-02T16:40:00Z');
    assert.equal(refund.first_response_at, '2023-03-01T12:30:00Z');
    assert.equal(refund.assigned_to, 'sam@acme-support.example');
    assert.deepEqual(refund.customer, { email: 'maria.gomez@example.com', name: 'Maria Gomez' });
    assert.deepEqual(refund.tags, ['refund', 'damaged_goods']);
    const detail = await getJson(app, `/v1/tickets/${refund.id}`);
    assert.deepEqual(
      detail.messages.map((m: Json) => [m.author_type, m.visibility, m.author?.email ?? null, m.created_at, m.body]),
      [
        ['customer', 'public', 'maria.gomez@example.com', '2023-03-01T09:15:00Z', 'My blender arrived with a cracked jug. I would like a refund.'],
        ['agent', 'internal', 'sam@acme-support.example', '2023-03-01T11:00:00Z', 'Customer is a repeat buyer, approve the refund.'],
        ['agent', 'public', 'sam@acme-support.example', '2023-03-01T12:30:00Z', 'Sorry about that! Your refund of $89 is on its way.'],
        ['customer', 'public', 'maria.gomez@example.com', '2023-03-02T16:40:00Z', 'Thanks, received it.'],
      ],
      'a private comment (public: false) is an internal note',
    );
    assert.deepEqual(
      detail.messages.map((m: Json) => m.delivery),
      [null, null, null, null],
      'history is never e-mailed',
    );
    assert.deepEqual(
      refund.metadata,
      {
        imported_from: 'zendesk',
        zendesk_id: '101',
        zendesk_type: 'problem',
        zendesk_custom_fields: { '360002': 'blender', '360004': ['warranty', 'in_store'] },
      },
      'custom fields with a value are kept in metadata, by field id',
    );
    assert.deepEqual(
      detail.audit_trail.map((a: Json) => [a.action, a.actor.name]),
      [['ticket.imported', 'nexus import']],
    );
    const hold = list.data.find((x: Json) => x.subject === 'How do I reset the timer?');
    assert.equal(hold.status, 'pending');
    assert.equal(hold.priority, 'normal');
    assert.equal(hold.metadata.zendesk_custom_fields, undefined, 'no custom field, no key');
    assert.deepEqual(
      (await getJson(app, `/v1/tickets/${hold.id}`)).messages.map((m: Json) => [m.author_type, m.visibility]),
      [
        ['customer', 'public'],
        ['agent', 'public'],
      ],
      "the customer's comment an agent made private is left out, neither published nor turned into an agent's note",
    );
    const toaster = (await getJson(app, '/v1/tickets?brand_id=brand_zendesk_360012')).data[0];
    assert.deepEqual(
      toaster.customer,
      { email: 'pat.doe@example.net', name: 'Pat Doe' },
      'the email channel’s from address stands in for a requester not in the users file',
    );

    const search = await app.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'cracked jug blender', mode: 'keyword' } });
    assert.equal(search.statusCode, 200, search.body);
    assert.equal(search.json().data[0]?.ticket.id, refund.id, 'imported tickets are searchable');

    const before = await counts(app);
    assert.equal(before.messages, 4 + 2 + 1);
    const again = await imports.run(options);
    assert.equal(again.imported, 0);
    assert.equal(again.already_imported, 3);
    assert.deepEqual(await counts(app), before, 'a second run adds nothing');
    assert.deepEqual(
      (await getJson(app, `/v1/tickets/${refund.id}`)).messages.map((m: Json) => m.visibility),
      ['public', 'internal', 'public', 'public'],
    );
  });

  it('maps Freshdesk tickets with conversations (status and priority codes, incoming and outgoing, private notes as internal notes, custom fields); --emit-events records what live writes would', async (t) => {
    const app = await build(t);
    const eventsBefore = await countRows(app, 'events');
    const options = { source: 'freshdesk' as const, file: path.join(FIXTURES, 'freshdesk-tickets.json'), emitEvents: true };
    const summary = await app.runtime.services.imports.run(options);
    assert.equal(summary.imported, 2);
    assert.deepEqual(
      summary.skipped_examples.map((s) => [s.external_id, s.reason]),
      [['22', "the requester's email is unknown (fetch tickets with include=requester, or pass contacts with --users)"]],
    );

    const invoice = (await getJson(app, '/v1/tickets?brand_id=brand_freshdesk_default')).data[0];
    assert.equal(invoice.status, 'resolved');
    assert.equal(invoice.priority, 'normal');
    assert.equal(invoice.origin, 'email');
    assert.deepEqual(invoice.tags, ['billing', 'vat']);
    assert.deepEqual(
      invoice.metadata,
      { imported_from: 'freshdesk', freshdesk_id: '20', freshdesk_type: 'Question' },
      'a custom field without a value adds nothing',
    );
    assert.equal(invoice.first_response_at, '2023-08-01T14:00:00Z');
    const detail = await getJson(app, `/v1/tickets/${invoice.id}`);
    assert.deepEqual(
      detail.messages.map((m: Json) => [m.author_type, m.visibility, m.author?.email ?? null, m.body, m.cc]),
      [
        ['customer', 'public', 'jonas@berg-logistics.example', 'Our invoice INV-3391 shows an old VAT number.', ['ap@berg-logistics.example']],
        ['agent', 'public', 'billing@acme.example', 'Thanks Jonas, we have corrected it. The new invoice is attached.', []],
        ['agent', 'internal', null, 'Escalated to finance for the ledger fix.', []],
        ['customer', 'public', 'jonas@berg-logistics.example', 'Perfect, thank you!', ['ap@berg-logistics.example']],
      ],
      'a private conversation is an internal note',
    );
    const login = (await getJson(app, '/v1/tickets?brand_id=brand_freshdesk_43000077')).data[0];
    assert.equal(login.status, 'pending', 'a custom status (6) is pending');
    assert.equal(login.priority, 'urgent');
    assert.equal(login.origin, 'web');
    assert.equal(login.customer.email, 'priya.nair@example.com');
    assert.deepEqual(login.metadata.freshdesk_custom_fields, { cf_order_number: 'ORD-5521', cf_warranty: true }, 'custom fields with a value, by name');

    // A live create records ticket.created (its description is the opening message) and each later
    // message a ticket.message_created: the import records the same, dated now, carrying the ticket as imported.
    const events = (await getJson(app, '/v1/events?limit=20')).data;
    assert.equal(await countRows(app, 'events'), eventsBefore + events.length);
    const invoiceMessages = detail.messages.map((m: Json) => m.id);
    const byTicket = (id: string) =>
      events.filter((e: Json) => e.data.ticket.id === id).map((e: Json) => [e.type, e.data.message?.id ?? null, e.data.message?.visibility ?? null]);
    assert.deepEqual(byTicket(invoice.id), [
      ['ticket.created', null, null],
      ['ticket.message_created', invoiceMessages[1], 'public'],
      ['ticket.message_created', invoiceMessages[2], 'internal'],
      ['ticket.message_created', invoiceMessages[3], 'public'],
    ]);
    assert.deepEqual(byTicket(login.id), [['ticket.created', null, null]], 'a ticket of its description only: one ticket.created');
    assert.equal(events.length, 5);
    for (const e of events) assert.equal(e.data.ticket.status, e.data.ticket.id === invoice.id ? 'resolved' : 'pending', 'the ticket as imported');
    assert.equal(
      events.find((e: Json) => e.data.message?.id === invoiceMessages[3]).data.message.created_at,
      '2023-08-02T15:00:00Z',
      'the message keeps its own time',
    );

    const before = await counts(app);
    const again = await app.runtime.services.imports.run(options);
    assert.equal(again.already_imported, 2);
    assert.deepEqual(await counts(app), before, 'a second run adds nothing, events included');
  });

  it('custom fields that would take the metadata over its limit are left out, counted, and the ticket imported without them', async (t) => {
    const app = await build(t);
    const file = path.join(scratch(t), 'zendesk-big-fields.jsonl');
    const ticket = (id: number, fields: unknown[]) => ({
      url: `https://acme.zendesk.com/api/v2/tickets/${id}.json`,
      id,
      via: { channel: 'email', source: { from: { address: 'kim@example.com', name: 'Kim' } } },
      created_at: '2023-07-01T10:00:00Z',
      updated_at: '2023-07-01T10:00:00Z',
      subject: `Ticket ${id}`,
      description: 'Hello',
      status: 'open',
      requester_id: 7001,
      brand_id: 360011,
      tags: [],
      custom_fields: fields,
      comments: [{ id: id * 10, author_id: 7001, body: 'Hello', plain_body: 'Hello', public: true, created_at: '2023-07-01T10:00:00Z' }],
    });
    fs.writeFileSync(
      file,
      [ticket(201, [{ id: 1, value: 'x'.repeat(5000) }]), ticket(202, [{ id: 2, value: 'small' }])].map((r) => JSON.stringify(r)).join('\n'),
    );
    const summary = await app.runtime.services.imports.run({ source: 'zendesk', file });
    assert.equal(summary.imported, 2);
    assert.deepEqual(summary.dropped_by_reason, { 'custom fields left out: with them the metadata would exceed its limits (4096 bytes, 32 levels)': 1 });
    const tickets = (await getJson(app, '/v1/tickets?brand_id=brand_zendesk_360011')).data;
    const bySubject = Object.fromEntries(tickets.map((x: Json) => [x.subject, x.metadata]));
    assert.deepEqual(bySubject['Ticket 201'], { imported_from: 'zendesk', zendesk_id: '201' });
    assert.deepEqual(bySubject['Ticket 202'], { imported_from: 'zendesk', zendesk_id: '202', zendesk_custom_fields: { '2': 'small' } });
  });

  it('round trip: our jsonl export imported into an empty database reproduces the tickets byte for byte; into the same database it adds nothing', async (t) => {
    const source = await build(t);
    const brand = await createBrand(source, { name: 'Round Trip' });
    const a = await createTicket(source, brand.id, { subject: 'Kettle leaks', tags: ['kettle', 'leak'], priority: 'high', metadata: { order: 7 } });
    await source.request({
      method: 'POST',
      url: `/v1/tickets/${a.id}/messages`,
      body: { author_type: 'agent', body: 'Sending a new seal', author: { email: 'agent@rt.example', name: 'Agent' }, cc: ['cc@example.com'] },
    });
    source.clock.advance(1000);
    const note = await source.request({
      method: 'POST',
      url: `/v1/tickets/${a.id}/messages`,
      body: { author_type: 'agent', visibility: 'internal', body: 'Seal out of stock until Friday', author: { email: 'agent@rt.example' } },
    });
    assert.equal(note.statusCode, 201, note.body);
    source.clock.advance(60_000);
    await source.request({
      method: 'PATCH',
      url: `/v1/tickets/${a.id}`,
      body: { status: 'snoozed', snoozed_until: '2026-02-01T00:00:00Z', assigned_to: 'agent@rt.example' },
    });
    await createTicket(source, brand.id, { subject: 'Second ticket', description: '' });
    const exported = (await source.request({ method: 'GET', url: '/v1/exports/tickets.jsonl' })).body;
    const dir = scratch(t);
    const file = path.join(dir, 'export.jsonl');
    fs.writeFileSync(file, exported);

    const target = await build(t);
    const summary = await target.runtime.services.imports.run({ source: 'jsonl', file });
    assert.equal(summary.imported, 2);
    assert.deepEqual(summary.brands_created, [brand.id]);
    const reexported = (await target.request({ method: 'GET', url: '/v1/exports/tickets.jsonl' })).body;
    assert.equal(reexported, exported);
    const detail = await getJson(target, `/v1/tickets/${a.id}`);
    assert.deepEqual(
      detail.messages.map((m: Json) => m.visibility),
      ['public', 'public', 'internal'],
      'an internal note stays internal',
    );
    assert.equal(detail.status, 'snoozed');
    assert.equal(detail.snoozed_until, '2026-02-01T00:00:00Z');

    const before = await counts(source);
    const same = await source.runtime.services.imports.run({ source: 'jsonl', file });
    assert.equal(same.imported, 0);
    assert.equal(same.skipped_by_reason['a ticket with this id exists already in this database'], 2);
    assert.deepEqual(await counts(source), before);
  });

  it('skips what it cannot take, saying why, and imports the rest: lines that are not JSON, records that break a limit, a ticket twice in the file', async (t) => {
    const app = await build(t);
    const brand = await createBrand(app);
    const good = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      brand_id: brand.id,
      subject: 'Fine',
      description: 'ok',
      status: 'open',
      priority: 'normal',
      origin: 'api',
      tags: [],
      customer: { email: 'ok@example.com', name: null },
      metadata: {},
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z',
      messages: [],
      audit_trail: [],
      ...extra,
    });
    const file = path.join(scratch(t), 'mixed.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify(good('tick_01hkmtq5g0aaaaaaaaaaaaaaaa')),
        '{"id": broken',
        JSON.stringify(good('tick_01hkmtq5g0bbbbbbbbbbbbbbbb', { subject: '   ' })),
        JSON.stringify(good('tick_01hkmtq5g0cccccccccccccccc', { customer: { email: 'not-an-address' } })),
        JSON.stringify(
          good('tick_01hkmtq5g0dddddddddddddddd', {
            messages: [{ id: 'msg_01hkmtq5g0dddddddddddddddd', author_type: 'customer', body: 'x'.repeat(70_000), cc: [], created_at: '2024-01-01T00:00:00Z' }],
          }),
        ),
        JSON.stringify(good('tick_01hkmtq5g0aaaaaaaaaaaaaaaa')),
        JSON.stringify({ hello: 'world' }),
        JSON.stringify(
          good('tick_01hkmtq5g0eeeeeeeeeeeeeeee', {
            messages: [
              { id: 'msg_01hkmtq5g0eeeeeeeeeeeeeeee', author_type: 'customer', visibility: 'internal', body: 'x', cc: [], created_at: '2024-01-01T00:00:00Z' },
            ],
          }),
        ),
        JSON.stringify(
          good('tick_01hkmtq5g0ffffffffffffffff', {
            messages: [
              { id: 'msg_01hkmtq5g0ffffffffffffffff', author_type: 'agent', visibility: 'secret', body: 'x', cc: [], created_at: '2024-01-01T00:00:00Z' },
            ],
          }),
        ),
      ].join('\n'),
    );
    const summary = await app.runtime.services.imports.run({ source: 'jsonl', file });
    assert.equal(summary.records, 9);
    assert.equal(summary.imported, 1);
    assert.equal(summary.skipped, 8);
    assert.deepEqual(
      summary.skipped_examples.map((s) => [s.position, s.reason]),
      [
        [2, 'not JSON'],
        [7, 'not a ticket of a NexusCore export (id, brand_id, customer, created_at or messages missing)'],
        [6, 'the same ticket appears earlier in the file'],
        [3, 'the subject is blank'],
        [4, 'the customer email "not-an-address" is not an address'],
        [5, 'message 0 is larger than 65536 bytes'],
        [8, 'message 0 is an internal note by a customer (only an agent message can be internal)'],
        [9, 'message 0 has an unknown visibility "secret"'],
      ],
    );
    assert.equal(await countRows(app, 'tickets'), 1);
    assert.equal(await countRows(app, 'messages'), 0);
  });

  it('a process killed mid-import is completed by running it again, with every ticket exactly once', async (t) => {
    const app = await build(t);
    const brand = await createBrand(app, { id: 'brand_resume', name: 'Resume' });
    const total = 1500;
    const file = path.join(scratch(t), 'big.jsonl');
    const out = fs.createWriteStream(file);
    for (let i = 0; i < total; i++) {
      const id = `tick_01hkmtq5g0${String(i).padStart(16, '0')}`;
      const at = new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString();
      out.write(
        `${JSON.stringify({
          id,
          brand_id: brand.id,
          brand_name: 'Resume',
          subject: `Imported ${i}`,
          description: `Question number ${i}`,
          status: 'open',
          priority: 'normal',
          origin: 'email',
          tags: ['resume'],
          customer: { email: `c${i}@example.com`, name: null },
          metadata: {},
          created_at: at,
          updated_at: at,
          messages: [{ id: `msg_01hkmtq5g0${String(i).padStart(16, '0')}`, author_type: 'customer', body: `Question number ${i}`, cc: [], created_at: at }],
          audit_trail: [],
        })}\n`,
      );
    }
    await new Promise((resolve) => out.end(resolve));

    const first = runNexus(t, app, ['import', '--from', 'jsonl', file, '--batch-size', '25']);
    const recorded = async () =>
      Number(
        (
          await app.runtime.db
            .selectFrom('import_records')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    await waitFor('the import has committed some batches', 120_000, async () => ((await recorded()) >= 100 ? true : undefined));
    first.child.kill('SIGKILL');
    await first.done;
    const partial = await recorded();
    assert.ok(partial < total, `killed before the end (${partial} of ${total})`);
    assert.equal(await countRows(app, 'tickets'), partial, 'each committed batch holds its tickets and their records together');

    const second = await runNexus(t, app, ['import', '--from', 'jsonl', file, '--json']).done;
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.already_imported, partial);
    assert.equal(summary.imported, total - partial);
    assert.equal(summary.skipped, 0);
    assert.match(second.stderr, /import jsonl \[.*\] 100% 1500\/1500 records/);
    assert.equal(await countRows(app, 'tickets'), total);
    assert.equal(await countRows(app, 'messages'), total);
    assert.equal(await recorded(), total);
  });

  it('the CLI refuses a bad invocation with a usage line and stores nothing; a missing --brand is an error naming it', async (t) => {
    const app = await build(t);
    const before = await counts(app);
    const zendesk = path.join(FIXTURES, 'zendesk-tickets.jsonl');
    for (const args of [
      ['import', '--from', 'helpscout', zendesk],
      ['import', '--from', 'zendesk'],
      ['import', '--from', 'zendesk', '/nonexistent/file.jsonl'],
    ]) {
      const run = await runNexus(t, app, args).done;
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /import needs --from|no such file/);
    }
    const missing = await runNexus(t, app, ['import', '--from', 'zendesk', zendesk, '--brand', 'brand_missing']).done;
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /brand_missing does not exist/);
    assert.deepEqual(await counts(app), before);

    const into = await createBrand(app, { id: 'brand_target', name: 'Target' });
    const run = await runNexus(t, app, ['import', '--from', 'zendesk', zendesk, '--users', path.join(FIXTURES, 'zendesk-users.jsonl'), '--brand', into.id])
      .done;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported 3, already imported 0, skipped 1/);
    assert.match(run.stdout, /skipped 1: the requester's email is unknown/);
    assert.equal((await getJson(app, `/v1/tickets?brand_id=${into.id}`)).data.length, 3, '--brand puts every ticket in the one brand');
  });
});
