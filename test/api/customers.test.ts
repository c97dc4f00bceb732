import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backfillCustomers } from '../../src/db/migrations/0014-people.js';
import { CUSTOMER_SCAN_ROWS } from '../../src/customers/service.js';
import { newId } from '../../src/shared/ids.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here
type Json = any;

describe('customers', () => {
  let t: TestApp;
  let A: string;
  let B: string;
  before(async () => {
    t = await buildTestApp();
    A = (await createBrand(t, { name: 'Customers A' })).id;
    B = (await createBrand(t, { name: 'Customers B' })).id;
  });
  after(() => t.close());

  let seq = 0;
  const address = (name = 'casey') => `${name}${++seq}@customer.example.com`;
  const find = async (brand: string, email: string, token?: string): Promise<Json> => {
    const res = await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&email=${encodeURIComponent(email)}`, ...(token ? { token } : {}) });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().data[0];
  };
  const customerRows = async () => (await t.runtime.db.selectFrom('customers').selectAll().orderBy('id').execute()).map((r) => JSON.stringify(r));

  it('are made by the first ticket, one per brand and address, and counted by every ticket write', async () => {
    const email = address();
    t.clock.set('2026-02-01T10:00:00Z');
    const first = await createTicket(t, A, { customer: { email: email.toUpperCase(), name: 'Casey' } });
    let customer = await find(A, email);
    assert.match(customer.id, /^cus_[0-9a-z]{26}$/);
    assert.deepEqual(
      { email: customer.email, name: customer.name, ticket_count: customer.ticket_count, open: customer.open_ticket_count, last: customer.last_activity_at },
      { email, name: 'Casey', ticket_count: 1, open: 1, last: '2026-02-01T10:00:00Z' },
    );
    t.clock.set('2026-02-01T11:00:00Z');
    const second = await createTicket(t, A, { customer: { email, name: 'Someone else' } });
    await createTicket(t, B, { customer: { email } });
    customer = await find(A, email);
    assert.deepEqual([customer.ticket_count, customer.open_ticket_count, customer.name], [2, 2, 'Casey']);
    assert.equal(customer.last_activity_at, '2026-02-01T11:00:00Z');
    assert.equal((await find(B, email)).ticket_count, 1, 'another brand: another customer');
    assert.notEqual((await find(B, email)).id, customer.id);

    // Resolving and reopening move the open count; pending and snoozed still count as open.
    await t.request({ method: 'PATCH', url: `/v1/tickets/${first.id}`, body: { status: 'resolved' } });
    assert.equal((await find(A, email)).open_ticket_count, 1);
    await t.request({ method: 'PATCH', url: `/v1/tickets/${second.id}`, body: { status: 'pending' } });
    assert.equal((await find(A, email)).open_ticket_count, 1);
    t.clock.set('2026-02-02T09:00:00Z');
    const reply = await t.request({ method: 'POST', url: `/v1/tickets/${first.id}/messages`, body: { author_type: 'customer', body: 'Still broken' } });
    assert.equal(reply.statusCode, 201, reply.body);
    customer = await find(A, email);
    assert.deepEqual([customer.open_ticket_count, customer.last_activity_at], [2, '2026-02-02T09:00:00Z'], 'reopened by the reply');
    // An imported (back-dated) message does not move last activity back.
    await t.request({
      method: 'POST',
      url: `/v1/tickets/${first.id}/messages`,
      body: { author_type: 'agent', body: 'old', created_at: '2025-01-01T00:00:00Z' },
    });
    assert.equal((await find(A, email)).last_activity_at, '2026-02-02T09:00:00Z');

    const tickets = (await t.request({ method: 'GET', url: `/v1/customers/${customer.id}/tickets` })).json();
    assert.deepEqual(
      tickets.data.map((x: Json) => x.id),
      [second.id, first.id],
    );
    const paged = (await t.request({ method: 'GET', url: `/v1/customers/${customer.id}/tickets?limit=1` })).json();
    assert.deepEqual([paged.data[0].id, typeof paged.next_cursor], [second.id, 'string']);
    const rest = (await t.request({ method: 'GET', url: `/v1/customers/${customer.id}/tickets?limit=1&after=${paged.next_cursor}` })).json();
    assert.deepEqual([rest.data[0].id, rest.next_cursor], [first.id, null]);
  });

  it('a customer message from a new address makes that person a customer too', async () => {
    const ticket = await createTicket(t, A, { customer: { email: address() } });
    const colleague = address('colleague');
    await t.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      body: { author_type: 'customer', body: 'Me too', author: { email: colleague, name: 'Col' } },
    });
    const customer = await find(A, colleague);
    assert.deepEqual([customer.name, customer.ticket_count, customer.open_ticket_count], ['Col', 0, 0]);
  });

  it('the bulk create counts each customer once per batch', async () => {
    const brand = (await createBrand(t)).id;
    const email = address('bulk');
    const admin = { tokenId: 'tok_bulk', tokenName: 'bulk', scopes: ['admin' as const], brandIds: null };
    await t.runtime.services.tickets.createMany(admin, [
      { brand_id: brand, subject: 'one', customer: { email } },
      { brand_id: brand, subject: 'two', customer: { email: email.toUpperCase(), name: 'Named later' } },
      { brand_id: brand, subject: 'three', customer: { email: address('other') } },
    ]);
    const customer = await find(brand, email);
    assert.deepEqual([customer.ticket_count, customer.open_ticket_count, customer.name], [2, 2, 'Named later']);
    assert.equal((await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}` })).json().data.length, 2);
  });

  it('lists with brand_id, email and q filters, newest first, with cursors', async () => {
    const brand = (await createBrand(t)).id;
    const made = [];
    for (const [name, email] of [
      ['Robin Banks', 'robin@banks.example'],
      ['Ann Other', 'ann@other.example'],
      ['Rob_in 100%', 'literal@odd.example'],
    ])
      made.push(await createTicket(t, brand, { customer: { email, name } }));
    const list = async (query: string) =>
      (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&${query}` })).json().data.map((c: Json) => c.email);
    assert.deepEqual(await list(''), ['literal@odd.example', 'ann@other.example', 'robin@banks.example']);
    assert.deepEqual(await list('q=ROBIN'), ['robin@banks.example']);
    assert.deepEqual(await list('q=rob'), ['literal@odd.example', 'robin@banks.example']);
    assert.deepEqual(await list('q=100%25'), ['literal@odd.example'], 'a % in q is a literal');
    assert.deepEqual(await list('q=b_in'), ['literal@odd.example'], 'so is an _');
    assert.deepEqual(await list('q=other.example'), ['ann@other.example']);
    assert.deepEqual(await list('email=ANN@other.example'), ['ann@other.example']);
    const c = (await find(brand, 'ann@other.example')).id;
    await t.request({ method: 'PATCH', url: `/v1/customers/${c}`, body: { external_id: 'CRM-4711' } });
    assert.deepEqual(await list('q=crm-47'), ['ann@other.example']);

    const page1 = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&limit=2` })).json();
    assert.equal(page1.data.length, 2);
    const page2 = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&limit=2&after=${page1.next_cursor}` })).json();
    assert.deepEqual([page2.data.length, page2.next_cursor], [1, null]);
    assertProblem(await t.request({ method: 'GET', url: `/v1/customers?brand_id=${A}&limit=2&after=${page1.next_cursor}` }), 400, 'invalid_cursor');
    assertProblem(await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&q=%20%20` }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: `/v1/customers?limit=0` }), 400);
  });

  it('q reads a bounded window of customers per request; a short or empty page carries the cursor that scans on', async () => {
    const brand = (await createBrand(t)).id;
    const at = '2026-01-01T00:00:00.000Z';
    const start = Date.now();
    const rows = Array.from({ length: CUSTOMER_SCAN_ROWS + 10 }, (_, i) => ({
      id: newId('cus', start + i),
      brand_id: brand,
      email: i === 0 ? 'needle@oldest.example' : `filler${i}@scan.example`,
      name: null,
      external_id: null,
      notes: null,
      ticket_count: 0,
      open_ticket_count: 0,
      last_activity_at: at,
      created_at: at,
      updated_at: at,
      erased_at: null,
    }));
    for (let i = 0; i < rows.length; i += 500)
      await t.runtime.db
        .insertInto('customers')
        .values(rows.slice(i, i + 500))
        .execute();
    for (const scope of [`brand_id=${brand}&`, '']) {
      // The oldest customer lies beyond the first window of the newest CUSTOMER_SCAN_ROWS.
      const first = await t.request({ method: 'GET', url: `/v1/customers?${scope}q=needle&limit=5` });
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json().data, []);
      assert.ok(first.json().next_cursor, 'the scan goes on');
      const second = await t.request({ method: 'GET', url: `/v1/customers?${scope}q=needle&limit=5&after=${first.json().next_cursor}` });
      assert.equal(second.statusCode, 200, second.body);
      assert.deepEqual(
        second.json().data.map((c: Json) => c.email),
        ['needle@oldest.example'],
      );
      assert.equal(second.json().next_cursor, null, 'the customers ended');
    }
    // A full page within the window answers as any list does.
    const full = (await t.request({ method: 'GET', url: `/v1/customers?brand_id=${brand}&q=filler&limit=3` })).json();
    assert.equal(full.data.length, 3);
    assert.ok(full.next_cursor);
  });

  it('updates name, external_id and notes; refuses anything else, storing nothing', async () => {
    await createTicket(t, A, { customer: { email: 'patch@customer.example.com', name: 'Pat' } });
    const customer = await find(A, 'patch@customer.example.com');
    const patched = await t.request({
      method: 'PATCH',
      url: `/v1/customers/${customer.id}`,
      body: { name: 'Patricia', external_id: ' 42 ', notes: 'Prefers e-mail' },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual([patched.json().name, patched.json().external_id, patched.json().notes], ['Patricia', '42', 'Prefers e-mail']);
    assert.deepEqual(await find(A, 'patch@customer.example.com'), patched.json());
    const cleared = (await t.request({ method: 'PATCH', url: `/v1/customers/${customer.id}`, body: { notes: null } })).json();
    assert.equal(cleared.notes, null);

    const before = await customerRows();
    for (const body of [{ email: 'new@example.com' }, { ticket_count: 0 }, { notes: 'x'.repeat(10_001) }, { name: 'x'.repeat(201) }, { external_id: 42 }]) {
      assertProblem(await t.request({ method: 'PATCH', url: `/v1/customers/${customer.id}`, body }), 422, 'validation_failed');
    }
    assertProblem(await t.request({ method: 'PATCH', url: '/v1/customers/cus_01kf0hj0800000000000000000', body: { name: 'x' } }), 404, 'not_found');
    assertProblem(await t.request({ method: 'GET', url: '/v1/customers/cus_01kf0hj0800000000000000000' }), 404, 'not_found');
    assertProblem(await t.request({ method: 'GET', url: '/v1/customers/cus_01kf0hj0800000000000000000/tickets' }), 404, 'not_found');
    assert.deepEqual(await customerRows(), before);
  });

  it('brand-restricted tokens and scopes', async () => {
    const email = address('scoped');
    await createTicket(t, A, { customer: { email } });
    await createTicket(t, B, { customer: { email } });
    const ofA = await find(A, email);
    const ofB = await find(B, email);
    const readerA = await t.token(['tickets:read'], [A]);
    const writerA = await t.token(['tickets:write'], [A]);
    const listed = (await t.request({ method: 'GET', url: `/v1/customers?email=${email}`, token: readerA })).json().data;
    assert.deepEqual(
      listed.map((c: Json) => c.id),
      [ofA.id],
    );
    assert.equal((await t.request({ method: 'GET', url: `/v1/customers?brand_id=${B}`, token: readerA })).json().data.length, 0);
    assert.equal((await t.request({ method: 'GET', url: `/v1/customers/${ofA.id}`, token: readerA })).statusCode, 200);
    assertProblem(await t.request({ method: 'GET', url: `/v1/customers/${ofB.id}`, token: readerA }), 404, 'not_found');
    assertProblem(await t.request({ method: 'GET', url: `/v1/customers/${ofB.id}/tickets`, token: readerA }), 404, 'not_found');
    const before = await customerRows();
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/customers/${ofB.id}`, token: writerA, body: { notes: 'x' } }), 404, 'not_found');
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/customers/${ofA.id}`, token: readerA, body: { notes: 'x' } }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'GET', url: '/v1/customers', token: await t.token(['webhooks:manage']) }), 403, 'forbidden');
    assert.deepEqual(await customerRows(), before);
    assert.equal((await t.request({ method: 'PATCH', url: `/v1/customers/${ofA.id}`, token: writerA, body: { notes: 'ok' } })).statusCode, 200);
  });

  it('the migration’s backfill gives the same customers and counts the ticket writes kept', async () => {
    const kept = await t.runtime.db
      .selectFrom('customers')
      .select(['brand_id', 'email', 'ticket_count', 'open_ticket_count', 'last_activity_at'])
      .where('ticket_count', '>', 0)
      .orderBy('brand_id')
      .orderBy('email')
      .execute();
    await t.runtime.db.deleteFrom('customers').execute();
    await backfillCustomers(t.runtime.db);
    const rebuilt = await t.runtime.db
      .selectFrom('customers')
      .select(['brand_id', 'email', 'ticket_count', 'open_ticket_count', 'last_activity_at'])
      .orderBy('brand_id')
      .orderBy('email')
      .execute();
    assert.ok(kept.length > 5);
    assert.deepEqual(
      rebuilt.map((r) => ({ ...r, ticket_count: Number(r.ticket_count), open_ticket_count: Number(r.open_ticket_count) })),
      kept.map((r) => ({ ...r, ticket_count: Number(r.ticket_count), open_ticket_count: Number(r.open_ticket_count) })),
    );
  });
});
