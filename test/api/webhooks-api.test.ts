import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

describe('webhook endpoints API', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  const create = (body: Record<string, unknown>, token?: string) => t.request({ method: 'POST', url: '/v1/webhooks', body, ...(token ? { token } : {}) });

  it('creates, reads, lists, updates and deletes an endpoint; the secret shows only on create', async () => {
    const res = await create({ url: 'https://hooks.example.com/nexus', events: ['ticket.created', 'ticket.created'], description: ' CRM sync ' });
    assert.equal(res.statusCode, 201, res.body);
    const hook = res.json();
    assert.match(hook.id, /^wh_[0-9a-z]{26}$/);
    assert.equal(res.headers.location, `/v1/webhooks/${hook.id}`);
    assert.equal(Buffer.from(hook.secret.slice('whsec_'.length), 'base64').length, 32);
    assert.deepEqual(hook.events, ['ticket.created']);
    assert.equal(hook.description, 'CRM sync');
    assert.equal(hook.enabled, true);
    assert.equal(hook.brand_ids, null);

    const got = await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` });
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().secret, undefined);
    assert.ok(!got.body.includes(hook.secret));
    const list = await t.request({ method: 'GET', url: '/v1/webhooks' });
    assert.ok(list.json().data.some((w: { id: string }) => w.id === hook.id));
    assert.ok(!list.body.includes('whsec_'));

    const patched = await t.request({ method: 'PATCH', url: `/v1/webhooks/${hook.id}`, body: { events: ['*', 'ticket.updated'], enabled: false } });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(patched.json().events, ['*']);
    assert.equal(patched.json().enabled, false);
    assert.equal(patched.json().disabled_reason, 'manual');
    assert.ok(!patched.body.includes('whsec_'));

    const test = await t.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` });
    assertProblem(test, 409, 'conflict');

    const rotated = await t.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret` });
    assert.equal(rotated.statusCode, 200);
    assert.notEqual(rotated.json().secret, hook.secret);
    assert.ok(rotated.json().previous_secret_expires_at);

    const del = await t.request({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` });
    assert.equal(del.statusCode, 204);
    assertProblem(await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` }), 404, 'not_found');
    assertProblem(await t.request({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries` }), 404, 'not_found');
  });

  it('refuses unknown event types and non-http(s) URLs with a 422', async () => {
    const unknown = assertProblem(await create({ url: 'https://a.example/x', events: ['ticket.created', 'ticket.deleted'] }), 422, 'validation_failed');
    assert.equal(unknown.errors[0].pointer, '/events/1');
    for (const url of ['ftp://a.example/x', 'not a url', 'javascript:alert(1)', 'https://user:pw@a.example/x']) {
      const problem = assertProblem(await create({ url, events: ['*'] }), 422, 'validation_failed');
      assert.equal(problem.errors[0].pointer, '/url');
    }
    assertProblem(await create({ url: 'https://a.example/x', events: [] }), 422);
    assertProblem(await create({ url: 'https://a.example/x' }), 422);
    assertProblem(await create({ url: 'https://a.example/x', events: ['*'], secret: 'mine' }), 422);
  });

  it('needs the webhooks:manage scope', async () => {
    const writer = await t.token(['tickets:write']);
    assertProblem(await t.request({ method: 'GET', url: '/v1/webhooks', token: writer }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'GET', url: '/v1/events', token: writer }), 403, 'forbidden');
    assertProblem(await t.request({ method: 'GET', url: '/v1/webhooks', token: null }), 401, 'unauthorized');
    const manager = await t.token(['webhooks:manage']);
    assert.equal((await create({ url: 'https://a.example/x', events: ['*'] }, manager)).statusCode, 201);
  });

  it('applies the brand restrictions of the token', async () => {
    const a = await createBrand(t);
    const b = await createBrand(t);
    const tokenA = await t.token(['webhooks:manage'], [a.id]);
    const tokenB = await t.token(['webhooks:manage'], [b.id]);

    const mine = await create({ url: 'https://a.example/x', events: ['*'] }, tokenA);
    assert.equal(mine.statusCode, 201, mine.body);
    assert.deepEqual(mine.json().brand_ids, [a.id]);
    const other = assertProblem(await create({ url: 'https://a.example/x', events: ['*'], brand_ids: [b.id] }, tokenA), 422);
    assert.equal(other.errors[0].pointer, '/brand_ids/0');
    assertProblem(await create({ url: 'https://a.example/x', events: ['*'], brand_ids: ['brand_nope'] }), 422);

    const all = (await create({ url: 'https://all.example/x', events: ['*'] })).json();
    const id = mine.json().id;
    assertProblem(await t.request({ method: 'GET', url: `/v1/webhooks/${id}`, token: tokenB }), 404, 'not_found');
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/webhooks/${id}`, token: tokenB, body: { enabled: false } }), 404);
    assertProblem(await t.request({ method: 'DELETE', url: `/v1/webhooks/${id}`, token: tokenB }), 404);
    assertProblem(await t.request({ method: 'POST', url: `/v1/webhooks/${id}/rotate-secret`, token: tokenB }), 404);
    assertProblem(await t.request({ method: 'GET', url: `/v1/webhooks/${all.id}`, token: tokenA }), 404);
    const listA = (await t.request({ method: 'GET', url: '/v1/webhooks?limit=100', token: tokenA })).json().data.map((w: { id: string }) => w.id);
    assert.deepEqual(listA, [id]);
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/webhooks/${id}`, token: tokenA, body: { brand_ids: null } }), 422);
  });

  it('pages the endpoint list', async () => {
    const brand = await createBrand(t);
    const token = await t.token(['webhooks:manage'], [brand.id]);
    for (let i = 0; i < 3; i++) await create({ url: `https://a.example/${i}`, events: ['*'] }, token);
    const first = (await t.request({ method: 'GET', url: '/v1/webhooks?limit=2', token })).json();
    assert.equal(first.data.length, 2);
    assert.ok(first.next_cursor);
    const second = (await t.request({ method: 'GET', url: `/v1/webhooks?limit=2&after=${first.next_cursor}`, token })).json();
    assert.equal(second.data.length, 1);
    assert.equal(second.next_cursor, null);
  });

  it('replays a create with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'create-hook-1' };
    const body = { url: 'https://a.example/idem', events: ['*'] };
    const one = await t.request({ method: 'POST', url: '/v1/webhooks', body, headers });
    const two = await t.request({ method: 'POST', url: '/v1/webhooks', body, headers });
    assert.equal(one.statusCode, 201);
    assert.equal(two.json().id, one.json().id);
    assert.equal(two.headers['idempotent-replayed'], 'true');
  });
});

describe('the event log', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('lists events oldest first, by type, after an event id, by brand, with cursors', async () => {
    const a = await createBrand(t);
    const b = await createBrand(t);
    const ticket = await createTicket(t, a.id);
    await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { status: 'pending', assigned_to: 'agent@example.com' } });
    await createTicket(t, b.id);

    const all = (await t.request({ method: 'GET', url: '/v1/events' })).json();
    assert.deepEqual(
      all.data.map((e: { type: string }) => e.type),
      ['ticket.created', 'ticket.updated', 'ticket.status_changed', 'ticket.assigned', 'ticket.created'],
    );
    const first = all.data[0];
    assert.deepEqual(Object.keys(first), ['id', 'type', 'timestamp', 'data']);
    assert.equal(first.data.ticket.id, ticket.id);
    assert.deepEqual(all.data[2].data.changes, { status: { from: 'open', to: 'pending' } });

    const created = (await t.request({ method: 'GET', url: '/v1/events?type=ticket.created' })).json();
    assert.equal(created.data.length, 2);
    const rest = (await t.request({ method: 'GET', url: `/v1/events?after=${all.data[2].id}` })).json();
    assert.deepEqual(
      rest.data.map((e: { id: string }) => e.id),
      all.data.slice(3).map((e: { id: string }) => e.id),
    );

    const page1 = (await t.request({ method: 'GET', url: '/v1/events?limit=2' })).json();
    const page2 = (await t.request({ method: 'GET', url: `/v1/events?limit=2&after=${page1.next_cursor}` })).json();
    assert.deepEqual(
      page2.data.map((e: { id: string }) => e.id),
      all.data.slice(2, 4).map((e: { id: string }) => e.id),
    );

    const tokenB = await t.token(['webhooks:manage'], [b.id]);
    const onlyB = (await t.request({ method: 'GET', url: '/v1/events', token: tokenB })).json();
    assert.equal(onlyB.data.length, 1);
    assert.equal(onlyB.data[0].data.ticket.brand_id, b.id);

    assertProblem(await t.request({ method: 'GET', url: '/v1/events?type=ticket.exploded' }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/events?after=garbage!' }), 400);
  });
});
