import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

describe('POST /v1/tickets/{id}/merge', () => {
  let t: TestApp;
  let A: string;
  before(async () => {
    t = await buildTestApp();
    A = (await createBrand(t)).id;
  });
  after(() => t.close());

  const merge = (id: string, into: unknown, token?: string) =>
    t.request({ method: 'POST', url: `/v1/tickets/${id}/merge`, body: { into }, ...(token ? { token } : {}) });
  const get = async (id: string): Promise<Json> => (await t.request({ method: 'GET', url: `/v1/tickets/${id}` })).json();
  const post = async (url: string, body: unknown): Promise<Json> => {
    const res = await t.request({ method: 'POST', url, body });
    assert.ok(res.statusCode < 300, res.body);
    return res.json();
  };

  it('moves the conversation, participants and attachments; closes the source with a pointer; audits, events and re-indexes both', async () => {
    const source = await createTicket(t, A, {
      subject: 'Parcel lost',
      description: 'My parcel with the zanzibar figurine never arrived',
      customer: { email: 'sam@example.com', name: 'Sam' },
    });
    const target = await createTicket(t, A, { subject: 'Where is my order', customer: { email: 'kim@example.com', name: 'Kim' } });
    const upload = await post('/v1/attachments', { file_name: 'receipt.txt', content_type: 'text/plain', brand_id: A });
    const put = await t.app.inject({ method: 'PUT', url: new URL(upload.upload_url).pathname, headers: { 'content-type': 'text/plain' }, payload: 'receipt' });
    assert.equal(put.statusCode, 200, put.body);
    await post(`/v1/tickets/${source.id}/messages`, {
      author_type: 'agent',
      body: 'Looking into it',
      author: { email: 'lee@support.example.com', name: 'Lee' },
      cc: ['boss@example.com'],
      attachments: [upload.id],
    });

    const res = await merge(source.id, target.id);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual([body.ticket.status, body.ticket.merged_into, body.into.id, body.moved_messages], ['resolved', target.id, target.id, 2]);

    const merged = await get(source.id);
    assert.deepEqual([merged.status, merged.merged_into, merged.messages.length], ['resolved', target.id, 0]);
    const grown = await get(target.id);
    assert.equal(grown.merged_into, null);
    assert.deepEqual(
      grown.messages.map((m: Json) => m.body),
      // Chronological: both tickets were made in the same second (the test's clock), the source first.
      ['My parcel with the zanzibar figurine never arrived', 'Customer requested refund on order 10021', 'Looking into it'],
    );
    assert.equal(grown.messages[2].attachments[0].id, upload.id);
    const download = await t.app.inject({ method: 'GET', url: new URL(grown.messages[2].attachments[0].download_url).pathname });
    assert.equal(download.body, 'receipt');
    const participants = Object.fromEntries(grown.participants.map((p: Json) => [p.email, p.role]));
    assert.deepEqual(participants, {
      'kim@example.com': 'customer',
      'lee@support.example.com': 'agent',
      'sam@example.com': 'customer',
      'boss@example.com': 'cc',
    });

    const audit = (id: string) => t.request({ method: 'GET', url: `/v1/tickets/${id}/audit` }).then((r) => r.json().data.at(-1));
    assert.deepEqual([(await audit(source.id)).action, (await audit(source.id)).changes.merged_into.to], ['ticket.merged', target.id]);
    assert.deepEqual([(await audit(target.id)).action, (await audit(target.id)).changes.merged_from.to], ['ticket.merged', source.id]);
    const events = await t.runtime.db
      .selectFrom('events')
      .select(['type', 'ticket_id', 'data'])
      .where('ticket_id', 'in', [source.id, target.id])
      .orderBy('id')
      .execute();
    const after = events.slice(-4).map((e) => [e.type, e.ticket_id]);
    assert.deepEqual(after, [
      ['ticket.merged', source.id],
      ['ticket.updated', source.id],
      ['ticket.status_changed', source.id],
      ['ticket.updated', target.id],
    ]);
    assert.equal(JSON.parse(events.at(-4)!.data).into.id, target.id);

    const found = (await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'zanzibar figurine', mode: 'keyword' } })).json();
    assert.ok(
      found.data.some((r: Json) => r.ticket.id === target.id),
      JSON.stringify(found.data.map((r: Json) => r.ticket.id)),
    );
    const customer = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${A}&email=sam@example.com` })).json().data[0];
    assert.equal(customer.open_ticket_count, 0, 'the merged ticket no longer counts as open');
  });

  it('refuses itself, missing, other-brand and merged tickets, storing nothing', async () => {
    const B = (await createBrand(t)).id;
    const source = await createTicket(t, A);
    const other = await createTicket(t, B);
    const done = await createTicket(t, A);
    const into = await createTicket(t, A);
    assert.equal((await merge(done.id, into.id)).statusCode, 200);
    const counts = async () => [await countRows(t, 'messages'), await countRows(t, 'events'), await countRows(t, 'audit_entries')];
    const before = await counts();
    for (const [target, pointer] of [
      [source.id, '/into'],
      ['tick_01kf0hj0800000000000000000', '/into'],
      [other.id, '/into'],
      [done.id, '/into'],
      ['', '/into'],
      [42, '/into'],
    ] as const) {
      const problem = assertProblem(await merge(source.id, target), 422, 'validation_failed');
      assert.equal(problem.errors[0].pointer, pointer);
    }
    assertProblem(await merge(done.id, source.id), 409, 'conflict');
    assertProblem(await merge('tick_01kf0hj0800000000000000000', source.id), 404, 'not_found');
    const writerB = await t.token(['tickets:write'], [B]);
    assertProblem(await merge(source.id, other.id, writerB), 404, 'not_found');
    const writerA = await t.token(['tickets:write'], [A]);
    assertProblem(await merge(source.id, other.id, writerA), 422, 'validation_failed');
    assertProblem(await merge(source.id, into.id, await t.token(['tickets:read'])), 403, 'forbidden');
    assertProblem(await t.request({ method: 'POST', url: `/v1/tickets/${source.id}/merge`, body: { into: into.id, extra: true } }), 422, 'validation_failed');
    assert.deepEqual(await counts(), before);
    assert.deepEqual([(await get(source.id)).merged_into, (await get(source.id)).status], [null, 'open']);
  });

  it('a merged ticket is read-only: PATCH, bulk and messages are 409 problems naming the target, nothing changes; reads still work', async () => {
    const source = await createTicket(t, A, { subject: 'Merged away' });
    const target = await createTicket(t, A, { subject: 'Kept' });
    assert.equal((await merge(source.id, target.id)).statusCode, 200);
    const before = await t.runtime.db.selectFrom('tickets').selectAll().where('id', '=', source.id).executeTakeFirstOrThrow();
    const messagesBefore = await countRows(t, 'messages');

    const patched = assertProblem(await t.request({ method: 'PATCH', url: `/v1/tickets/${source.id}`, body: { status: 'open' } }), 409, 'conflict');
    assert.match(patched.detail, new RegExp(`merged into ${target.id}`));
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/tickets/${source.id}`, body: { tags_add: ['late'] } }), 409, 'conflict');
    const replied = assertProblem(
      await t.request({ method: 'POST', url: `/v1/tickets/${source.id}/messages`, body: { author_type: 'agent', body: 'Too late' } }),
      409,
      'conflict',
    );
    assert.match(replied.detail, new RegExp(target.id));
    const bulk = await t.request({ method: 'POST', url: '/v1/tickets/bulk', body: { ids: [source.id, target.id], change: { priority: 'high' } } });
    assert.equal(bulk.statusCode, 200, bulk.body);
    const [first, second] = bulk.json().results;
    assert.equal(first.status, 409);
    assert.equal(first.error.code, 'conflict');
    assert.equal(second.status, 200);

    const after = await t.runtime.db.selectFrom('tickets').selectAll().where('id', '=', source.id).executeTakeFirstOrThrow();
    assert.deepEqual(after, before, 'the merged ticket is unchanged');
    assert.equal(await countRows(t, 'messages'), messagesBefore);
    // Reading stays allowed: the ticket, its (now empty) conversation, and the pointer.
    const read = await t.request({ method: 'GET', url: `/v1/tickets/${source.id}` });
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().merged_into, target.id);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${source.id}/messages` })).statusCode, 200);
  });
});
