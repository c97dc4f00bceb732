import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

describe('queues and queue placement', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const position = async (id: string) => (await t.request({ method: 'GET', url: `/v1/tickets/${id}` })).json().queue.position;

  it('orders by priority then age, and positions follow creates, assignments and status changes', async () => {
    const brand = (await createBrand(t)).id;
    const a = await createTicket(t, brand);
    assert.equal(a.queue.position, 1);
    const b = await createTicket(t, brand);
    assert.equal(b.queue.position, 2);
    const urgent = await createTicket(t, brand, { priority: 'urgent' });
    assert.equal(urgent.queue.position, 1, 'urgent jumps ahead');
    const low = await createTicket(t, brand, { priority: 'low' });
    assert.equal(low.queue.position, 4);
    const high = await createTicket(t, brand, { priority: 'high' });
    assert.equal(high.queue.position, 2);
    assert.deepEqual([await position(urgent.id), await position(high.id), await position(a.id), await position(b.id), await position(low.id)], [1, 2, 3, 4, 5]);

    // Assigned tickets stop waiting.
    await t.request({ method: 'PATCH', url: `/v1/tickets/${high.id}`, body: { assigned_to: 'agent@example.com' } });
    assert.equal(await position(high.id), null);
    assert.equal(await position(a.id), 2);
    // So do tickets that are not open.
    await t.request({ method: 'PATCH', url: `/v1/tickets/${urgent.id}`, body: { status: 'pending' } });
    assert.equal(await position(urgent.id), null);
    assert.equal(await position(a.id), 1);
    assert.equal(await position(low.id), 3);
    // Back to open: back in line by priority and age.
    await t.request({ method: 'PATCH', url: `/v1/tickets/${urgent.id}`, body: { status: 'open' } });
    assert.equal(await position(urgent.id), 1);
    // A priority change moves a ticket.
    const raised = await t.request({ method: 'PATCH', url: `/v1/tickets/${low.id}`, body: { priority: 'urgent' } });
    assert.equal(raised.json().queue.position, 2, 'behind the older urgent ticket');
    assert.equal(await position(a.id), 3);
  });

  it('lists the waiting tickets of a queue in order, paginated', async () => {
    const brand = await createBrand(t);
    const created = [];
    for (const priority of ['low', 'normal', 'urgent', 'high', 'normal']) created.push(await createTicket(t, brand.id, { priority }));
    const order: string[] = [];
    const positions: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { id: string; position: number }[]; next_cursor: string | null } = (
        await t.request({ method: 'GET', url: `/v1/queues/${brand.default_queue_id}/tickets?limit=2${cursor ? `&after=${cursor}` : ''}` })
      ).json();
      order.push(...page.data.map((x) => x.id));
      positions.push(...page.data.map((x) => x.position));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(order, [created[2].id, created[3].id, created[1].id, created[4].id, created[0].id]);
    assert.deepEqual(positions, [1, 2, 3, 4, 5]);
  });

  it('routes new tickets to the first matching queue by order, else the default', async () => {
    const brand = await createBrand(t);
    const vip = await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name: 'VIP', match: { tags: ['vip', 'gold'] }, order: 2 } });
    assert.equal(vip.statusCode, 201, vip.body);
    const urgentEmail = await t.request({
      method: 'POST',
      url: '/v1/queues',
      body: { brand_id: brand.id, name: 'Urgent email', match: { priority: ['urgent', 'high'], origin: ['email'] }, order: 1 },
    });
    assert.equal(urgentEmail.statusCode, 201, urgentEmail.body);
    const queues = (await t.request({ method: 'GET', url: `/v1/queues?brand_id=${brand.id}` })).json().data;
    assert.deepEqual(
      queues.map((q: { name: string }) => q.name),
      ['Urgent email', 'VIP', 'Default'],
    );

    const plain = await createTicket(t, brand.id);
    assert.equal(plain.queue.name, 'Default');
    const gold = await createTicket(t, brand.id, { tags: ['Gold'] });
    assert.equal(gold.queue.name, 'VIP');
    assert.equal(gold.queue.position, 1);
    const both = await createTicket(t, brand.id, { tags: ['vip'], priority: 'urgent', origin: 'email' });
    assert.equal(both.queue.name, 'Urgent email', 'lower order wins');
    const urgentWeb = await createTicket(t, brand.id, { priority: 'urgent', origin: 'web' });
    assert.equal(urgentWeb.queue.name, 'Default', 'every criterion must hold');
    // Re-tagging re-routes.
    const moved = await t.request({ method: 'PATCH', url: `/v1/tickets/${plain.id}`, body: { tags: ['vip'] } });
    assert.equal(moved.json().queue.name, 'VIP');
    assert.equal(moved.json().queue.position, 1, 'older than the gold ticket');
    assert.equal(await position(gold.id), 2);
  });

  it('rejects bad queues with a 422 and stores nothing', async () => {
    const brand = await createBrand(t);
    const count = async () => (await t.request({ method: 'GET', url: `/v1/queues?brand_id=${brand.id}` })).json().data.length;
    for (const body of [
      { brand_id: brand.id, name: 'x' },
      { brand_id: brand.id, name: 'x', match: {} },
      { brand_id: brand.id, name: 'x', match: { priority: ['p1'] } },
      { brand_id: brand.id, name: 'x', match: { origin: ['fax'] } },
      { brand_id: 'brand_missing', name: 'x', match: { tags: ['a'] } },
      { brand_id: brand.id, name: '', match: { tags: ['a'] } },
    ]) {
      assertProblem(await t.request({ method: 'POST', url: '/v1/queues', body }), 422);
    }
    assert.equal(await count(), 1);
  });
});
