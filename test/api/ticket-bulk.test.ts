import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

describe('POST /v1/tickets/bulk', () => {
  let t: TestApp;
  let A: string;
  let B: string;
  before(async () => {
    t = await buildTestApp();
    A = (await createBrand(t)).id;
    B = (await createBrand(t)).id;
  });
  after(() => t.close());

  const bulk = (body: unknown, options: { token?: string; headers?: Record<string, string> } = {}) =>
    t.request({ method: 'POST', url: '/v1/tickets/bulk', body, ...options });
  const eventsOf = async (ticketId: string) =>
    (await t.runtime.db.selectFrom('events').select('type').where('ticket_id', '=', ticketId).orderBy('id').execute()).map((e) => e.type);

  it('changes every ticket as PATCH would: one audit entry and the same events each', async () => {
    const tickets = [await createTicket(t, A), await createTicket(t, A, { tags: ['old'] }), await createTicket(t, A)];
    const res = await bulk({
      ids: tickets.map((x) => x.id),
      change: { status: 'pending', assigned_to: 'lee@support.example.com', tags_add: ['batch'], tags_remove: ['old'] },
    });
    assert.equal(res.statusCode, 200, res.body);
    const results = res.json().results;
    assert.deepEqual(
      results.map((r: Json) => [r.id, r.status, r.error, r.ticket.status, r.ticket.assigned_to, r.ticket.tags]),
      tickets.map((x) => [x.id, 200, null, 'pending', 'lee@support.example.com', ['batch']]),
    );
    for (const ticket of tickets) {
      const audit = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit` })).json().data;
      assert.deepEqual(
        audit.map((e: Json) => e.action),
        ['ticket.created', 'ticket.updated'],
      );
      assert.deepEqual(await eventsOf(ticket.id), ['ticket.created', 'ticket.updated', 'ticket.status_changed', 'ticket.assigned']);
    }
  });

  it('a missing, other-brand or refusing ticket fails alone', async () => {
    const agentBrand = (await createBrand(t)).id;
    await t.request({ method: 'POST', url: '/v1/agents', body: { name: 'Only', email: 'only@support.example.com', brand_ids: [agentBrand] } });
    const ofA = await createTicket(t, A);
    const ofB = await createTicket(t, B);
    const rostered = await createTicket(t, agentBrand);
    const missing = 'tick_01kf0hj0800000000000000000';
    const writerA = await t.token(['tickets:write'], [A, agentBrand]);
    const res = await bulk({ ids: [ofA.id, ofB.id, missing, rostered.id], change: { assigned_to: 'free@example.com' } }, { token: writerA });
    assert.equal(res.statusCode, 200, res.body);
    const [a, b, m, r] = res.json().results;
    assert.deepEqual([a.status, a.ticket.assigned_to], [200, 'free@example.com']);
    assert.deepEqual([b.status, b.ticket, b.error.code], [404, null, 'not_found']);
    assert.deepEqual([m.status, m.error.code], [404, 'not_found']);
    assert.deepEqual([r.status, r.error.code, r.error.errors[0].pointer], [422, 'validation_failed', '/assigned_to']);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ofB.id}` })).json().assigned_to, null);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${rostered.id}` })).json().assigned_to, null);
    assert.deepEqual(await eventsOf(ofB.id), ['ticket.created']);
  });

  it('is idempotent with Idempotency-Key', async () => {
    const tickets = [await createTicket(t, A), await createTicket(t, A)];
    const body = { ids: tickets.map((x) => x.id), change: { priority: 'urgent' } };
    const headers = { 'idempotency-key': 'bulk-once' };
    const first = await bulk(body, { headers });
    assert.equal(first.statusCode, 200, first.body);
    const audits = await countRows(t, 'audit_entries');
    const events = await countRows(t, 'events');
    const again = await bulk(body, { headers });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), first.json());
    assert.equal(await countRows(t, 'audit_entries'), audits);
    assert.equal(await countRows(t, 'events'), events);
    assertProblem(await bulk({ ...body, change: { priority: 'low' } }, { headers }), 422, 'idempotency_key_reused');
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${tickets[0].id}` })).json().priority, 'urgent');
  });

  it('refuses a bad request whole, storing nothing', async () => {
    const ticket = await createTicket(t, A);
    const ids = [ticket.id];
    const audits = await countRows(t, 'audit_entries');
    const events = await countRows(t, 'events');
    const cases: [unknown, string][] = [
      [{ ids: [], change: { status: 'open' } }, '/ids'],
      [{ ids: Array.from({ length: 101 }, () => ticket.id), change: { status: 'open' } }, '/ids'],
      [{ ids: [ticket.id, ticket.id], change: { status: 'pending' } }, '/ids/1'],
      [{ ids, change: {} }, '/change'],
      [{ ids, change: { tags: ['replace'] } }, '/change'],
      [{ ids, change: { subject: 'nope' } }, '/change'],
      [{ ids, change: { status: 'closed' } }, '/change/status'],
      [{ ids, change: { assigned_to: 'not-an-email' } }, '/change/assigned_to'],
      [{ ids }, '/change'],
      [{ ids, change: { status: 'open' }, extra: 1 }, ''],
    ];
    for (const [body, pointer] of cases) {
      const problem = assertProblem(await bulk(body), 422, 'validation_failed');
      if (pointer)
        assert.ok(
          problem.errors?.some((e: Json) => e.pointer.startsWith(pointer)),
          `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(problem.errors)}`,
        );
    }
    assert.equal(await countRows(t, 'audit_entries'), audits);
    assert.equal(await countRows(t, 'events'), events);
    assertProblem(await bulk({ ids, change: { status: 'pending' } }, { token: await t.token(['tickets:read']) }), 403, 'forbidden');
    assertProblem(await bulk({ ids, change: { status: 'pending' } }, { token: null as unknown as string }), 401, 'unauthorized');
    // A change every ticket refuses: each fails alone, with the pointer PATCH would give.
    const res = await bulk({ ids, change: { snoozed_until: '2030-01-01T00:00:00Z' } });
    assert.deepEqual([res.json().results[0].status, res.json().results[0].error.errors[0].pointer], [422, '/snoozed_until']);
    assert.equal(await countRows(t, 'audit_entries'), audits);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().status, 'open');
  });
});
