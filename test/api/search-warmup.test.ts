/**
 * Warm-up of the in-process search indexes: the server starts it once listening, so the first
 * search after a start does not pay for the load; a search arriving meanwhile waits for the same
 * load (each index loads once).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Principal } from '../../src/auth/scopes.js';
import { cursorCodecFor } from '../../src/http/cursor-key.js';
import { createSearchService } from '../../src/search/service.js';
import { startJobs } from '../../src/workers.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';

describe('search warm-up', () => {
  let t: TestApp;
  let brand: string;
  const ids: Record<string, string> = {};
  /** A fresh service over the same database: empty in-process indexes, as after a restart. */
  const freshService = () =>
    createSearchService({
      db: t.runtime.db,
      dialect: t.runtime.dialect,
      clock: t.clock,
      embedder: { cacheDir: t.config.embeddingsCacheDir },
      cursors: cursorCodecFor({ db: t.runtime.db, clock: t.clock, secretBox: t.runtime.secretBox }),
    });
  const principal: Principal = { tokenId: 'tok_test', tokenName: 'test', scopes: ['admin'], brandIds: null };
  /** `indexStats()` without the memory figures, which depend on the arrays' growth. */
  const counts = (stats: ReturnType<ReturnType<typeof createSearchService>['indexStats']>) => {
    const { keywordBytes: _bytes, keywordTierBytes: _tierBytes, ...rest } = stats;
    return rest;
  };

  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
    ids.parcel = (
      await createTicket(t, brand, { subject: 'Where is my package?', description: 'My parcel never arrived, the courier says it was delivered.' })
    ).id;
    ids.password = (await createTicket(t, brand, { subject: 'Cannot log in', description: 'I forgot my password and the reset email never comes.' })).id;
  });
  after(() => t.close());

  it('loads nothing when no ticket is indexed', async () => {
    const empty = await buildTestApp();
    try {
      const search = empty.runtime.services.search;
      assert.equal(await search.warmUp(), false);
      assert.deepEqual(counts(search.indexStats()), { keywordLoads: 0, vectorLoads: 0, keywordDocuments: 0, vectors: 0 });
      assert.equal(search.indexStats().keywordTierBytes, 0);
    } finally {
      await empty.close();
    }
  });

  it('a search during the warm-up waits for the same load: each index loads once', async () => {
    const search = freshService();
    assert.deepEqual(counts(search.indexStats()), { keywordLoads: 0, vectorLoads: 0, keywordDocuments: 0, vectors: 0 });
    const warming = search.warmUp();
    const [found, warmed] = await Promise.all([search.search(principal, { query: 'courier package' }), warming]);
    assert.equal(warmed, true);
    assert.equal(found.data[0]?.ticket.id, ids.parcel);
    assert.deepEqual(counts(search.indexStats()), { keywordLoads: 1, vectorLoads: 1, keywordDocuments: 2, vectors: 2 });
    // The index's memory, and of it the high tiers' (none: no list here is long enough for one).
    const { keywordBytes, keywordTierBytes } = search.indexStats();
    assert.ok(keywordBytes > 0, `${keywordBytes} bytes`);
    assert.equal(keywordTierBytes, 0);
  });

  it('after the warm-up, searches (and new tickets) only catch up, never reload', async () => {
    const search = freshService();
    assert.equal(await search.warmUp(), true);
    assert.deepEqual(counts(search.indexStats()), { keywordLoads: 1, vectorLoads: 1, keywordDocuments: 2, vectors: 2 });
    const hits = await search.search(principal, { query: 'forgot password' });
    assert.equal(hits.data[0]?.ticket.id, ids.password);
    // Written through another service (the app's), as another process would: caught up by seq.
    ids.invoice = (await createTicket(t, brand, { subject: 'Invoice copy needed', description: 'Please send the invoice for my subscription.' })).id;
    const later = await search.search(principal, { query: 'invoice' });
    assert.equal(later.data[0]?.ticket.id, ids.invoice);
    assert.equal(await search.warmUp(), true);
    assert.deepEqual(counts(search.indexStats()), { keywordLoads: 1, vectorLoads: 1, keywordDocuments: 3, vectors: 3 });
  });

  it('a search before any warm-up loads once too, and a later warm-up adds nothing', async () => {
    const search = freshService();
    const [a, b] = await Promise.all([
      search.search(principal, { query: 'parcel' }),
      // A query of several words: the single word 'password' stays under the built-in embedder's
      // relevance floor and would find nothing, proving nothing about the vectors loaded.
      search.search(principal, { query: 'forgot password', mode: 'semantic' }),
    ]);
    assert.equal(a.data[0]?.ticket.id, ids.parcel);
    assert.equal(b.data[0]?.ticket.id, ids.password);
    await search.warmUp();
    assert.equal(search.indexStats().keywordLoads, 1);
    assert.equal(search.indexStats().vectorLoads, 1);
  });

  it('is what the running app serves through: warm-up on the app service, then the API', async () => {
    const search = t.runtime.services.search;
    await search.warmUp();
    const before = search.indexStats();
    const res = await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'courier' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().data[0].ticket.id, ids.parcel);
    assert.equal(search.indexStats().keywordLoads, before.keywordLoads);
    assert.equal(search.indexStats().vectorLoads, before.vectorLoads);
    assert.ok(before.keywordLoads <= 1 && before.vectorLoads <= 1);
  });

  it('follows the writes between searches: the indexes catch up without a search, and stop following when told', async () => {
    const search = freshService();
    await search.warmUp();
    const behind = async () => {
      const lag = await search.indexLag();
      return { keyword: lag.keyword.behind, vector: lag.vector.behind, filter: lag.filter.behind };
    };
    assert.deepEqual(await behind(), { keyword: 0, vector: 0, filter: 0 });
    // Written through the app's service, as another process would: this service learns of them
    // only by following the tables.
    const written = [];
    for (let i = 0; i < 5; i++) written.push((await createTicket(t, brand, { subject: `Shipping label ${i}`, description: 'The label printer jams.' })).id);
    const lagging = await behind();
    assert.ok(lagging.keyword >= 5 && lagging.vector >= 5 && lagging.filter >= 5, JSON.stringify(lagging));
    const { keywordDocuments, vectors } = search.indexStats();

    const errors: unknown[] = [];
    // Run as the server runs it, every 5 ms here.
    const stop = startJobs([search.followJob(5)], { error: (err: unknown) => errors.push(err) });
    try {
      // No search runs meanwhile: only the following can bring the lag to 0. Bounded only so that a
      // follower that never runs fails here rather than hanging the suite.
      const giveUpAt = Date.now() + 60_000;
      while (Object.values(await behind()).some((n) => n > 0) && Date.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 5));
    } finally {
      await stop();
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(await behind(), { keyword: 0, vector: 0, filter: 0 });
    const stats = search.indexStats();
    assert.equal(stats.keywordDocuments, keywordDocuments + 5);
    assert.equal(stats.vectors, vectors + 5);
    assert.equal(stats.keywordLoads, 1, 'caught up, not loaded again');
    assert.equal(stats.vectorLoads, 1);

    // Stopped: later writes wait for the next search again.
    await createTicket(t, brand, { subject: 'Shipping label again', description: 'Still jammed.' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok((await behind()).keyword >= 1);
    const hits = await search.search(principal, { query: 'shipping label jams', mode: 'keyword', limit: 10 });
    assert.ok(written.every((id) => hits.data.some((h) => h.ticket.id === id)));
  });

  it('reads a page’s tickets where the warm-up saw their rows, and finds them still when rows moved since', async () => {
    const search = freshService();
    await search.warmUp();
    const page = async (query: string) => (await search.search(principal, { query, mode: 'keyword' })).data.map((h) => h.ticket);
    const parcel = await page('courier parcel');
    const password = await page('forgot password reset');
    assert.equal(parcel[0]?.id, ids.parcel);
    assert.equal(password[0]?.id, ids.password);
    if (t.runtime.dialect === 'sqlite') {
      // The two tickets trade rowids behind the indexes' back (as a VACUUM by another process may
      // renumber rows): no document change, so the warm-up's places are now each the other's row.
      const rowidOf = async (id: string) => (await sql<{ r: number }>`select rowid as r from tickets where id = ${id}`.execute(t.runtime.db)).rows[0]!.r;
      const [a, b] = [await rowidOf(ids.parcel!), await rowidOf(ids.password!)];
      await sql`update tickets set rowid = -1 where id = ${ids.parcel}`.execute(t.runtime.db);
      await sql`update tickets set rowid = ${a} where id = ${ids.password}`.execute(t.runtime.db);
      await sql`update tickets set rowid = ${b} where id = ${ids.parcel}`.execute(t.runtime.db);
      assert.equal(await rowidOf(ids.parcel!), b);
    }
    assert.deepEqual(await page('courier parcel'), parcel, 'the same tickets, field for field');
    assert.deepEqual(await page('forgot password reset'), password);
  });
});
