import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../src/auth/scopes.js';
import { cursorCodecFor } from '../../src/http/cursor-key.js';
import { createSearchService } from '../../src/search/service.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';

/**
 * Filtered searches read the ticket fields from the in-process filter index (filter-index.ts),
 * which follows the tables by the change counter: these check that it filters exactly what the
 * tickets say, however selective the filter, and that a change made through another service
 * instance (as another process would) is seen at the next search.
 */
describe('search filters, from the in-process filter index', () => {
  let t: TestApp;
  let brand: string;
  const admin: Principal = { tokenId: 'tok_test', tokenName: 'test', scopes: ['admin'], brandIds: null };
  const ids: string[] = [];

  const found = async (filters: Record<string, unknown>, query = 'refund', limit = 100): Promise<string[]> => {
    const res = await t.request({
      method: 'POST',
      url: '/v1/tickets/search',
      body: { query, mode: 'keyword', limit, filters: { brand_id: brand, ...filters } },
    });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json().data as { ticket: { id: string } }[]).map((h) => h.ticket.id);
  };

  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
    // 60 refund tickets; the one that will be the only match of the filters is the weakest keyword match.
    for (let i = 0; i < 60; i++) {
      const strong = i < 59;
      t.clock.set(`2025-0${1 + (i % 9)}-10T10:00:00Z`);
      ids.push(
        (
          await createTicket(t, brand, {
            subject: strong ? `Refund refund for order ${i}` : `Question about an order, ${i}`,
            description: strong ? 'Please refund me, a refund is due.' : 'Maybe a refund, eventually.',
          })
        ).id,
      );
    }
  });
  after(() => t.close());

  it('finds the only ticket passing a selective filter, even when it ranks last', async () => {
    const weakest = ids[59]!;
    const res = await t.request({
      method: 'PATCH',
      url: `/v1/tickets/${weakest}`,
      body: { status: 'pending', tags: ['rare'], assigned_to: 'Agent@Example.com' },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await found({})).length, 60);
    assert.deepEqual(await found({}, 'refund', 5).then((r) => r.includes(weakest)), false);
    assert.deepEqual(await found({ status: 'pending' }, 'refund', 5), [weakest]);
    assert.deepEqual(await found({ tags: ['rare'] }, 'refund', 1), [weakest]);
    assert.deepEqual(await found({ assigned_to: 'agent@example.com' }, 'refund', 1), [weakest]);
    assert.deepEqual(await found({ tags: ['rare', 'unknown-tag'] }), []);
    assert.deepEqual(await found({ assigned_to: 'nobody@example.com' }), []);
    assert.equal((await found({ status: 'open' })).length, 59);
    // Semantic and hybrid sides filter the same way.
    for (const mode of ['semantic', 'hybrid']) {
      const r = await t.request({
        method: 'POST',
        url: '/v1/tickets/search',
        body: { query: 'refund', mode, filters: { brand_id: brand, status: 'pending' } },
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.ok(
        r.json().data.every((h: { ticket: { id: string } }) => h.ticket.id === weakest),
        mode,
      );
    }
  });

  it('filters by creation time exactly at the second, both bounds exclusive', async () => {
    const january = ids.filter((_, i) => i % 9 === 0);
    const got = await found({ created_after: '2025-01-10T09:59:59Z', created_before: '2025-01-10T10:00:01Z' });
    assert.deepEqual([...got].sort(), [...january].sort());
    assert.deepEqual(await found({ created_after: '2025-01-10T10:00:00Z', created_before: '2025-02-01' }), []);
  });

  it('sees a change written by another service instance at its next search', async () => {
    const { runtime } = t;
    // A second search service on the same database: its own in-process indexes, as another process has.
    const other = createSearchService({
      db: runtime.db,
      dialect: runtime.dialect,
      clock: runtime.clock,
      cursors: cursorCodecFor({ db: runtime.db, clock: runtime.clock, secretBox: runtime.secretBox }),
    });
    const resolvedIn = async () =>
      (await other.search(admin, { query: 'refund', mode: 'keyword', limit: 100, filters: { brand_id: brand, status: 'resolved' } })).data.map(
        (h) => h.ticket.id,
      );
    assert.deepEqual(await resolvedIn(), []);
    const res = await t.request({ method: 'PATCH', url: `/v1/tickets/${ids[3]}`, body: { status: 'resolved' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await resolvedIn(), [ids[3]]);
    const lag = await other.indexLag();
    assert.equal(lag.filter.behind, 0);
    assert.equal(lag.filter.loads, 1);
  });
});
