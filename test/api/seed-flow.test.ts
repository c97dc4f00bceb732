import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { countRows } from '../helpers/factories.js';

/** The examples of the public reference, in order, through HTTP. */
describe('the seed reference, end to end', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('creates brand_123, a ticket, lists it, replies, updates and retrieves it with history', async () => {
    const brand = await t.request({ method: 'POST', url: '/v1/brands', body: { id: 'brand_123', name: 'Acme' } });
    assert.equal(brand.statusCode, 201, brand.body);

    const created = await t.request({
      method: 'POST',
      url: '/v1/tickets',
      body: {
        brand_id: 'brand_123',
        subject: 'Refund request',
        description: 'Customer requested refund on order 10021',
        customer: { email: 'customer@example.com', name: 'Casey Customer' },
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const ticket = created.json();
    assert.match(ticket.id, /^tick_[0-9a-z]{26}$/);
    assert.equal(ticket.brand_id, 'brand_123');
    assert.equal(ticket.status, 'open');
    assert.equal(ticket.priority, 'normal');
    assert.equal(ticket.origin, 'api');
    assert.deepEqual(ticket.tags, []);
    assert.deepEqual(ticket.metadata, {});
    assert.equal(ticket.assigned_to, null);
    assert.deepEqual(ticket.customer, { email: 'customer@example.com', name: 'Casey Customer' });
    assert.match(ticket.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.deepEqual(ticket.queue, { id: ticket.queue.id, name: 'Default', position: 1 });
    assert.ok(created.headers.etag);

    const list = await t.request({ method: 'GET', url: '/v1/tickets?brand_id=brand_123&status=open' });
    assert.equal(list.statusCode, 200);
    const page = list.json();
    assert.equal(page.data.length, 1);
    assert.equal(page.next_cursor, null);
    for (const key of ['id', 'subject', 'status', 'brand_id', 'priority', 'created_at']) assert.ok(key in page.data[0]);

    const reply = await t.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      body: { author_type: 'agent', body: "Thanks for reaching out! We've refunded the order.", cc: ['finance@example.com'] },
    });
    assert.equal(reply.statusCode, 201, reply.body);
    assert.match(reply.json().id, /^msg_/);
    assert.deepEqual(reply.json().cc, ['finance@example.com']);

    const patch = await t.request({
      method: 'PATCH',
      url: `/v1/tickets/${ticket.id}`,
      body: { status: 'pending', priority: 'high', assigned_to: 'agent@example.com', tags: ['Refund', ' billing ', 'refund'] },
    });
    assert.equal(patch.statusCode, 200, patch.body);
    assert.deepEqual(patch.json().tags, ['refund', 'billing']);
    assert.equal(patch.json().queue.position, null);

    const full = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    assert.equal(full.messages.length, 2);
    assert.equal(full.messages[0].author_type, 'customer');
    assert.equal(full.messages[0].body, 'Customer requested refund on order 10021');
    assert.equal(full.messages[1].author_type, 'agent');
    assert.deepEqual(
      full.participants.map((p: { email: string; role: string }) => [p.email, p.role]),
      [
        ['customer@example.com', 'customer'],
        ['agent@example.com', 'assignee'],
        ['finance@example.com', 'cc'],
      ],
    );
    assert.equal(full.audit_trail.length, 3);
    const update = full.audit_trail[2];
    assert.equal(update.action, 'ticket.updated');
    assert.deepEqual(update.changes.status, { from: 'open', to: 'pending' });
    assert.deepEqual(update.changes.assigned_to, { from: null, to: 'agent@example.com' });
    assert.equal(update.actor.name, 'test admin');
    assert.ok(full.first_response_at);

    const events = await t.runtime.db.selectFrom('events').select('type').orderBy('id').execute();
    assert.deepEqual(
      events.map((e) => e.type),
      ['ticket.created', 'ticket.message_created', 'ticket.updated', 'ticket.status_changed', 'ticket.assigned'],
    );
    assert.equal(await countRows(t, 'tickets'), 1);
  });
});
