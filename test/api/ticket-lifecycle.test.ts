import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

describe('status rules, ETags and idempotency', () => {
  let t: TestApp;
  let brand: string;
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
  });
  after(() => t.close());

  const get = async (id: string) => (await t.request({ method: 'GET', url: `/v1/tickets/${id}` })).json();
  const patch = (id: string, body: unknown, headers?: Record<string, string>) =>
    t.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body, ...(headers ? { headers } : {}) });
  const reply = (id: string, body: unknown) => t.request({ method: 'POST', url: `/v1/tickets/${id}/messages`, body });

  it('a snoozed ticket wakes up to open when snoozed_until passes (injected clock)', async () => {
    const ticket = await createTicket(t, brand);
    const res = await patch(ticket.id, { status: 'snoozed', snoozed_until: '2026-01-15T12:00:00Z' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().snoozed_until, '2026-01-15T12:00:00Z');
    assert.equal(res.json().queue.position, null);

    t.clock.set('2026-01-15T11:59:59Z');
    assert.equal(await t.runtime.services.tickets.wakeSnoozedTickets(), 0);
    assert.equal((await get(ticket.id)).status, 'snoozed');

    t.clock.set('2026-01-15T12:00:00Z');
    assert.equal(await t.runtime.services.tickets.wakeSnoozedTickets(), 1);
    const woke = await get(ticket.id);
    assert.equal(woke.status, 'open');
    assert.equal(woke.snoozed_until, null);
    assert.equal(woke.queue.position !== null, true);
    const last = woke.audit_trail.at(-1);
    assert.equal(last.action, 'ticket.woke_up');
    assert.deepEqual(last.actor, { type: 'system', id: null, name: 'system', agent: null });
    assert.deepEqual(last.changes.status, { from: 'snoozed', to: 'open' });
    const events = await t.runtime.db.selectFrom('events').select('type').where('ticket_id', '=', ticket.id).orderBy('id').execute();
    assert.deepEqual(events.map((e) => e.type).slice(-2), ['ticket.updated', 'ticket.status_changed']);
    t.clock.set('2026-01-15T10:00:00Z');
  });

  it('a customer message wakes a snoozed ticket and reopens pending and resolved ones', async () => {
    for (const status of ['snoozed', 'pending', 'resolved']) {
      const ticket = await createTicket(t, brand);
      await patch(ticket.id, { status });
      const res = await reply(ticket.id, { author_type: 'customer', body: 'Any news?' });
      assert.equal(res.statusCode, 201);
      const after = await get(ticket.id);
      assert.equal(after.status, 'open', status);
      assert.deepEqual(after.audit_trail.at(-1).changes.status, { from: status, to: 'open' });
    }
  });

  it("agents' replies do not reopen; the first one sets first_response_at", async () => {
    const ticket = await createTicket(t, brand);
    await patch(ticket.id, { status: 'pending' });
    await reply(ticket.id, { author_type: 'agent', body: 'Working on it', author: { email: 'Agent@Example.com', name: 'Alex' } });
    const first = await get(ticket.id);
    assert.equal(first.status, 'pending');
    assert.equal(first.first_response_at, '2026-01-15T10:00:00Z');
    t.clock.advance(5 * 60_000);
    await reply(ticket.id, { author_type: 'agent', body: 'Done' });
    assert.equal((await get(ticket.id)).first_response_at, '2026-01-15T10:00:00Z');
    assert.ok(
      first.participants.some((p: { email: string; role: string; name: string }) => p.email === 'agent@example.com' && p.role === 'agent' && p.name === 'Alex'),
    );
    t.clock.set('2026-01-15T10:00:00Z');
  });

  it('imported history (explicit created_at) has no status side-effects', async () => {
    const ticket = await createTicket(t, brand);
    await patch(ticket.id, { status: 'resolved' });
    const res = await reply(ticket.id, { author_type: 'customer', body: 'Old mail', created_at: '2025-09-01T08:00:00Z' });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().created_at, '2025-09-01T08:00:00Z');
    const after = await get(ticket.id);
    assert.equal(after.status, 'resolved');
    await reply(ticket.id, { author_type: 'agent', body: 'Old answer', created_at: '2025-09-01T09:00:00Z' });
    assert.equal((await get(ticket.id)).first_response_at, null);
  });

  it('leaving snoozed clears snoozed_until; a no-op PATCH writes no audit entry and no event', async () => {
    const ticket = await createTicket(t, brand, { tags: ['a'], priority: 'high' });
    await patch(ticket.id, { status: 'snoozed', snoozed_until: '2026-02-01T00:00:00Z' });
    const reopened = (await patch(ticket.id, { status: 'open' })).json();
    assert.equal(reopened.snoozed_until, null);
    const audits = await countRows(t, 'audit_entries');
    const events = await countRows(t, 'events');
    const before = await get(ticket.id);
    const noop = await patch(ticket.id, { status: 'open', priority: 'high', tags: ['A '] });
    assert.equal(noop.statusCode, 200);
    assert.equal(await countRows(t, 'audit_entries'), audits);
    assert.equal(await countRows(t, 'events'), events);
    assert.equal((await get(ticket.id)).updated_at, before.updated_at);
    assert.equal(noop.headers.etag, (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).headers.etag);
  });

  it('only the fields sent change', async () => {
    const ticket = await createTicket(t, brand, { tags: ['keep'], priority: 'low', metadata: { order: 10021 } });
    const res = (await patch(ticket.id, { assigned_to: 'agent@example.com' })).json();
    assert.deepEqual(res.tags, ['keep']);
    assert.equal(res.priority, 'low');
    assert.deepEqual(res.metadata, { order: 10021 });
    assert.equal(res.status, 'open');
    const unassigned = (await patch(ticket.id, { assigned_to: null })).json();
    assert.equal(unassigned.assigned_to, null);
  });

  it('sends ETag and honours If-Match with a 412 that changes nothing', async () => {
    const ticket = await createTicket(t, brand);
    const read = await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` });
    const etag = String(read.headers.etag);
    assert.match(etag, /^"v\d+"$/);
    const ok = await patch(ticket.id, { priority: 'high' }, { 'if-match': etag });
    assert.equal(ok.statusCode, 200);
    assert.notEqual(ok.headers.etag, etag);
    const audits = await countRows(t, 'audit_entries');
    const stale = await patch(ticket.id, { priority: 'low' }, { 'if-match': etag });
    assertProblem(stale, 412, 'precondition_failed');
    assert.equal((await get(ticket.id)).priority, 'high');
    assert.equal(await countRows(t, 'audit_entries'), audits);
    assert.equal((await patch(ticket.id, { priority: 'low' }, { 'if-match': '*' })).statusCode, 200);
    assert.equal((await patch(ticket.id, { priority: 'normal' }, { 'if-match': `W/${ok.headers.etag}, "v999"` })).statusCode, 412);
  });

  it('Idempotency-Key replays the first response, refuses a different body, and 409s a concurrent duplicate', async () => {
    const body = { brand_id: brand, subject: 'Idempotent', customer: { email: 'i@example.com' } };
    const headers = { 'idempotency-key': 'key-123' };
    const before = await countRows(t, 'tickets');
    const first = await t.request({ method: 'POST', url: '/v1/tickets', body, headers });
    assert.equal(first.statusCode, 201);
    const again = await t.request({ method: 'POST', url: '/v1/tickets', body, headers });
    assert.equal(again.statusCode, 201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.json(), first.json());
    assert.equal(await countRows(t, 'tickets'), before + 1);

    assertProblem(await t.request({ method: 'POST', url: '/v1/tickets', body: { ...body, subject: 'Other' }, headers }), 422, 'idempotency_key_reused');
    assert.equal(await countRows(t, 'tickets'), before + 1);

    // Another token has its own key space.
    const other = await t.token(['tickets:write']);
    assert.equal((await t.request({ method: 'POST', url: '/v1/tickets', body, headers, token: other })).headers['idempotent-replayed'], undefined);

    // Concurrent duplicates: one wins, the other is told to retry.
    const k2 = { 'idempotency-key': 'key-concurrent' };
    const results = await Promise.all([1, 2, 3].map(() => t.request({ method: 'POST', url: '/v1/tickets', body, headers: k2 })));
    const statuses = results.map((r) => r.statusCode).sort();
    assert.ok(statuses.includes(201));
    for (const r of results) if (r.statusCode !== 201) assertProblem(r, 409, 'idempotency_in_progress');
    assert.equal(await countRows(t, 'tickets'), before + 3);

    // After 24 h the key is free again.
    t.clock.advance(24 * 3600_000 + 1000);
    const later = await t.request({ method: 'POST', url: '/v1/tickets', body, headers });
    assert.equal(later.headers['idempotent-replayed'], undefined);
    assert.notEqual(later.json().id, first.json().id);
    t.clock.set('2026-01-15T10:00:00Z');
  });
});
