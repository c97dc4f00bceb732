/**
 * `last_message_preview`: the first line of the ticket's latest message that is not an internal
 * note, kept by every write of a message (create, reply, import, merge) and shown the same by the
 * list, the retrieve, the events and the export; and migration 0017's backfill of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backfillPreviews } from '../../src/db/migrations/0017-last-message-preview.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

describe('last_message_preview', () => {
  let t: TestApp;
  let A: string;
  before(async () => {
    t = await buildTestApp();
    A = (await createBrand(t)).id;
  });
  after(() => t.close());

  const get = async (id: string): Promise<Json> => {
    const res = await t.request({ method: 'GET', url: `/v1/tickets/${id}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  const listed = async (id: string): Promise<Json> => {
    const res = await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${A}&limit=100` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().data.find((x: Json) => x.id === id);
  };
  /** The preview as the retrieve and the list show it: the same in both. */
  const preview = async (id: string): Promise<string | null> => {
    const [one, inList] = [await get(id), await listed(id)];
    assert.equal(inList.last_message_preview, one.last_message_preview, 'the list and the retrieve agree');
    return one.last_message_preview;
  };
  const reply = async (id: string, body: Record<string, unknown>): Promise<Json> => {
    const res = await t.request({ method: 'POST', url: `/v1/tickets/${id}/messages`, body });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  };

  it('is the first non-blank line of the description on create, whitespace collapsed; null without a description', async () => {
    const created = await createTicket(t, A, { description: '\n  \n  Hello,\t\tmy   order\u00a0is late  \nSecond line\nThird' });
    assert.equal(created.last_message_preview, 'Hello, my order is late');
    assert.equal(await preview(created.id), 'Hello, my order is late');
    const bare = await createTicket(t, A, { description: undefined });
    assert.equal(bare.last_message_preview, null);
    assert.equal(await preview(bare.id), null);
  });

  it("follows each public reply, the agent's and the customer's, and an internal note leaves it as it was", async () => {
    const ticket = await createTicket(t, A, { description: 'Where is my parcel?' });
    const eventsBefore = await t.runtime.db.selectFrom('events').select('id').where('ticket_id', '=', ticket.id).execute();
    await reply(ticket.id, { author_type: 'agent', body: 'It left the warehouse today.\nTracking: 123' });
    assert.equal(await preview(ticket.id), 'It left the warehouse today.');
    const etag = async () => (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).headers.etag;
    const before = await etag();
    await reply(ticket.id, { author_type: 'agent', visibility: 'internal', body: 'Note: the courier is slow this week' });
    assert.equal(await preview(ticket.id), 'It left the warehouse today.');
    // The note is still a change of the ticket's representation (its conversation).
    assert.notEqual(await etag(), before);
    await reply(ticket.id, { author_type: 'customer', body: 'Thanks!' });
    assert.equal(await preview(ticket.id), 'Thanks!');
    // The events carry the ticket as it is after the message, preview included.
    const events = await t.runtime.db
      .selectFrom('events')
      .select(['type', 'data'])
      .where('ticket_id', '=', ticket.id)
      .where(
        'id',
        'not in',
        eventsBefore.map((e) => e.id),
      )
      .orderBy('id')
      .execute();
    const previews = events.filter((e) => e.type === 'ticket.message_created').map((e) => JSON.parse(e.data).ticket.last_message_preview);
    assert.deepEqual(previews, ['It left the warehouse today.', 'It left the warehouse today.', 'Thanks!']);
  });

  it('reads an HTML body as text: tags dropped, entities decoded, blocks as lines, links without their address', async () => {
    const ticket = await createTicket(t, A, {
      description:
        '<html><head><style>p { color: red }</style></head><body><div> </div><p>Hi <b>Jos&eacute;</b>, see <a href="https://x.example/very/long">the guide</a></p><p>Second</p></body></html>',
    });
    assert.equal(await preview(ticket.id), 'Hi José, see the guide');
    await reply(ticket.id, { author_type: 'agent', body: '<h1>Order shipped</h1><p>details</p>' });
    assert.equal(await preview(ticket.id), 'Order shipped');
    await reply(ticket.id, { author_type: 'agent', body: 'Line one<br>line two' });
    assert.equal(await preview(ticket.id), 'Line one');
    // Text that merely holds a `<` is not HTML.
    await reply(ticket.id, { author_type: 'customer', body: 'a<b and 3 > 2 <3' });
    assert.equal(await preview(ticket.id), 'a<b and 3 > 2 <3');
  });

  it('cuts a long first line to 200 characters without splitting a character, and adds no ellipsis', async () => {
    const ticket = await createTicket(t, A, { description: `${'a'.repeat(199)}👍🏽 and more\nnext` });
    const cut = await preview(ticket.id);
    // 199 letters, then the two code points of the thumb and its skin tone would make 201: the emoji goes whole.
    assert.equal(cut, 'a'.repeat(199));
    await reply(ticket.id, { author_type: 'customer', body: `${'é'.repeat(150)} ${'ü'.repeat(100)}` });
    const second = (await preview(ticket.id))!;
    assert.equal([...second].length, 200);
    assert.equal(second, `${'é'.repeat(150)} ${'ü'.repeat(49)}`);
  });

  it('an imported message dated before the latest one does not replace its preview', async () => {
    const ticket = await createTicket(t, A, { description: 'Latest words' });
    await reply(ticket.id, { author_type: 'customer', body: 'Older words', created_at: '2020-01-01T00:00:00Z' });
    assert.equal(await preview(ticket.id), 'Latest words');
  });

  it('a refused message changes nothing', async () => {
    const ticket = await createTicket(t, A, { description: 'Kept' });
    const res = await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'customer', body: '   \n  ' } });
    assertProblem(res, 422);
    assert.equal(await preview(ticket.id), 'Kept');
  });

  it('merge: the target shows the latest message of both conversations, the source none', async () => {
    const target = await createTicket(t, A, { description: 'Target first' });
    t.clock.advance(2000);
    const source = await createTicket(t, A, { description: 'Source words' });
    await reply(source.id, { author_type: 'agent', visibility: 'internal', body: 'Internal, never a preview' });
    const res = await t.request({ method: 'POST', url: `/v1/tickets/${source.id}/merge`, body: { into: target.id } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().into.last_message_preview, 'Source words');
    assert.equal(res.json().ticket.last_message_preview, null);
    assert.equal(await preview(target.id), 'Source words');
    assert.equal(await preview(source.id), null);
  });

  it('import: the latest public message of the history, in time order, whatever the order in the file', async () => {
    const admin = { tokenId: 'tok_test', tokenName: 'import', scopes: ['admin' as const], brandIds: null };
    const message = (id: string, at: string, body: string, visibility: 'public' | 'internal' = 'public') => ({
      id,
      author_type: 'agent' as const,
      author: { email: 'agent@support.example.com', name: 'Agent' },
      body,
      cc: [],
      visibility,
      created_at: at,
    });
    const historic = (id: string, messages: ReturnType<typeof message>[]) => ({
      id,
      brand_id: A,
      subject: 'Imported',
      description: 'From the old desk',
      status: 'open' as const,
      priority: 'normal' as const,
      origin: 'api' as const,
      tags: [],
      customer: { email: 'old@example.com', name: null },
      assigned_to: null,
      metadata: {},
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-03T00:00:00Z',
      messages,
    });
    const imported = await t.runtime.services.tickets.importMany(
      admin,
      [
        historic('tick_01hx0000000000000000000001', [
          message('msg_01hx0000000000000000000003', '2024-01-03T00:00:00Z', 'A late internal note', 'internal'),
          message('msg_01hx0000000000000000000002', '2024-01-02T00:00:00Z', '<p>The <i>latest</i> answer</p>'),
          message('msg_01hx0000000000000000000001', '2024-01-01T00:00:00Z', 'The first question'),
        ]),
        historic('tick_01hx0000000000000000000002', [message('msg_01hx0000000000000000000004', '2024-01-01T00:00:00Z', 'Only a note', 'internal')]),
      ],
      { emitEvents: false, source: 'jsonl' },
    );
    assert.equal(imported.written.length, 2);
    assert.equal(await preview('tick_01hx0000000000000000000001'), 'The latest answer');
    assert.equal(await preview('tick_01hx0000000000000000000002'), null);
  });

  it('the export carries it', async () => {
    const ticket = await createTicket(t, A, { description: 'Exported line\nrest' });
    const res = await t.request({ method: 'GET', url: `/v1/exports/tickets.jsonl?brand_id=${A}` });
    assert.equal(res.statusCode, 200, res.body);
    const line = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((x: Json) => x.id === ticket.id);
    assert.equal(line.last_message_preview, 'Exported line');
  });

  it("migration 0017's backfill, in pages, gives every ticket the preview its conversation makes", async () => {
    const stored = async () =>
      new Map(
        (await t.runtime.db.selectFrom('tickets').select(['id', 'last_message_preview']).where('brand_id', '=', A).execute()).map((r) => [
          r.id,
          r.last_message_preview,
        ]),
      );
    const kept = await stored();
    assert.ok(kept.size > 10);
    assert.ok([...kept.values()].some((p) => p === null));
    await t.runtime.db.updateTable('tickets').set({ last_message_preview: null }).execute();
    // Pages of 3: every page boundary is crossed, some pages hold only tickets without a preview.
    await backfillPreviews(t.runtime.db, 3);
    assert.deepEqual(await stored(), kept);
  });
});
