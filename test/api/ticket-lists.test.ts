import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

describe('listing tickets', () => {
  let t: TestApp;
  let brand: string;
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
  });
  after(() => t.close());

  it('walks every ticket exactly once while tickets are being added', async () => {
    const initial = new Set<string>();
    for (let i = 0; i < 47; i++) initial.add((await createTicket(t, brand)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&limit=10${cursor ? `&after=${cursor}` : ''}` });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json();
      seen.push(...page.data.map((x: { id: string }) => x.id));
      cursor = page.next_cursor;
      pages++;
      // Concurrent writers: new tickets arrive between pages (and at the same time as the read).
      await Promise.all([createTicket(t, brand), createTicket(t, brand)]);
    } while (cursor);
    assert.equal(pages, 5);
    assert.equal(new Set(seen).size, seen.length, 'no ticket twice');
    for (const id of initial) assert.ok(seen.includes(id), `${id} was skipped`);
    const sorted = [...seen].sort().reverse();
    assert.deepEqual(seen, sorted, 'newest first');
  });

  it('filters by status, priority, assignee, tag, customer and creation time', async () => {
    const b = (await createBrand(t)).id;
    const first = await createTicket(t, b, { priority: 'urgent', tags: ['VIP'], customer: { email: 'Ann@Example.com', name: 'Ann' } });
    t.clock.advance(60_000);
    const second = await createTicket(t, b, { tags: ['billing'] });
    await t.request({ method: 'PATCH', url: `/v1/tickets/${second.id}`, body: { status: 'pending', assigned_to: 'agent@example.com' } });
    const ids = async (q: string) => (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${b}&${q}` })).json().data.map((x: { id: string }) => x.id);
    assert.deepEqual(await ids('status=open'), [first.id]);
    assert.deepEqual(await ids('status=pending'), [second.id]);
    assert.deepEqual(await ids('priority=urgent'), [first.id]);
    assert.deepEqual(await ids('assigned_to=agent@example.com'), [second.id]);
    assert.deepEqual(await ids('tag=vip'), [first.id]);
    assert.deepEqual(await ids('customer_email=ann@example.com'), [first.id]);
    assert.deepEqual(await ids(`created_after=${first.created_at}`), [second.id]);
    assert.deepEqual(await ids(`created_before=${second.created_at}`), [first.id]);
    assert.deepEqual(await ids('created_after=2026-01-01'), [second.id, first.id]);
    assert.deepEqual(await ids('created_after=2027-01-01'), []);
  });

  it('refuses malformed and foreign cursors with a 400', async () => {
    const page = (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&limit=2` })).json();
    assert.ok(page.next_cursor);
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?after=not-a-cursor` }), 400, 'invalid_cursor');
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?after=${Buffer.from('{"v":1}').toString('base64url')}` }), 400, 'invalid_cursor');
    // A cursor issued for other filters, or for another list, is foreign.
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?status=open&after=${page.next_cursor}` }), 400, 'invalid_cursor');
    const ticket = await createTicket(t, brand);
    for (let i = 0; i < 3; i++) await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: 'agent', body: `m${i}` } });
    const messages = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages?limit=1` })).json();
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?after=${messages.next_cursor}` }), 400, 'invalid_cursor');
    const other = await createTicket(t, brand);
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets/${other.id}/messages?after=${messages.next_cursor}` }), 400, 'invalid_cursor');
  });

  it('pages through long conversations and audit trails', async () => {
    const ticket = await createTicket(t, brand);
    for (let i = 0; i < 7; i++)
      await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body: { author_type: i % 2 ? 'agent' : 'customer', body: `message ${i}` } });
    const bodies: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { body: string }[]; next_cursor: string | null } = (
        await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/messages?limit=3${cursor ? `&after=${cursor}` : ''}` })
      ).json();
      bodies.push(...page.data.map((m) => m.body));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(bodies, ['Customer requested refund on order 10021', ...Array.from({ length: 7 }, (_, i) => `message ${i}`)]);
    const audit = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit?limit=5` })).json();
    assert.equal(audit.data.length, 5);
    assert.equal(audit.data[0].action, 'ticket.created');
    const rest = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit?limit=5&after=${audit.next_cursor}` })).json();
    assert.equal(rest.data.length, 3);
    assert.equal(rest.next_cursor, null);
  });

  it('back-dated imports sort into the conversation by their time', async () => {
    const ticket = await createTicket(t, brand);
    await t.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      body: { author_type: 'customer', body: 'old email', created_at: '2025-10-04T18:32:11Z' },
    });
    const full = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    assert.deepEqual(
      full.messages.map((m: { body: string }) => m.body),
      ['old email', 'Customer requested refund on order 10021'],
    );
    assert.equal(full.messages[0].created_at, '2025-10-04T18:32:11Z');
  });
});
