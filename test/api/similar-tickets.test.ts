import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket } from '../helpers/factories.js';

type Similar = {
  ticket: { id: string; brand_id: string; subject: string; status: string };
  score: number;
  status: string;
  match: { keyword: number | null; semantic: number | null };
};

describe('GET /v1/tickets/{id}/similar', () => {
  let t: TestApp;
  let brandA: string;
  let brandB: string;
  const ids: Record<string, string> = {};

  const get = (url: string, token?: string) => t.request({ method: 'GET', url, ...(token ? { token } : {}) });
  const similar = async (id: string, query = '', token?: string): Promise<Similar[]> => {
    const res = await get(`/v1/tickets/${id}/similar${query}`, token);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['data']);
    return body.data as Similar[];
  };

  before(async () => {
    t = await buildTestApp();
    brandA = (await createBrand(t)).id;
    brandB = (await createBrand(t)).id;
    const make = async (brand: string, subject: string, description: string) => (await createTicket(t, brand, { subject, description })).id;
    ids.source = await make(brandA, 'Card declined at the shop', 'My card payment was declined when I tried to pay at the store today.');
    // A paraphrase sharing only a word or two with the source, and unrelated tickets.
    ids.paraphrase = await make(brandA, 'Payment refused', 'The supermarket terminal refused my card, why did the transaction fail?');
    ids.unrelated = await make(brandA, 'Change my delivery address', 'Please send the parcel to my new flat instead of the old one.');
    ids.password = await make(brandA, 'Cannot log in', 'I forgot my password and the reset email never arrives.');
    for (let i = 0; i < 12; i++) ids[`card${i}`] = await make(brandA, `Card problem ${i}`, `My card was declined again at a shop, attempt ${i}.`);
    // Another brand's ticket with the very same text: never a neighbour of a brand A ticket.
    ids.otherBrand = await make(brandB, 'Card declined at the shop', 'My card payment was declined when I tried to pay at the store today.');
    const res = await t.request({ method: 'PATCH', url: `/v1/tickets/${ids.paraphrase}`, body: { status: 'resolved' } });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(() => t.close());

  it('lists the ticket’s neighbours in its brand, best first, without the ticket itself', async () => {
    const data = await similar(ids.source!);
    assert.equal(data.length, 10, 'default limit 10');
    const found = data.map((d) => d.ticket.id);
    assert.ok(!found.includes(ids.source!), 'the ticket itself is excluded');
    assert.ok(!found.includes(ids.otherBrand!), 'another brand is never listed');
    for (const d of data) {
      assert.equal(d.ticket.brand_id, brandA);
      assert.ok(d.score >= 0 && d.score <= 1, `score ${d.score}`);
      assert.equal(d.status, d.ticket.status);
      assert.ok('keyword' in d.match && 'semantic' in d.match);
    }
    const scores = data.map((d) => d.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    );
  });

  it('ranks a paraphrase above unrelated tickets, and reports its status', async () => {
    const data = await similar(ids.source!, '?limit=50');
    const rank = (id: string) => data.findIndex((d) => d.ticket.id === id);
    assert.ok(rank(ids.paraphrase!) >= 0, 'the paraphrase is listed');
    assert.equal(data[rank(ids.paraphrase!)]!.status, 'resolved');
    const unrelated = rank(ids.unrelated!);
    assert.ok(unrelated === -1 || rank(ids.paraphrase!) < unrelated, `paraphrase ${rank(ids.paraphrase!)} vs unrelated ${unrelated}`);
    const password = rank(ids.password!);
    assert.ok(password === -1 || rank(ids.paraphrase!) < password, `paraphrase ${rank(ids.paraphrase!)} vs password ${password}`);
    // And the other way round: the source is the paraphrase's nearest neighbour among the three.
    const back = (await similar(ids.paraphrase!, '?limit=50')).map((d) => d.ticket.id);
    assert.ok(back.includes(ids.source!));
    assert.ok(!back.includes(ids.paraphrase!));
  });

  it('honours limit within 1–50', async () => {
    assert.equal((await similar(ids.source!, '?limit=1')).length, 1);
    assert.equal((await similar(ids.source!, '?limit=3')).length, 3);
    assert.ok((await similar(ids.source!, '?limit=50')).length <= 15);
  });

  it('refuses a bad limit or an unknown query parameter with a 400 problem, storing nothing', async () => {
    const before = { tickets: await countRows(t, 'tickets'), audit: await countRows(t, 'audit_entries'), events: await countRows(t, 'events') };
    for (const query of ['?limit=0', '?limit=51', '?limit=-1', '?limit=abc', '?limit=2.5', '?limit=']) {
      const body = assertProblem(await get(`/v1/tickets/${ids.source}/similar${query}`), 400, 'invalid_query');
      assert.equal(body.errors[0].pointer, 'limit', query);
    }
    const unknown = assertProblem(await get(`/v1/tickets/${ids.source}/similar?limt=5`), 400, 'invalid_query');
    assert.deepEqual(unknown.errors, [{ pointer: 'limt', message: 'is not a known query parameter (known parameters: limit)' }]);
    assertProblem(await get(`/v1/tickets/${ids.source}/similar?limit=5&mode=keyword&after=x`), 400, 'invalid_query');
    assert.deepEqual({ tickets: await countRows(t, 'tickets'), audit: await countRows(t, 'audit_entries'), events: await countRows(t, 'events') }, before);
  });

  it('is a 404 for a missing ticket and for a ticket outside a restricted token’s brands', async () => {
    assertProblem(await get('/v1/tickets/tick_doesnotexist/similar'), 404, 'not_found');
    const tokenB = await t.token(['tickets:read'], [brandB]);
    const hidden = assertProblem(await get(`/v1/tickets/${ids.source}/similar`, tokenB), 404, 'not_found');
    const missing = assertProblem(await get('/v1/tickets/tick_doesnotexist/similar', tokenB), 404, 'not_found');
    assert.equal(hidden.title, missing.title);
    // Its own brand's ticket: answered, and brand A's identical ticket is not among the results.
    const own = await similar(ids.otherBrand!, '', tokenB);
    assert.ok(own.every((d) => d.ticket.brand_id === brandB));
    assert.deepEqual(own, []);
  });

  it('needs tickets:read', async () => {
    const webhooksOnly = await t.token(['webhooks:manage']);
    assertProblem(await get(`/v1/tickets/${ids.source}/similar`, webhooksOnly), 403, 'forbidden');
    const reader = await t.token(['tickets:read'], [brandA]);
    assert.ok((await similar(ids.source!, '?limit=2', reader)).length === 2);
  });

  it('answers with no neighbours for a ticket unlike every other', async () => {
    const lonely = await createTicket(t, brandB, { subject: 'Zebra crossing', description: 'Stripes.' });
    const data = await similar(lonely.id);
    assert.ok(data.every((d) => d.ticket.id !== lonely.id));
    assert.deepEqual(
      data.map((d) => d.ticket.id),
      [],
    );
  });
});
