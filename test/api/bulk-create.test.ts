import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Principal } from '../../src/auth/scopes.js';
import { AppError } from '../../src/http/problem.js';
import { build } from '../helpers/app.js';
import { createBrand } from '../helpers/factories.js';

/** The service's bulk path (seeding, imports): what it writes must be what single creates write. */

const operator: Principal = { tokenId: 'tok_bulk', tokenName: 'bulk', scopes: ['admin'], brandIds: null };

it('createMany writes every ticket as create does, in queue order, each readable over the API', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const inputs = Array.from({ length: 25 }, (_, i) => ({
    brand_id: brand.id,
    subject: ` Bulk ${i} `,
    description: `Body of ticket ${i}`,
    customer: { email: `Customer${i}@Example.com`, name: `Customer ${i}` },
    tags: i % 2 ? ['billing'] : [],
  }));
  const created = await app.runtime.services.tickets.createMany(operator, inputs);
  assert.equal(created.length, 25);
  assert.deepEqual(
    created.map((c) => c.queue.position),
    Array.from({ length: 25 }, (_, i) => i + 1),
  );
  for (const [i, c] of created.entries()) {
    const res = await app.request({ method: 'GET', url: `/v1/tickets/${c.id}` });
    assert.equal(res.statusCode, 200);
    const ticket = res.json();
    assert.equal(ticket.subject, `Bulk ${i}`);
    assert.equal(ticket.customer.email, `customer${i}@example.com`);
    assert.equal(ticket.messages.length, 1);
    assert.equal(ticket.audit_trail[0].action, 'ticket.created');
    assert.equal(ticket.queue.position, i + 1);
  }
  const events = await app.request({ method: 'GET', url: '/v1/events?limit=100' });
  assert.equal(events.json().data.filter((e: { type: string }) => e.type === 'ticket.created').length, 25);
});

it('createMany with one bad input stores nothing and names the input', async (t) => {
  const app = await build(t);
  const brand = await createBrand(app);
  const good = { brand_id: brand.id, subject: 'Fine', customer: { email: 'a@example.com' } };
  const cases: { input: object; pointer: string }[] = [
    { input: { ...good, subject: '   ' }, pointer: '/2/subject' },
    { input: { ...good, brand_id: 'brand_missing' }, pointer: '/2/brand_id' },
  ];
  for (const { input, pointer } of cases) {
    await assert.rejects(
      app.runtime.services.tickets.createMany(operator, [good, good, input as typeof good, good]),
      (err: unknown) => err instanceof AppError && err.status === 422 && err.errors?.[0]?.pointer === pointer,
    );
  }
  const list = await app.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand.id}` });
  assert.equal(list.json().data.length, 0);
});

it('bulk creates and moves running at once in one queue all succeed, positions exact', async (t) => {
  // On PostgreSQL these took the queue tree's row locks in different orders and deadlocked.
  const app = await build(t);
  const brand = await createBrand(app);
  const input = (i: number) => ({
    brand_id: brand.id,
    subject: `Bulk ${i}`,
    customer: { email: `c${i}@example.com` },
    priority: (['low', 'normal', 'high', 'urgent'] as const)[i % 4],
  });
  const first = await app.runtime.services.tickets.createMany(
    operator,
    Array.from({ length: 12 }, (_, i) => input(i)),
  );
  const moves = first.map((c, i) => app.runtime.services.tickets.update(operator, c.id, { priority: (['urgent', 'low', 'high', 'normal'] as const)[i % 4] }));
  const batches = Array.from({ length: 3 }, (_, b) =>
    app.runtime.services.tickets.createMany(
      operator,
      Array.from({ length: 10 }, (_, i) => input(100 * b + i)),
    ),
  );
  const settled = await Promise.allSettled([...moves, ...batches]);
  assert.deepEqual(
    settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason)),
    [],
  );
  const list = await app.request({ method: 'GET', url: `/v1/queues/${brand.default_queue_id}/tickets?limit=100` });
  assert.equal(list.statusCode, 200, list.body);
  const positions = list.json().data.map((ticket: { position: number }) => ticket.position);
  assert.deepEqual(
    positions,
    Array.from({ length: 42 }, (_, i) => i + 1),
  );
});
