import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LIMITS } from '../../src/tickets/model.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

describe('tags_add and tags_remove on PATCH', () => {
  let t: TestApp;
  let brand: string;
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
  });
  after(() => t.close());

  const patch = (id: string, body: unknown, token?: string) => t.request({ method: 'PATCH', url: `/v1/tickets/${id}`, body, ...(token ? { token } : {}) });

  it('adds and removes against the current set, audited and evented like any tag change', async () => {
    const ticket = await createTicket(t, brand, { tags: ['billing', 'refund'] });
    const added = await patch(ticket.id, { tags_add: [' VIP ', 'billing', 'vip'] });
    assert.equal(added.statusCode, 200, added.body);
    assert.deepEqual(added.json().tags, ['billing', 'refund', 'vip']);
    const both = await patch(ticket.id, { tags_add: ['urgent'], tags_remove: ['REFUND', 'not-there'] });
    assert.deepEqual(both.json().tags, ['billing', 'vip', 'urgent']);
    const nothing = await patch(ticket.id, { tags_remove: ['absent'] });
    assert.equal(nothing.statusCode, 200);
    const audit = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit` })).json().data;
    assert.deepEqual(
      audit.filter((e: { action: string }) => e.action === 'ticket.updated').map((e: { changes: { tags: unknown } }) => e.changes.tags),
      [
        { from: ['billing', 'refund'], to: ['billing', 'refund', 'vip'] },
        { from: ['billing', 'refund', 'vip'], to: ['billing', 'vip', 'urgent'] },
      ],
      'the no-op removal wrote no entry',
    );
    const listed = (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&tag=urgent` })).json().data;
    assert.deepEqual(
      listed.map((x: { id: string }) => x.id),
      [ticket.id],
      'the tag index follows',
    );
    const refund = (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand}&tag=refund` })).json().data;
    assert.ok(!refund.some((x: { id: string }) => x.id === ticket.id));
  });

  it('routes by the new tags', async () => {
    const b = (await createBrand(t)).id;
    const vip = (await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: b, name: 'VIP', match: { tags: ['vip'] } } })).json();
    const ticket = await createTicket(t, b);
    assert.equal((await patch(ticket.id, { tags_add: ['vip'] })).json().queue.id, vip.id);
    assert.notEqual((await patch(ticket.id, { tags_remove: ['vip'] })).json().queue.id, vip.id);
  });

  it('refuses tags with tags_add/tags_remove, a tag both added and removed, too many tags and bad tags, storing nothing', async () => {
    const ticket = await createTicket(t, brand, { tags: ['one'] });
    const events = await countRows(t, 'events');
    const audits = await countRows(t, 'audit_entries');
    const cases: [unknown, string][] = [
      [{ tags: ['a'], tags_add: ['b'] }, '/tags_add'],
      [{ tags: ['a'], tags_remove: ['b'] }, '/tags_remove'],
      [{ tags_add: ['x'], tags_remove: ['X '] }, '/tags_add/0'],
      [{ tags_add: Array.from({ length: LIMITS.tagsMax }, (_, i) => `t${i}`) }, '/tags_add'],
      [{ tags_add: ['   '] }, '/tags_add/0'],
      [{ tags_remove: [''] }, '/tags_remove/0'],
      [{ tags_add: 'vip' }, '/tags_add'],
      [{ tags_add: ['ok'], status: 'bogus' }, '/status'],
    ];
    for (const [body, pointer] of cases) {
      const problem = assertProblem(await patch(ticket.id, body), 422, 'validation_failed');
      assert.equal(problem.errors?.[0]?.pointer, pointer, JSON.stringify(body));
    }
    assert.equal(await countRows(t, 'events'), events);
    assert.equal(await countRows(t, 'audit_entries'), audits);
    assert.deepEqual((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().tags, ['one']);
    const reader = await t.token(['tickets:read']);
    assertProblem(await patch(ticket.id, { tags_add: ['x'] }, reader), 403, 'forbidden');
    const otherBrand = await t.token(['tickets:write'], [(await createBrand(t)).id]);
    assertProblem(await patch(ticket.id, { tags_add: ['x'] }, otherBrand), 404, 'not_found');
    assert.deepEqual((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().tags, ['one']);
  });

  it('concurrent tags_add and tags_remove requests lose nothing', async () => {
    const ticket = await createTicket(t, brand, { tags: ['keep', 'drop-1', 'drop-2', 'drop-3'] });
    const adds = Array.from({ length: 16 }, (_, i) => patch(ticket.id, { tags_add: [`tag-${i}`] }));
    const removes = [1, 2, 3].map((i) => patch(ticket.id, { tags_remove: [`drop-${i}`] }));
    const results = await Promise.all([...adds, ...removes]);
    for (const res of results) assert.equal(res.statusCode, 200, res.body);
    const tags = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().tags as string[];
    assert.deepEqual([...tags].sort(), ['keep', ...Array.from({ length: 16 }, (_, i) => `tag-${i}`)].sort());
    const updates = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit?limit=100` }))
      .json()
      .data.filter((e: { action: string }) => e.action === 'ticket.updated');
    assert.equal(updates.length, 19, 'one audit entry per request');
  });
});
