import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { backfillOpeningFlags } from '../../src/db/migrations/0026-search-opening-message.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

type Hit = {
  ticket: { id: string; brand_id: string; created_at: string; status: string };
  score: number;
  match: { keyword: number | null; semantic: number | null };
  highlights?: { field: 'subject' | 'message'; text: string; ranges: [number, number][] }[];
};

describe('POST /v1/tickets/search', () => {
  let t: TestApp;
  let brandA: string;
  let brandB: string;
  const ids: Record<string, string> = {};

  const search = async (body: Record<string, unknown>, token?: string) => {
    const res = await t.request({ method: 'POST', url: '/v1/tickets/search', body, ...(token ? { token } : {}) });
    return res;
  };
  const hits = async (body: Record<string, unknown>, token?: string): Promise<Hit[]> => {
    const res = await search(body, token);
    assert.equal(res.statusCode, 200, res.body);
    return res.json().data as Hit[];
  };

  before(async () => {
    t = await buildTestApp();
    brandA = (await createBrand(t, { id: 'brand_123' })).id;
    brandB = (await createBrand(t, { id: 'brand_other' })).id;
    t.clock.set('2025-08-15T10:00:00Z');
    ids.oldRefund = (
      await createTicket(t, brandA, { subject: 'Refund for a duplicate charge', description: 'I was charged twice in August, please refund one payment.' })
    ).id;
    t.clock.set('2025-09-10T10:00:00Z');
    ids.refund = (
      await createTicket(t, brandA, {
        subject: 'Refund request for order 10021',
        description: 'The blender arrived broken. I would like a refund please.',
        priority: 'high',
        tags: ['billing', 'vip'],
        assigned_to: 'agent@example.com',
        customer: { email: 'dana@example.com', name: 'Dana Émile' },
      })
    ).id;
    ids.parcel = (
      await createTicket(t, brandA, { subject: 'Where is my package?', description: 'My parcel never arrived, the courier says it was delivered.' })
    ).id;
    ids.password = (await createTicket(t, brandA, { subject: 'Cannot log in', description: 'I forgot my password and the reset email never comes.' })).id;
    ids.otherBrand = (await createTicket(t, brandB, { subject: 'Refund wanted', description: 'Please refund my subscription.' })).id;
    t.clock.set('2025-09-20T10:00:00Z');
  });
  after(() => t.close());

  it("answers the seed's example with scored results in [0, 1], best first", async () => {
    const res = await search({ query: 'refund', filters: { brand_id: 'brand_123', created_after: '2025-09-01' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.ok(Array.isArray(body.data));
    assert.ok('next_cursor' in body);
    assert.equal(body.data[0].ticket.id, ids.refund);
    for (const h of body.data as Hit[]) {
      assert.ok(h.score >= 0 && h.score <= 1, `score ${h.score}`);
      assert.equal(h.ticket.brand_id, brandA);
      assert.ok(h.ticket.created_at >= '2025-09-01');
      assert.ok('keyword' in h.match && 'semantic' in h.match);
    }
    const scores = (body.data as Hit[]).map((h) => h.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
    );
    assert.ok(body.data[0].match.keyword > 0);
    assert.ok(body.data[0].highlights?.length > 0);
    assert.equal(body.data[0].highlights[0].field, 'subject');
    const [s, e] = body.data[0].highlights[0].ranges[0];
    assert.equal(body.data[0].highlights[0].text.slice(s, e), 'Refund');
  });

  it('created_after excludes older tickets', async () => {
    const all = await hits({ query: 'refund', filters: { brand_id: brandA } });
    assert.ok(all.some((h) => h.ticket.id === ids.oldRefund));
    const recent = await hits({ query: 'refund', filters: { brand_id: brandA, created_after: '2025-09-01' } });
    assert.ok(!recent.some((h) => h.ticket.id === ids.oldRefund));
    assert.ok(recent.some((h) => h.ticket.id === ids.refund));
  });

  it('applies each filter', async () => {
    const only = async (filters: Record<string, unknown>) =>
      (await hits({ query: 'refund', filters: { brand_id: brandA, ...filters } })).map((h) => h.ticket.id);
    assert.deepEqual(await only({ status: 'open', priority: 'high' }), [ids.refund]);
    assert.deepEqual(await only({ priority: 'high' }), [ids.refund]);
    assert.deepEqual(await only({ assigned_to: 'AGENT@example.com' }), [ids.refund]);
    assert.deepEqual(await only({ tags: ['billing'] }), [ids.refund]);
    assert.deepEqual(await only({ tags: ['billing', 'nope'] }), []);
    assert.deepEqual(await only({ created_before: '2025-09-01' }), [ids.oldRefund]);
    assert.deepEqual(await only({ status: 'resolved' }), []);
    const res = await t.request({ method: 'PATCH', url: `/v1/tickets/${ids.password}`, body: { status: 'resolved' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      (await hits({ query: 'password', filters: { status: 'resolved' } })).map((h) => h.ticket.id),
      [ids.password],
    );
    assert.deepEqual(await hits({ query: 'password', filters: { status: 'open' } }).then((r) => r.filter((h) => h.ticket.id === ids.password)), []);
  });

  it('a brand-restricted token only sees its brands, whatever the filters', async () => {
    const tokenB = await t.token(['tickets:read'], [brandB]);
    const own = await hits({ query: 'refund' }, tokenB);
    assert.deepEqual(
      own.map((h) => h.ticket.id),
      [ids.otherBrand],
    );
    assert.deepEqual(await hits({ query: 'refund', filters: { brand_id: brandA } }, tokenB), []);
    // Semantic neighbours too: brand A's refund tickets are as close as brand B's.
    assert.deepEqual(await hits({ query: 'please refund my money', mode: 'semantic' }, tokenB).then((r) => r.map((h) => h.ticket.brand_id)), [brandB]);
    const admin = await hits({ query: 'refund' });
    assert.ok(admin.some((h) => h.ticket.brand_id === brandB) && admin.some((h) => h.ticket.brand_id === brandA));
  });

  it('needs the tickets:read scope', async () => {
    const token = await t.token(['webhooks:manage']);
    assertProblem(await search({ query: 'refund' }, token), 403, 'forbidden');
    assertProblem(await t.request({ method: 'POST', url: '/v1/tickets/search', token: null, body: { query: 'refund' } }), 401);
  });

  it('finds a ticket by a word from a later reply, as soon as the reply is acknowledged', async () => {
    assert.deepEqual(await hits({ query: 'zanzibar' }).then((r) => r.filter((h) => (h.match.keyword ?? 0) > 0)), []);
    const res = await t.request({
      method: 'POST',
      url: `/v1/tickets/${ids.parcel}/messages`,
      body: { author_type: 'agent', body: 'We shipped a replacement to your Zanzibar address.' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const found = await hits({ query: 'zanzibar' });
    assert.equal(found[0]?.ticket.id, ids.parcel);
    assert.ok(found[0]!.match.keyword! > 0);
    assert.equal(found[0]!.highlights?.[0]?.field, 'message');
  });

  it('finds tickets by tag, customer name and email, with diacritics folded and stemming', async () => {
    const top = async (query: string) => (await hits({ query, mode: 'keyword' }))[0]?.ticket.id;
    assert.equal(await top('vip'), ids.refund);
    assert.equal(await top('emile'), ids.refund);
    assert.equal(await top('Émile'), ids.refund);
    assert.equal(await top('dana@example.com'), ids.refund);
    const stemmed = await hits({ query: 'refunding', mode: 'keyword' });
    assert.ok(stemmed.some((h) => h.ticket.id === ids.refund) && stemmed.every((h) => h.match.keyword! > 0));
    const subject = await t.request({ method: 'PATCH', url: `/v1/tickets/${ids.password}`, body: { subject: 'Locked out of the quasarportal' } });
    assert.equal(subject.statusCode, 200);
    assert.equal(await top('quasarportal'), ids.password);
    // The in-process keyword index replaced the old text: the old subject's word "log" is gone
    // (the description still matches "password").
    assert.ok(!(await hits({ query: 'log', mode: 'keyword' })).some((h) => h.ticket.id === ids.password));
    assert.equal(await top('password'), ids.password);
  });

  it('finds a paraphrase with no shared keyword through the semantic side', async () => {
    const found = await hits({ query: 'shipment still missing', filters: { brand_id: brandA } });
    assert.equal(found[0]?.ticket.id, ids.parcel);
    assert.equal(found[0]!.match.keyword, null);
    assert.ok(found[0]!.match.semantic! > 0);
  });

  const injections = [
    '"refund',
    '*',
    'NEAR(a b)',
    'a AND OR NOT b',
    '😀 refund',
    "'; DROP TABLE tickets; --",
    'subject:refund',
    '^refund',
    '-refund',
    '(',
    '"',
    'refund*',
    'meta:vip OR body:x',
    '\\',
    '%_',
  ];
  for (const query of injections) {
    it(`searches ${JSON.stringify(query)} literally (200) or answers 422, never 500`, async () => {
      const res = await search({ query });
      if (res.statusCode === 422) {
        assertProblem(res, 422, 'validation_failed');
        return;
      }
      assert.equal(res.statusCode, 200, res.body);
      if (/refund/.test(query))
        assert.ok(
          res.json().data.some((h: Hit) => h.ticket.id === ids.refund),
          query,
        );
    });
  }

  it('answers 422 for a query with nothing searchable and for bad bodies', async () => {
    assertProblem(await search({ query: '(' }), 422, 'validation_failed');
    assertProblem(await search({ query: '   ' }), 422, 'validation_failed');
    assertProblem(await search({ query: '' }), 422);
    assertProblem(await search({ query: 'x'.repeat(1001) }), 422);
    assertProblem(await search({ query: 'refund', limit: 101 }), 422);
    assertProblem(await search({ query: 'refund', filters: { color: 'red' } }), 422);
    assertProblem(await search({ query: 'refund', filters: { created_after: 'yesterday' } }), 422);
    const res = await t.request({ method: 'GET', url: '/v1/tickets/search' });
    assert.notEqual(res.statusCode, 500);
  });

  it('pages through results with next_cursor, without repeats', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    const all = await hits({ query: 'refund', limit: 100 });
    do {
      const res = await search({ query: 'refund', limit: 2, ...(after ? { after } : {}) });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.ok(body.data.length <= 2);
      seen.push(...body.data.map((h: Hit) => h.ticket.id));
      after = body.next_cursor;
    } while (after);
    assert.deepEqual(
      seen,
      all.map((h) => h.ticket.id),
    );
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.length >= 3);
    const first = (await search({ query: 'refund', limit: 1 })).json();
    assertProblem(await search({ query: 'password', limit: 1, after: first.next_cursor }), 400, 'invalid_cursor');
    assertProblem(await search({ query: 'refund', after: 'garbage!' }), 400, 'invalid_cursor');
  });

  it('offers keyword-only and semantic-only modes', async () => {
    const kw = await hits({ query: 'refund', mode: 'keyword' });
    assert.ok(kw.every((h) => h.match.semantic === null && h.match.keyword !== null));
    const sem = await hits({ query: 'refund', mode: 'semantic' });
    assert.ok(sem.every((h) => h.match.keyword === null && h.match.semantic !== null));
  });
});

describe('POST /v1/tickets/search: semantic relevance floor', () => {
  let t: TestApp;
  const ids: Record<string, string> = {};
  const hits = async (body: Record<string, unknown>): Promise<Hit[]> => {
    const res = await t.request({ method: 'POST', url: '/v1/tickets/search', body });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().data as Hit[];
  };

  before(async () => {
    t = await buildTestApp();
    const brand = (await createBrand(t, { id: 'brand_floor' })).id;
    ids.refund = (
      await createTicket(t, brand, {
        subject: 'Refund request for order 10021',
        description: 'Customer requested refund on order 10021: the parcel never arrived.',
      })
    ).id;
    ids.parcel = (await createTicket(t, brand, { subject: 'Second ticket', description: 'Where is my package? It has not been delivered yet.' })).id;
    ids.printer = (await createTicket(t, brand, { subject: 'Printer on fire', description: 'The office printer caught fire this morning.' })).id;
  });
  after(() => t.close());

  it('does not pad a keyword search with unrelated nearest neighbours', async () => {
    const found = await hits({ query: 'refund' });
    assert.equal(found[0]?.ticket.id, ids.refund);
    assert.ok(found[0]!.match.keyword! > 0);
    assert.ok(!found.some((h) => h.ticket.id === ids.printer), JSON.stringify(found.map((h) => [h.ticket.id, h.score, h.match])));
  });

  it('returns nothing for a query unrelated to every ticket, in hybrid and semantic mode', async () => {
    for (const mode of ['hybrid', 'semantic']) {
      const found = await hits({ query: 'zebra crossing', mode });
      assert.ok(
        !found.some((h) => h.ticket.id === ids.printer || h.ticket.id === ids.refund),
        `${mode}: ${JSON.stringify(found.map((h) => [h.ticket.id, h.score, h.match]))}`,
      );
      assert.deepEqual(found, []);
    }
  });

  it('never returns a hit scored 0 without a keyword match', async () => {
    for (const query of ['refund', 'parcel', 'package not delivered', 'printer', 'fire in the office', 'zebra crossing']) {
      for (const mode of ['hybrid', 'semantic']) {
        for (const h of await hits({ query, mode }))
          assert.ok(h.score > 0 || h.match.keyword !== null, `${query} (${mode}): ${JSON.stringify(h.match)} score ${h.score}`);
      }
    }
  });

  it('still finds a paraphrase with no shared keyword', async () => {
    const found = await hits({ query: 'shipment still missing' });
    assert.ok([ids.parcel, ids.refund].includes(found[0]?.ticket.id ?? ''), JSON.stringify(found.map((h) => [h.ticket.id, h.score, h.match])));
    assert.ok(found.some((h) => h.ticket.id === ids.parcel));
    assert.equal(found[0]!.match.keyword, null);
  });
});

describe('search highlights of a conversation', () => {
  it('light up the first matching message in conversation order, also once a merge put older messages before the description', async (ctx) => {
    const t = await buildTestApp();
    ctx.after(() => t.close());
    const brand = (await createBrand(t)).id;
    const messageHighlight = async (ticketId: string) => {
      // A filter on a ticket field: the search catches the filter index up, which knows the tickets that open with their description.
      const filters = { brand_id: brand, priority: 'normal' };
      const res = await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'kumquat', mode: 'keyword', filters } });
      assert.equal(res.statusCode, 200, res.body);
      const hit = (res.json().data as Hit[]).find((h) => h.ticket.id === ticketId);
      return hit?.highlights?.find((h) => h.field === 'message')?.text;
    };
    t.clock.set('2025-10-01T10:00:00Z');
    const older = await createTicket(t, brand, { subject: 'Damaged crate', description: 'The kumquat crate came in crushed.' });
    t.clock.set('2025-10-02T10:00:00Z');
    const target = await createTicket(t, brand, { subject: 'Second order', description: 'Another kumquat box, also late.' });
    const quiet = await createTicket(t, brand, { subject: 'Kumquat jam', description: 'Nothing else to say.' });
    const replied = await t.request({
      method: 'POST',
      url: `/v1/tickets/${quiet.id}/messages`,
      body: { author_type: 'agent', body: 'We restocked every kumquat jar.' },
    });
    assert.equal(replied.statusCode, 201, replied.body);

    assert.equal(await messageHighlight(target.id), 'Another kumquat box, also late.', 'the description, its first message');
    assert.equal(await messageHighlight(quiet.id), 'We restocked every kumquat jar.', 'a later message, when the description does not match');
    const merged = await t.request({ method: 'POST', url: `/v1/tickets/${older.id}/merge`, body: { into: target.id } });
    assert.equal(merged.statusCode, 200, merged.body);
    assert.equal(await messageHighlight(target.id), 'The kumquat crate came in crushed.', 'the merged-in message, now first in the conversation');

    // Another process puts an older message in front of a description and commits, moving the
    // ticket's version; this process's indexes have not followed it yet (no document change).
    const fresh = await createTicket(t, brand, { subject: 'Third order', description: 'A kumquat tree, wilted.' });
    assert.equal(await messageHighlight(fresh.id), 'A kumquat tree, wilted.');
    await sql`insert into messages (id, ticket_id, author_type, body, cc, created_at)
      values ('msg_behind', ${fresh.id}, 'agent', 'Before that, a kumquat note.', '[]', '2025-09-01T00:00:00Z')`.execute(t.runtime.db);
    await sql`update tickets set version = version + 1 where id = ${fresh.id}`.execute(t.runtime.db);
    assert.equal(await messageHighlight(fresh.id), 'Before that, a kumquat note.', 'the version read with the row tells the index is behind');

    const flags = async () =>
      Object.fromEntries(
        (await t.runtime.db.selectFrom('search_documents').select(['ticket_id', 'opens_with_description']).where('brand_id', '=', brand).execute()).map((r) => [
          r.ticket_id,
          r.opens_with_description,
        ]),
      );
    assert.deepEqual(await flags(), { [older.id]: 0, [target.id]: 0, [quiet.id]: 1, [fresh.id]: 1 }, 'as indexed');
    await t.runtime.db.updateTable('search_documents').set({ opens_with_description: null }).execute();
    // Ranges of 2 doc ids: every boundary is crossed.
    await backfillOpeningFlags(t.runtime.db, 2);
    assert.deepEqual(
      await flags(),
      { [older.id]: 0, [target.id]: 0, [quiet.id]: 1, [fresh.id]: 0 },
      "migration 0026's backfill, from the conversations as they are",
    );
  });
});
