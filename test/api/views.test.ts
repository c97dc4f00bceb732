import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { up as migrateViews } from '../../src/db/migrations/0015-views.js';
import { up as migrateViewCounts } from '../../src/db/migrations/0018-view-counts.js';
import { allTicketCounts, recountTickets } from '../../src/tickets/count-store.js';
import { countView, keptViewCounts } from '../../src/views/count-store.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

const BUILTIN = ['view_mine', 'view_unassigned', 'view_all_open', 'view_pending', 'view_snoozed'];

describe('views', () => {
  let t: TestApp;
  let A: string;
  let B: string;
  /** Agents of brands A and B (assignable there) and a token of each. */
  let alice: Json;
  let bob: Json;
  let aliceToken: string;
  let bobToken: string;
  /** Brand-restricted tokens without an agent. */
  let readerA: string;
  let writerB: string;

  before(async () => {
    t = await buildTestApp();
    A = (await createBrand(t, { name: 'Views A' })).id;
    B = (await createBrand(t, { name: 'Views B' })).id;
    alice = (await t.request({ method: 'POST', url: '/v1/agents', body: { name: 'Alice', email: 'alice@support.example.com', brand_ids: [A, B] } })).json();
    bob = (await t.request({ method: 'POST', url: '/v1/agents', body: { name: 'Bob', email: 'bob@support.example.com', brand_ids: [A, B] } })).json();
    const tokens = t.runtime.services.tokens;
    aliceToken = (await tokens.create({ name: 'alice', scopes: ['tickets:write'], brand_ids: [A, B], agent_id: alice.id })).token;
    bobToken = (await tokens.create({ name: 'bob', scopes: ['tickets:write'], brand_ids: [A, B], agent_id: bob.id })).token;
    readerA = await t.token(['tickets:read'], [A]);
    writerB = await t.token(['tickets:write'], [B]);
  });
  after(() => t.close());

  const viewRows = async () => (await t.runtime.db.selectFrom('views').selectAll().orderBy('id').execute()).map((r) => JSON.stringify(r));

  async function createView(body: Record<string, unknown>, token?: string): Promise<Json> {
    const res = await t.request({ method: 'POST', url: '/v1/views', body, ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers.location, `/v1/views/${res.json().id}`);
    return res.json();
  }

  async function counts(token?: string): Promise<Record<string, number>> {
    const res = await t.request({ method: 'GET', url: '/v1/views/counts', ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 200, res.body);
    return Object.fromEntries(res.json().data.map((c: Json) => [c.view_id, c.count]));
  }

  /** Every ticket of a view, walking its pages. */
  async function viewTickets(id: string, token?: string): Promise<Json[]> {
    const out: Json[] = [];
    let after: string | null = null;
    do {
      const res = await t.request({ method: 'GET', url: `/v1/views/${id}/tickets?limit=100${after ? `&after=${after}` : ''}`, ...(token ? { token } : {}) });
      assert.equal(res.statusCode, 200, res.body);
      out.push(...res.json().data);
      after = res.json().next_cursor;
    } while (after);
    return out;
  }

  /** Each view's count, as /counts gives it, equals the number of tickets its own listing walks through. */
  async function assertCountsMatchListings(token?: string): Promise<Record<string, number>> {
    const res = await t.request({ method: 'GET', url: '/v1/views/counts', ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 200, res.body);
    const byView: Record<string, number> = {};
    for (const c of res.json().data) {
      assert.equal(c.exact, true);
      assert.equal(c.count, (await viewTickets(c.view_id, token)).length, `${c.view_id}: the count is the listing's length`);
      byView[c.view_id] = c.count;
    }
    return byView;
  }

  async function assertCountersConsistent(): Promise<void> {
    const kept = await allTicketCounts(t.runtime.db);
    const counted = await recountTickets(t.runtime.db);
    assert.deepEqual(
      Object.fromEntries([...kept].sort()),
      Object.fromEntries([...counted].sort()),
      'ticket_counts equals a COUNT(*) per brand, status and assignee',
    );
  }

  /** Every custom view's kept counters equal a grouped COUNT(*) of its filters over the tickets. */
  async function assertViewCountersConsistent(): Promise<void> {
    const views = await t.runtime.db.selectFrom('views').select(['id', 'brand_id', 'filters']).execute();
    for (const view of views) {
      assert.deepEqual(
        Object.fromEntries([...(await keptViewCounts(t.runtime.db, view.id))].sort()),
        Object.fromEntries([...(await countView(t.runtime.db, view))].sort()),
        `view_counts of ${view.filters} equal a COUNT(*) per brand`,
      );
    }
    const orphans = await t.runtime.db
      .selectFrom('view_counts')
      .select('view_id')
      .where('view_id', 'not in', (eb) => eb.selectFrom('views').select('id'))
      .execute();
    assert.deepEqual(orphans, [], 'no counters of a deleted view');
  }

  it('built-in views: listed first, in a fixed order, with stable ids, filters as on the ticket list', async () => {
    const res = await t.request({ method: 'GET', url: '/v1/views', token: aliceToken });
    assert.equal(res.statusCode, 200, res.body);
    const data = res.json().data;
    assert.deepEqual(
      data.slice(0, 5).map((v: Json) => v.id),
      BUILTIN,
    );
    assert.deepEqual(
      data.slice(0, 5).map((v: Json) => v.name),
      ['Mine', 'Unassigned', 'All open', 'Pending', 'Snoozed'],
    );
    const mine = data[0];
    assert.deepEqual(mine.filters, { status: 'open,pending', assigned_to: 'alice@support.example.com' });
    assert.equal(mine.builtin, true);
    assert.equal(mine.created_at, null);
    assert.deepEqual(data[1].filters, { status: 'open,pending', unassigned: true });
    const one = await t.request({ method: 'GET', url: '/v1/views/view_snoozed', token: readerA });
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().name, 'Snoozed');
  });

  it('create, list, retrieve, update and delete a brand view', async () => {
    await createTicket(t, A, { tags: ['billing'], priority: 'high' });
    await createTicket(t, A, { tags: ['billing'] });
    await createTicket(t, A, { tags: ['shipping'] });
    const view = await createView({ name: ' Billing ', brand_id: A, filters: { tag: 'billing', status: ['open', 'pending'] }, sort: '-created_at' });
    assert.match(view.id, /^view_[0-9a-hjkmnp-tv-z]{26}$/);
    assert.equal(view.name, 'Billing');
    assert.equal(view.brand_id, A);
    assert.equal(view.agent_id, null);
    assert.equal(view.builtin, false);
    assert.deepEqual(view.filters, { tag: 'billing', status: ['open', 'pending'] });
    assert.equal(view.sort, '-created_at');

    const listed = (await t.request({ method: 'GET', url: '/v1/views', token: readerA })).json().data;
    assert.deepEqual(listed.at(-1), view);
    assert.deepEqual((await t.request({ method: 'GET', url: `/v1/views/${view.id}`, token: readerA })).json(), view);

    const tickets = await viewTickets(view.id, readerA);
    assert.equal(tickets.length, 2);
    assert.ok(tickets.every((x) => x.tags.includes('billing') && x.brand_id === A));
    assert.ok(tickets[0].created_at >= tickets[1].created_at && tickets[0].id > tickets[1].id, 'newest first, as its sort says');
    assert.equal((await counts(readerA))[view.id], 2);

    const patched = await t.request({
      method: 'PATCH',
      url: `/v1/views/${view.id}`,
      body: { name: 'Urgent billing', filters: { tag: 'billing', priority: 'high' }, sort: null },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json().name, 'Urgent billing');
    assert.deepEqual(patched.json().filters, { tag: 'billing', priority: 'high' });
    assert.equal(patched.json().sort, null);
    assert.equal((await viewTickets(view.id)).length, 1);
    assert.equal((await counts(readerA))[view.id], 1, 'an edited view is counted afresh');

    const del = await t.request({ method: 'DELETE', url: `/v1/views/${view.id}` });
    assert.equal(del.statusCode, 204, del.body);
    assertProblem(await t.request({ method: 'GET', url: `/v1/views/${view.id}` }), 404, 'not_found');
    assertProblem(await t.request({ method: 'DELETE', url: `/v1/views/${view.id}` }), 404, 'not_found');
    assert.equal((await counts(readerA))[view.id], undefined);
  });

  it('pages through a view with the ticket list’s cursors; a cursor from before the view changed is a 400', async () => {
    const brand = (await createBrand(t)).id;
    for (let i = 0; i < 5; i++) await createTicket(t, brand, { tags: ['paged'] });
    const view = await createView({ name: 'Paged', brand_id: brand, filters: { tag: 'paged' }, sort: 'created_at' });
    const first = (await t.request({ method: 'GET', url: `/v1/views/${view.id}/tickets?limit=2` })).json();
    assert.equal(first.data.length, 2);
    assert.ok(first.next_cursor);
    const second = (await t.request({ method: 'GET', url: `/v1/views/${view.id}/tickets?limit=2&after=${first.next_cursor}` })).json();
    assert.equal(second.data.length, 2);
    assert.ok(second.data[0].created_at >= first.data[1].created_at && second.data[0].id > first.data[1].id);
    await t.request({ method: 'PATCH', url: `/v1/views/${view.id}`, body: { sort: '-created_at' } });
    assertProblem(await t.request({ method: 'GET', url: `/v1/views/${view.id}/tickets?limit=2&after=${first.next_cursor}` }), 400, 'invalid_cursor');
  });

  it('refuses bad input with a problem and stores nothing', async () => {
    const before = await viewRows();
    const view = await createView({ name: 'Kept', brand_id: A });
    const kept = await viewRows();
    const cases: { body: Record<string, unknown>; pointer: RegExp; token?: string }[] = [
      { body: { name: 'x', brand_id: A, filters: { colour: 'red' } }, pointer: /^\/filters/ },
      { body: { name: 'x', brand_id: A, filters: { status: 'closed' } }, pointer: /^\/filters\/status/ },
      { body: { name: 'x', brand_id: A, filters: { tag: ' ' } }, pointer: /^\/filters\/tag/ },
      { body: { name: 'x', brand_id: A, filters: { created_after: 'yesterday' } }, pointer: /^\/filters\/created_after/ },
      { body: { name: 'x', brand_id: A, filters: { limit: 5 } }, pointer: /^\/filters/ },
      { body: { name: 'x', brand_id: A, filters: { unassigned: true, assigned_to: 'alice@support.example.com' } }, pointer: /^\/filters\/unassigned$/ },
      { body: { name: 'x', brand_id: A, filters: { brand_id: B } }, pointer: /^\/filters\/brand_id$/ },
      { body: { name: 'x', brand_id: A, sort: 'priority' }, pointer: /^\/sort/ },
      { body: { name: 'x'.repeat(101), brand_id: A }, pointer: /^\/name$/ },
      { body: { name: '   ', brand_id: A }, pointer: /^\/name$/ },
      { body: { name: 'x' }, pointer: /^\/brand_id$/ },
      { body: { name: 'x', brand_id: A, agent_id: alice.id }, pointer: /^\/agent_id$/ },
      { body: { name: 'x', agent_id: alice.id }, pointer: /^\/agent_id$/ },
      { body: { name: 'x', agent_id: bob.id }, pointer: /^\/agent_id$/, token: aliceToken },
      { body: { name: 'x', brand_id: 'brand_nope' }, pointer: /^\/brand_id$/ },
      { body: { name: 'x', brand_id: A }, pointer: /^\/brand_id$/, token: writerB },
      { body: { name: 'x', brand_id: A, owner: 'me' }, pointer: /^\/owner$/ },
    ];
    for (const c of cases) {
      const problem = assertProblem(
        await t.request({ method: 'POST', url: '/v1/views', body: c.body, ...(c.token ? { token: c.token } : {}) }),
        422,
        'validation_failed',
      );
      assert.match(problem.errors?.[0]?.pointer ?? '', c.pointer, JSON.stringify(c.body));
    }
    for (const body of [{ name: '' }, { filters: { colour: 'red' } }, { sort: 'nope' }, { brand_id: B }]) {
      assertProblem(await t.request({ method: 'PATCH', url: `/v1/views/${view.id}`, body }), 422, 'validation_failed');
    }
    for (const url of [
      '/v1/views?brand_id=x',
      '/v1/views/counts?fresh=1',
      `/v1/views/${view.id}/tickets?status=open`,
      `/v1/views/${view.id}/tickets?limit=0`,
    ]) {
      assertProblem(await t.request({ method: 'GET', url }), 400);
    }
    for (const id of BUILTIN) {
      assertProblem(await t.request({ method: 'DELETE', url: `/v1/views/${id}` }), 409, 'conflict');
      assertProblem(await t.request({ method: 'PATCH', url: `/v1/views/${id}`, body: { name: 'Renamed' } }), 409, 'conflict');
    }
    assertProblem(await t.request({ method: 'GET', url: '/v1/views/view_nope' }), 404, 'not_found');
    assertProblem(await t.request({ method: 'POST', url: '/v1/views', body: { name: 'x', brand_id: A }, token: readerA }), 403, 'forbidden');
    assert.deepEqual(await viewRows(), kept, 'nothing stored or changed');
    await t.request({ method: 'DELETE', url: `/v1/views/${view.id}` });
    assert.deepEqual(await viewRows(), before);
  });

  it('brand isolation: a brand-restricted token never sees another brand’s view or its tickets in any count', async () => {
    const brandA = (await createBrand(t)).id;
    const brandB = (await createBrand(t)).id;
    const onlyA = await t.token(['tickets:write'], [brandA]);
    const onlyB = await t.token(['tickets:write'], [brandB]);
    await createTicket(t, brandA, { tags: ['iso'] });
    await createTicket(t, brandA, { tags: ['iso'] });
    await createTicket(t, brandB, { tags: ['iso'] });
    const viewA = await createView({ name: 'Iso A', brand_id: brandA, filters: { tag: 'iso' } }, onlyA);
    // An agent view of every brand, seen through brand-restricted agent tokens, counts only their brands.
    const listB = (await t.request({ method: 'GET', url: '/v1/views', token: onlyB })).json().data.map((v: Json) => v.id);
    assert.ok(!listB.includes(viewA.id));
    assertProblem(await t.request({ method: 'GET', url: `/v1/views/${viewA.id}`, token: onlyB }), 404, 'not_found');
    assertProblem(await t.request({ method: 'GET', url: `/v1/views/${viewA.id}/tickets`, token: onlyB }), 404, 'not_found');
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/views/${viewA.id}`, token: onlyB, body: { name: 'Mine now' } }), 404, 'not_found');
    assertProblem(await t.request({ method: 'DELETE', url: `/v1/views/${viewA.id}`, token: onlyB }), 404, 'not_found');
    const countsB = await counts(onlyB);
    assert.equal(countsB[viewA.id], undefined);
    assert.equal(countsB.view_all_open, 1, 'only brand B’s open ticket');
    assert.equal(countsB.view_unassigned, 1);
    const countsA = await counts(onlyA);
    assert.equal(countsA[viewA.id], 2);
    assert.equal(countsA.view_all_open, 2);
    await assertCountsMatchListings(onlyA);
    await assertCountsMatchListings(onlyB);
  });

  it('an agent’s view is private to the tokens of that agent; Mine is empty for a token without an agent', async () => {
    const mineA = await createTicket(t, A, { assigned_to: 'alice@support.example.com' });
    const personal = await createView({ name: 'My billing', agent_id: alice.id, filters: { assigned_to: 'alice@support.example.com' } }, aliceToken);
    assert.equal(personal.agent_id, alice.id);
    assert.equal(personal.brand_id, null);
    for (const token of [bobToken, t.adminToken, readerA]) {
      assertProblem(await t.request({ method: 'GET', url: `/v1/views/${personal.id}`, token }), 404, 'not_found');
      assertProblem(await t.request({ method: 'GET', url: `/v1/views/${personal.id}/tickets`, token }), 404, 'not_found');
      const listed = (await t.request({ method: 'GET', url: '/v1/views', token })).json().data.map((v: Json) => v.id);
      assert.ok(!listed.includes(personal.id));
      assert.equal((await counts(token))[personal.id], undefined);
    }
    const aliceCounts = await assertCountsMatchListings(aliceToken);
    assert.ok(aliceCounts[personal.id]! >= 1);
    assert.ok((await viewTickets('view_mine', aliceToken)).some((x) => x.id === mineA.id));
    // Without an agent: Mine is listed, counts 0 and lists nothing.
    assert.equal((await counts(readerA)).view_mine, 0);
    assert.deepEqual(await viewTickets('view_mine', readerA), []);
    const aliceSecond = (await t.runtime.services.tokens.create({ name: 'alice 2', scopes: ['tickets:read'], brand_ids: [A], agent_id: alice.id })).token;
    assert.equal((await t.request({ method: 'GET', url: `/v1/views/${personal.id}`, token: aliceSecond })).statusCode, 200, 'every token of the agent sees it');
    assertProblem(await t.request({ method: 'DELETE', url: `/v1/views/${personal.id}`, token: bobToken }), 404, 'not_found');
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/views/${personal.id}`, token: aliceToken })).statusCode, 204);
  });

  it('counts stay exact through creates, updates, bulk changes, merges, snoozes and their wake-up, and imports', async () => {
    const brand = (await createBrand(t)).id;
    const token = (await t.runtime.services.tokens.create({ name: 'alice here', scopes: ['tickets:write'], brand_ids: [brand], agent_id: alice.id })).token;
    await t.request({ method: 'PATCH', url: `/v1/agents/${alice.id}`, body: { brand_ids: [A, B, brand] } });
    const expect = async (want: Partial<Record<string, number>>) => {
      const got = await assertCountsMatchListings(token);
      for (const [id, n] of Object.entries(want)) assert.equal(got[id], n, `${id}`);
      await assertCountersConsistent();
    };
    const tickets = [];
    for (let i = 0; i < 4; i++) tickets.push(await createTicket(t, brand));
    await expect({ view_mine: 0, view_unassigned: 4, view_all_open: 4, view_pending: 0, view_snoozed: 0 });

    const patch = async (id: string, body: Json) => assert.equal((await t.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body })).statusCode, 200);
    await patch(tickets[0].id, { assigned_to: 'alice@support.example.com' });
    await patch(tickets[1].id, { status: 'pending' });
    await expect({ view_mine: 1, view_unassigned: 3, view_all_open: 3, view_pending: 1 });

    const bulk = await t.request({
      method: 'POST',
      url: '/v1/tickets/bulk',
      body: { ids: [tickets[1].id, tickets[2].id], change: { assigned_to: 'alice@support.example.com' } },
    });
    assert.equal(bulk.statusCode, 200, bulk.body);
    await expect({ view_mine: 3, view_unassigned: 1, view_all_open: 3, view_pending: 1 });

    const merged = await t.request({ method: 'POST', url: `/v1/tickets/${tickets[2].id}/merge`, body: { into: tickets[0].id } });
    assert.equal(merged.statusCode, 200, merged.body);
    await expect({ view_mine: 2, view_unassigned: 1, view_all_open: 2 });

    const until = new Date(t.clock.now().getTime() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await patch(tickets[3].id, { status: 'snoozed', snoozed_until: until });
    await expect({ view_unassigned: 0, view_all_open: 1, view_snoozed: 1 });
    t.clock.advance(2 * 3_600_000);
    assert.ok((await t.runtime.services.tickets.wakeSnoozedTickets()) >= 1);
    await expect({ view_unassigned: 1, view_all_open: 2, view_snoozed: 0 });

    // A reply from the customer reopens a pending ticket.
    assert.equal(
      (await t.request({ method: 'POST', url: `/v1/tickets/${tickets[1].id}/messages`, body: { author_type: 'customer', body: 'Any news?' } })).statusCode,
      201,
    );
    await expect({ view_pending: 0, view_all_open: 3, view_mine: 2 });

    const admin = { tokenId: 'tok_test', tokenName: 'import', scopes: ['admin' as const], brandIds: null };
    const at = '2025-06-01T10:00:00Z';
    const historic = (id: string, status: 'open' | 'pending' | 'snoozed' | 'resolved', assigned_to: string | null) => ({
      id,
      brand_id: brand,
      subject: 'Imported',
      description: 'From the old desk',
      status,
      priority: 'normal' as const,
      origin: 'api' as const,
      tags: [],
      customer: { email: 'old@example.com', name: null },
      assigned_to,
      metadata: {},
      created_at: at,
      updated_at: at,
      messages: [],
    });
    const imported = await t.runtime.services.tickets.importMany(
      admin,
      [
        historic('tick_01jx0000000000000000000001', 'pending', 'alice@support.example.com'),
        historic('tick_01jx0000000000000000000002', 'open', null),
        historic('tick_01jx0000000000000000000003', 'resolved', null),
      ],
      { emitEvents: false, source: 'jsonl' },
    );
    assert.equal(imported.written.length, 3);
    await expect({ view_mine: 3, view_unassigned: 2, view_all_open: 4, view_pending: 1 });
  });

  it('custom view counts are exact at once after creates, tag and field updates, bulk, merge, erasure, and view edits', async () => {
    const X = (await createBrand(t)).id;
    const Y = (await createBrand(t)).id;
    await t.request({ method: 'PATCH', url: `/v1/agents/${alice.id}`, body: { brand_ids: [A, B, X, Y] } });
    const tokens = t.runtime.services.tokens;
    const aliceAll = (await tokens.create({ name: 'alice x y', scopes: ['tickets:write'], brand_ids: [X, Y], agent_id: alice.id })).token;
    const aliceX = (await tokens.create({ name: 'alice x', scopes: ['tickets:read'], brand_ids: [X], agent_id: alice.id })).token;
    const me = 'alice@support.example.com';
    const start = t.clock.now().toISOString();
    const vip = await createView({ name: 'VIP', brand_id: X, filters: { tag: 'vip' } });
    const urgent = await createView({ name: 'Urgent', brand_id: X, filters: { status: 'open,pending', priority: 'urgent' } });
    const loose = await createView({ name: 'A or B, unassigned', brand_id: X, filters: { tags_any: 'a,b', unassigned: true } });
    const mineOpen = await createView({ name: 'My open', agent_id: alice.id, filters: { assigned_to: me, status: 'open' } }, aliceAll);
    const person = await createView(
      { name: 'One person in Y', agent_id: alice.id, filters: { brand_id: Y, customer_email: 'erase-me@example.com' } },
      aliceAll,
    );
    const recent = await createView({ name: 'Created since', brand_id: Y, filters: { created_after: start } });
    const check = async (want: Record<string, number>) => {
      await assertViewCountersConsistent();
      const got = await assertCountsMatchListings(aliceAll);
      for (const [id, n] of Object.entries(want)) assert.equal(got[id], n, id);
      await assertCountsMatchListings();
    };
    await check({ [vip.id]: 0, [urgent.id]: 0, [loose.id]: 0, [mineOpen.id]: 0, [person.id]: 0, [recent.id]: 0 });

    const x1 = await createTicket(t, X, { tags: ['vip', 'a'] });
    const x2 = await createTicket(t, X, { priority: 'urgent', assigned_to: me });
    const x3 = await createTicket(t, X, { tags: ['b'] });
    t.clock.advance(1000);
    const y1 = await createTicket(t, Y, { customer: { email: 'erase-me@example.com', name: 'Erin Erase' }, assigned_to: me });
    const y2 = await createTicket(t, Y, { customer: { email: 'erase-me@example.com', name: 'Erin Erase' } });
    await check({ [vip.id]: 1, [urgent.id]: 1, [loose.id]: 2, [mineOpen.id]: 2, [person.id]: 2, [recent.id]: 2 });
    // The same agent's token of brand X alone counts its agent views within X.
    const onlyX = await counts(aliceX);
    assert.equal(onlyX[mineOpen.id], 1);
    assert.equal(onlyX[person.id], 0);
    assert.equal(onlyX[recent.id], undefined, 'a view of brand Y is not seen by a token of X');

    const patch = async (id: string, body: Json) => assert.equal((await t.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body })).statusCode, 200);
    await patch(x1.id, { tags_remove: ['vip'] });
    await patch(x3.id, { tags_add: ['vip'], assigned_to: me });
    await patch(x2.id, { status: 'pending' });
    await check({ [vip.id]: 1, [urgent.id]: 1, [loose.id]: 1, [mineOpen.id]: 2 });
    await patch(x2.id, { priority: 'low' });
    await patch(x1.id, { tags: ['b'] });
    await check({ [urgent.id]: 0, [loose.id]: 1, [mineOpen.id]: 2 });

    const bulk = await t.request({ method: 'POST', url: '/v1/tickets/bulk', body: { ids: [x1.id, x2.id, x3.id], change: { tags_add: ['vip'] } } });
    assert.equal(bulk.statusCode, 200, bulk.body);
    await check({ [vip.id]: 3 });
    const bulkStatus = await t.request({ method: 'POST', url: '/v1/tickets/bulk', body: { ids: [x3.id, y1.id], change: { status: 'resolved' } } });
    assert.equal(bulkStatus.statusCode, 200, bulkStatus.body);
    await check({ [vip.id]: 3, [mineOpen.id]: 0 });

    const merged = await t.request({ method: 'POST', url: `/v1/tickets/${x1.id}/merge`, body: { into: x2.id } });
    assert.equal(merged.statusCode, 200, merged.body);
    await check({ [vip.id]: 3, [loose.id]: 1 });

    const customer = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${Y}&email=erase-me@example.com` })).json().data[0];
    const erased = await t.request({ method: 'POST', url: `/v1/customers/${customer.id}/erase` });
    assert.equal(erased.statusCode, 200, erased.body);
    await check({ [person.id]: 0, [recent.id]: 2 });

    // Re-filtered: counted afresh in the same request; renamed only: the counters stay.
    const edited = await t.request({ method: 'PATCH', url: `/v1/views/${vip.id}`, body: { filters: { tag: 'vip', status: 'resolved' } } });
    assert.equal(edited.statusCode, 200, edited.body);
    await check({ [vip.id]: 2 }); // x3, and x1, resolved by the merge
    assert.equal((await t.request({ method: 'PATCH', url: `/v1/views/${vip.id}`, body: { name: 'VIP, resolved' } })).statusCode, 200);
    await check({ [vip.id]: 2 });
    // A view created over tickets that exist counts them at once.
    const all = await createView({ name: 'Everything in X', brand_id: X });
    await check({ [all.id]: 3 });
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/views/${urgent.id}` })).statusCode, 204);
    await check({});
    assert.equal((await keptViewCounts(t.runtime.db, urgent.id)).size, 0);
    void y2;
  });

  it('views created and re-filtered while tickets are written concurrently count every ticket once', async () => {
    const brand = (await createBrand(t)).id;
    for (let i = 0; i < 6; i++) await createTicket(t, brand, { tags: i % 2 ? ['hot'] : [] });
    const writes = Array.from({ length: 24 }, (_, i) => createTicket(t, brand, { tags: i % 3 ? ['hot'] : ['cold'], priority: i % 2 ? 'high' : 'low' }));
    const views = [
      createView({ name: 'Hot', brand_id: brand, filters: { tag: 'hot' } }),
      createView({ name: 'High', brand_id: brand, filters: { priority: 'high' } }).then((v) =>
        t.request({ method: 'PATCH', url: `/v1/views/${v.id}`, body: { filters: { priority: 'low', tag: 'cold' } } }),
      ),
      createView({ name: 'All', brand_id: brand }),
    ];
    await Promise.all([...writes, ...views]);
    await assertViewCountersConsistent();
    await assertCountsMatchListings();
  });

  it('the counters equal a COUNT(*) after a random mix of writes', async () => {
    const brands = [(await createBrand(t)).id, (await createBrand(t)).id];
    const agents = ['alice@support.example.com', 'bob@support.example.com'];
    await t.request({ method: 'PATCH', url: `/v1/agents/${alice.id}`, body: { brand_ids: [A, B, ...brands] } });
    await t.request({ method: 'PATCH', url: `/v1/agents/${bob.id}`, body: { brand_ids: [A, B, ...brands] } });
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const ids: string[] = [];
    const statuses = ['open', 'pending', 'resolved', 'snoozed'];
    const tagsUsed = ['red', 'green', 'blue'];
    await createView({ name: 'Red', brand_id: brands[0], filters: { tag: 'red' } });
    await createView({ name: 'Red or green, open', brand_id: brands[1], filters: { tags_any: 'red,green', status: 'open' } });
    await createView({ name: 'Bob’s unresolved', agent_id: alice.id, filters: { assigned_to: agents[1], status: 'open,pending,snoozed' } }, aliceToken);
    await createView({ name: 'Assigned, not blue', brand_id: brands[0], filters: { unassigned: false, tags: 'green' } });
    for (let step = 0; step < 120; step++) {
      const op = ids.length < 5 ? 0 : rand(6);
      const id = ids[rand(ids.length)]!;
      if (op === 0) {
        ids.push((await createTicket(t, brands[rand(2)]!, rand(2) ? { assigned_to: agents[rand(2)] } : {})).id);
      } else if (op === 1 || op === 2) {
        const status = statuses[rand(4)]!;
        const body: Json = { status };
        if (status === 'snoozed') body.snoozed_until = '2030-01-01T00:00:00Z';
        await t.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body });
      } else if (op === 3) {
        const body: Json = rand(2) ? { assigned_to: rand(3) ? agents[rand(2)] : null } : { [rand(2) ? 'tags_add' : 'tags_remove']: [tagsUsed[rand(3)]] };
        await t.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body });
      } else if (op === 4) {
        const some = [...new Set([ids[rand(ids.length)]!, ids[rand(ids.length)]!, id])];
        await t.request({
          method: 'POST',
          url: '/v1/tickets/bulk',
          body: { ids: some, change: rand(2) ? { status: statuses[rand(3)] } : { assigned_to: agents[rand(2)] } },
        });
      } else {
        await t.request({ method: 'POST', url: `/v1/tickets/${id}/merge`, body: { into: ids[rand(ids.length)] } });
      }
    }
    await assertCountersConsistent();
    await assertViewCountersConsistent();
    await assertCountsMatchListings(aliceToken);
    await assertCountsMatchListings();
  });

  it('GET /v1/tickets?unassigned=…: only tickets with no assignee, or only assigned ones; not with assigned_to', async () => {
    const brand = (await createBrand(t)).id;
    const free = await createTicket(t, brand);
    const taken = await createTicket(t, brand, { assigned_to: 'someone@example.com' });
    const list = async (q: string) => (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&${q}` })).json().data.map((x: Json) => x.id);
    assert.deepEqual(await list('unassigned=true'), [free.id]);
    assert.deepEqual(await list('unassigned=false'), [taken.id]);
    assertProblem(await t.request({ method: 'GET', url: `/v1/tickets?unassigned=true&assigned_to=someone@example.com` }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?unassigned=maybe' }), 400);
  });

  it('the migration backfills the counters from the tickets that exist', async () => {
    const before = await recountTickets(t.runtime.db);
    assert.ok(before.size > 0);
    await t.runtime.db.schema.dropTable('ticket_counts').execute();
    await t.runtime.db.schema.dropTable('views').execute();
    await migrateViews(t.runtime.db);
    await assertCountersConsistent();
  });

  it('migration 0018 counts the views that exist', async () => {
    const brand = (await createBrand(t)).id;
    await createTicket(t, brand, { tags: ['old'] });
    await createTicket(t, brand, { tags: ['old'], priority: 'high' });
    await createView({ name: 'Old', brand_id: brand, filters: { tag: 'old' } });
    await createView({ name: 'Old and high', brand_id: brand, filters: { tag: 'old', priority: 'high' } });
    const before = await counts();
    await t.runtime.db.schema.dropTable('view_counts').execute();
    // The migration's other part, undone too so that it can run again.
    await t.runtime.db.schema.alterTable('audit_entries').dropColumn('actor_agent_id').execute();
    await t.runtime.db.schema.alterTable('audit_entries').dropColumn('actor_agent_name').execute();
    await migrateViewCounts(t.runtime.db);
    await assertViewCountersConsistent();
    assert.deepEqual(await counts(), before);
  });
});
