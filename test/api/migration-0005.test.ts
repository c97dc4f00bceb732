/**
 * Migration 0005 repairs rows that earlier versions stored from bad input and that the response
 * schemas refuse, so that a database holding them serves its lists again (issue 9, defect 3).
 * The rows are written here exactly as the old code wrote them; the migration is then run again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as repairStoredInputs from '../../src/db/migrations/0005-repair-stored-inputs.js';
import { newId } from '../../src/shared/ids.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';

describe('migration 0005 repairs stored rows the API can no longer serve', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('after it, every list answers 200 and routing is unchanged', async () => {
    const db = t.runtime.db;
    const brand = await createBrand(t);
    const queue = async (name: string, match: unknown, order: number) => {
      const res = await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name, match, order } });
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    };
    const vip = await queue('VIP', { tags: ['vip'] }, 10);
    const urgent = await queue('Urgent', { priority: ['urgent'] }, 20);
    const stamp = '2026-01-01T00:00:00Z';
    const broken = async (name: string, match: string, order: number) => {
      const id = newId('que');
      await db
        .insertInto('queues')
        .values({ id, brand_id: brand.id, name, match, sort_order: order, is_default: 0, created_at: stamp, updated_at: stamp })
        .execute();
      return id;
    };
    // As POST /v1/queues stored them from ["   "], ["", "gold"] and "İ" x 64 (128 code points lower-cased).
    const blank = await broken('Blank', '{"tags":[""]}', 1);
    const blankUrgent = await broken('Blank but urgent', '{"tags":["",""],"priority":["urgent"]}', 2);
    const mixed = await broken('Mixed', '{"tags":["","gold","gold"],"priority":["high"]}', 3);
    const long = await broken('Long', JSON.stringify({ tags: ['i̇'.repeat(64)] }), 4);

    // As snoozed_until / expires_at / an import's created_at were stored from 9999-12-31T23:00:00-05:00 and
    // 0000-01-01T00:00:00+01:00.
    const snoozed = await createTicket(t, brand.id);
    await db.updateTable('tickets').set({ status: 'snoozed', snoozed_until: '+010000-01-01T04:00:00Z' }).where('id', '=', snoozed.id).execute();
    const token = await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'far', scopes: ['tickets:read'] } });
    await db.updateTable('tokens').set({ expires_at: '+010000-01-01T04:00:00Z' }).where('id', '=', token.json().id).execute();
    const message = await t.request({
      method: 'POST',
      url: `/v1/tickets/${snoozed.id}/messages`,
      body: { author_type: 'customer', body: 'old mail', created_at: '2001-01-01T00:00:00Z' },
    });
    await db.updateTable('messages').set({ created_at: '-000001-12-31T23:00:00Z' }).where('id', '=', message.json().id).execute();

    // The fixture reproduces the breakage: these lists cannot be served.
    for (const url of ['/v1/queues', `/v1/queues?brand_id=${brand.id}`, `/v1/queues/${blank}`, '/v1/tickets', '/v1/tokens']) {
      assert.equal((await t.request({ method: 'GET', url })).statusCode, 500, `${url} fails before the repair`);
    }
    const validBefore = await db.selectFrom('queues').selectAll().where('id', 'in', [vip.id, urgent.id]).orderBy('id').execute();

    // Run as an upgrade runs it; later migrations already ran, so it is called directly.
    await repairStoredInputs.up(db);

    const get = async (url: string) => {
      const res = await t.request({ method: 'GET', url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      return res.json();
    };
    const queues = new Map<string, { match: unknown }>((await get(`/v1/queues?brand_id=${brand.id}`)).data.map((q: { id: string }) => [q.id, q]));
    await get('/v1/queues');
    // A tag no ticket can carry never matched: dropping it keeps routing as it was. A key left with
    // nothing matched no ticket, and neither does a routing queue whose match is null.
    assert.equal(queues.get(blank)!.match, null);
    assert.equal(queues.get(blankUrgent)!.match, null);
    assert.deepEqual(queues.get(mixed)!.match, { tags: ['gold'], priority: ['high'] });
    assert.equal(queues.get(long)!.match, null);
    for (const id of [blank, blankUrgent, mixed, long]) await get(`/v1/queues/${id}`);
    assert.deepEqual(
      await db.selectFrom('queues').selectAll().where('id', 'in', [vip.id, urgent.id]).orderBy('id').execute(),
      validBefore,
      'valid queues untouched',
    );

    assert.equal((await createTicket(t, brand.id, { priority: 'urgent' })).queue.id, urgent.id, 'a repaired queue ahead of it still takes nothing');
    assert.equal((await createTicket(t, brand.id, { priority: 'high', tags: ['gold'] })).queue.id, mixed);
    assert.equal((await createTicket(t, brand.id, { tags: ['vip'] })).queue.id, vip.id);

    const tickets = await get('/v1/tickets?limit=100');
    assert.equal(tickets.data.find((x: { id: string }) => x.id === snoozed.id).snoozed_until, '9999-12-31T23:59:59Z');
    const tokens = await get('/v1/tokens');
    assert.equal(tokens.data.find((x: { id: string }) => x.id === token.json().id).expires_at, '9999-12-31T23:59:59Z');
    const messages = await get(`/v1/tickets/${snoozed.id}/messages`);
    assert.equal(messages.data[0].created_at, '0000-01-01T00:00:00Z');
    await get(`/v1/tickets/${snoozed.id}`);

    // Running it again changes nothing.
    const all = await db.selectFrom('queues').selectAll().orderBy('id').execute();
    // Run as an upgrade runs it; later migrations already ran, so it is called directly.
    await repairStoredInputs.up(db);
    assert.deepEqual(await db.selectFrom('queues').selectAll().orderBy('id').execute(), all);
  });
});
