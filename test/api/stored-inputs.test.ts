/**
 * What the write paths store must always be servable by the read paths: inputs are normalised and
 * checked before anything is written (a 422 with a pointer, nothing stored), and every shape they
 * accept serializes under the response schemas, so that one stored row can never turn a list into
 * a 500 for everyone (issue 9, defect 3).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { QueueSchema } from '../../src/queues/routes.js';
import { BrandSchema } from '../../src/brands/routes.js';
import { TokenSchema } from '../../src/auth/routes.js';
import { TicketSchema } from '../../src/tickets/schemas.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket, ticketBody } from '../helpers/factories.js';

// The response schemas, checked the way a strict client would (every keyword, standard formats).
const ajv = new Ajv({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const strip = (schema: object) => {
  const { $id: _id, ...rest } = schema as { $id?: string };
  return rest;
};
const validators = {
  queue: ajv.compile(strip(QueueSchema)),
  brand: ajv.compile(strip(BrandSchema)),
  token: ajv.compile(strip(TokenSchema)),
  ticket: ajv.compile(strip(TicketSchema)),
};
function assertFits(kind: keyof typeof validators, items: unknown[]): void {
  for (const item of items) {
    const validate = validators[kind];
    assert.ok(validate(item), `${kind} ${JSON.stringify(item)} breaks its response schema: ${JSON.stringify(validate.errors)}`);
  }
}

describe('inputs are normalised and checked before they are stored', () => {
  let t: TestApp;
  let brand: { id: string; default_queue_id: string };
  before(async () => {
    t = await buildTestApp();
    brand = await createBrand(t);
  });
  after(() => t.close());

  const queueRows = () => t.runtime.db.selectFrom('queues').selectAll().orderBy('id').execute();
  const pointers = (problem: { errors?: { pointer: string }[] }) => (problem.errors ?? []).map((e) => e.pointer);

  /** Every read path that serializes queues answers 200, and each queue fits the schema. */
  async function assertQueuesServable(): Promise<void> {
    for (const url of ['/v1/queues', `/v1/queues?brand_id=${brand.id}`]) {
      const res = await t.request({ method: 'GET', url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      assertFits('queue', res.json().data);
    }
    for (const row of await queueRows()) {
      const res = await t.request({ method: 'GET', url: `/v1/queues/${row.id}` });
      assert.equal(res.statusCode, 200, res.body);
    }
  }

  it('a queue tag that trims to nothing, or grows past 64 characters when lower-cased, is a 422 and stores nothing', async () => {
    const cases: [unknown[], string][] = [
      [['   '], '/match/tags/0'],
      [['vip', '\t\n '], '/match/tags/1'],
      // Lower-cased, "İ" (U+0130) becomes "i̇": two code points, so 40 of them become 80.
      [['İ'.repeat(40)], '/match/tags/0'],
    ];
    for (const [tags, pointer] of cases) {
      const before = await queueRows();
      const res = await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name: 'Broken', match: { tags } } });
      const problem = assertProblem(res, 422, 'validation_failed');
      assert.deepEqual(pointers(problem), [pointer], JSON.stringify(tags));
      assert.deepEqual(await queueRows(), before, 'nothing stored');
      await assertQueuesServable();
    }
  });

  it('PATCH of a queue refuses the same and leaves the queue as it was', async () => {
    const created = await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name: 'Gold', match: { tags: ['gold'] } } });
    assert.equal(created.statusCode, 201, created.body);
    const queue = created.json();
    for (const tags of [['  '], ['İ'.repeat(33)]]) {
      const before = await queueRows();
      const res = await t.request({ method: 'PATCH', url: `/v1/queues/${queue.id}`, body: { name: 'Renamed', match: { tags } } });
      assert.deepEqual(pointers(assertProblem(res, 422, 'validation_failed')), ['/match/tags/0']);
      assert.deepEqual(await queueRows(), before, 'neither the name nor the match changed');
    }
    assert.deepEqual((await t.request({ method: 'GET', url: `/v1/queues/${queue.id}` })).json().match, { tags: ['gold'] });
    await assertQueuesServable();
  });

  it('stores tags trimmed, lower-cased and de-duplicated, and routes on them', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/v1/queues',
      body: { brand_id: brand.id, name: 'VIP', match: { tags: [' VIP ', 'vip', 'Platinum'], priority: ['high', 'high'] } },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().match, { tags: ['vip', 'platinum'], priority: ['high'] });
    const ticket = await createTicket(t, brand.id, { tags: [' Platinum', 'PLATINUM '], priority: 'high' });
    assert.deepEqual(ticket.tags, ['platinum']);
    assert.equal(ticket.queue.id, res.json().id);
    await assertQueuesServable();
  });

  it('counts tag length as the schemas do (characters, not UTF-16 units), the same for tickets and queues', async () => {
    const tag = '😀'.repeat(40); // 40 characters, 80 UTF-16 units
    const queue = await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand.id, name: 'Smiles', match: { tags: [tag] }, order: 100 } });
    assert.equal(queue.statusCode, 201, queue.body);
    const ticket = await createTicket(t, brand.id, { tags: [tag] });
    assert.deepEqual(ticket.tags, [tag]);
    assert.equal(ticket.queue.id, queue.json().id, 'a ticket can carry every tag a queue can match');
  });

  it('ticket tags follow the same rules on create and on update', async () => {
    const before = await countRows(t, 'tickets');
    const created = await t.request({ method: 'POST', url: '/v1/tickets', body: ticketBody(brand.id, { tags: ['ok', '   '] }) });
    assert.deepEqual(pointers(assertProblem(created, 422, 'validation_failed')), ['/tags/1']);
    assert.equal(await countRows(t, 'tickets'), before);
    const ticket = await createTicket(t, brand.id, { tags: ['keep'] });
    const patched = await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { tags: ['İ'.repeat(33)] } });
    assert.deepEqual(pointers(assertProblem(patched, 422, 'validation_failed')), ['/tags/0']);
    const after = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    assert.deepEqual(after.tags, ['keep']);
    assert.equal(after.audit_trail.length, 1, 'no audit entry for the refused update');
  });

  it('a filter that normalises to nothing is refused, not silently dropped', async () => {
    await createTicket(t, brand.id, { tags: ['filtered'] });
    const listed = await t.request({ method: 'GET', url: '/v1/tickets?tag=%20%20' });
    assert.deepEqual(pointers(assertProblem(listed, 400, 'invalid_query')), ['tag']);
    const email = await t.request({ method: 'GET', url: '/v1/tickets?customer_email=%20' });
    assert.deepEqual(pointers(assertProblem(email, 400, 'invalid_query')), ['customer_email']);
    const search = await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query: 'refund', filters: { tags: ['   '] } } });
    assert.deepEqual(pointers(assertProblem(search, 422, 'validation_failed')), ['/filters/tags/0']);
  });

  it('text the database cannot store as sent (NUL, a lone surrogate) is refused wherever it comes in', async () => {
    const before = { tickets: await countRows(t, 'tickets'), brands: await countRows(t, 'brands'), queues: await queueRows() };
    const cases: [string, unknown, string][] = [
      ['/v1/tickets', ticketBody(brand.id, { subject: 'a\u0000b' }), '/subject'],
      ['/v1/tickets', ticketBody(brand.id, { tags: ['x\u0000'] }), '/tags/0'],
      ['/v1/tickets', ticketBody(brand.id, { metadata: { note: ['fine', 'bad\u0000'] } }), '/metadata/note/1'],
      ['/v1/tickets', ticketBody(brand.id, { customer: { email: 'c@example.com', name: 'half \ud83d' } }), '/customer/name'],
      ['/v1/brands', { name: 'Acme \udc00' }, '/name'],
      ['/v1/queues', { brand_id: brand.id, name: 'Q\u0000', match: { priority: ['low'] } }, '/name'],
    ];
    for (const [url, body, pointer] of cases) {
      const res = await t.request({ method: 'POST', url, body });
      assert.deepEqual(pointers(assertProblem(res, 422, 'validation_failed')), [pointer], `${url} ${JSON.stringify(body)}`);
    }
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?assigned_to=a%00@example.com' }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/queues?brand_id=%00' }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets/tick_%00' }), 404, 'not_found');
    assertProblem(await t.request({ method: 'PATCH', url: '/v1/brands/brand_%00', body: { name: 'x' } }), 404, 'not_found');
    assert.deepEqual({ tickets: await countRows(t, 'tickets'), brands: await countRows(t, 'brands'), queues: await queueRows() }, before);
  });

  it('an instant the API could not write back (UTC year past 9999 or before 0000) is refused', async () => {
    const ticket = await createTicket(t, brand.id);
    const snooze = await t.request({
      method: 'PATCH',
      url: `/v1/tickets/${ticket.id}`,
      body: { status: 'snoozed', snoozed_until: '9999-12-31T23:00:00-05:00' },
    });
    assert.deepEqual(pointers(assertProblem(snooze, 422, 'validation_failed')), ['/snoozed_until']);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json().status, 'open');

    const tokens = await countRows(t, 'tokens');
    const token = await t.request({
      method: 'POST',
      url: '/v1/tokens',
      body: { name: 'far', scopes: ['tickets:read'], expires_at: '9999-12-31T23:59:59-00:01' },
    });
    assert.deepEqual(pointers(assertProblem(token, 422, 'validation_failed')), ['/expires_at']);
    assert.equal(await countRows(t, 'tokens'), tokens);

    const messages = await countRows(t, 'messages');
    const imported = await t.request({
      method: 'POST',
      url: `/v1/tickets/${ticket.id}/messages`,
      body: { author_type: 'customer', body: 'old', created_at: '0000-01-01T00:00:00+00:01' },
    });
    assert.deepEqual(pointers(assertProblem(imported, 422, 'validation_failed')), ['/created_at']);
    assert.equal(await countRows(t, 'messages'), messages);

    // The edges themselves are fine.
    const edge = await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { status: 'snoozed', snoozed_until: '9999-12-31T23:59:59Z' } });
    assert.equal(edge.statusCode, 200, edge.body);
    for (const url of ['/v1/tickets', `/v1/tickets/${ticket.id}`, '/v1/tokens']) assert.equal((await t.request({ method: 'GET', url })).statusCode, 200, url);
  });

  it('a webhook URL is refused when normalising would rewrite it past 2048 characters or drop characters', async () => {
    const before = await t.runtime.db.selectFrom('webhook_endpoints').select('id').execute();
    // 2000 characters as sent; each é becomes %C3%A9 once normalised.
    const url = `https://hooks.example.com/${'é'.repeat(1970)}`;
    const res = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url, events: ['*'] } });
    assert.deepEqual([...new Set(pointers(assertProblem(res, 422, 'validation_failed')))], ['/url']);
    // The URL parser would silently drop a line break or a tab: https://hooks.exa\nmple.com is refused, not rewritten.
    for (const bad of ['https://hooks.exa\nmple.com/x', 'https://hooks.example.com/a\tb', ' https://hooks.example.com/x']) {
      const refused = await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: bad, events: ['*'] } });
      assert.deepEqual([...new Set(pointers(assertProblem(refused, 422, 'validation_failed')))], ['/url'], JSON.stringify(bad));
    }
    assert.deepEqual(await t.runtime.db.selectFrom('webhook_endpoints').select('id').execute(), before);
  });

  it('round trip: every shape the write paths accept is served by every read path under its response schema', async () => {
    const b = await createBrand(t, { name: '  Spaced   brand  ' });
    // Some of these used to be stored and then break every list: whitespace, and İ (longer lower-cased).
    const odd = [' VIP ', 'vip', 'ǅemo', 'STRASSE', 'ẞ', 'ΣΑΣ', 'İstanbul', 'İ'.repeat(40), '   ', 'x'.repeat(64), '😀'.repeat(64), 'tab\tinside', 'a/b~c'];
    const writes: [string, string, unknown][] = [];
    for (const tag of odd) {
      writes.push(['POST', '/v1/queues', { brand_id: b.id, name: `  ${tag}  `, match: { tags: [tag, tag.toUpperCase(), ` ${tag} `] } }]);
      writes.push([
        'POST',
        '/v1/tickets',
        ticketBody(b.id, { tags: [tag, tag.toLowerCase(), tag.toUpperCase()], customer: { email: 'odd@example.com', name: '   ' } }),
      ]);
      writes.push(['POST', '/v1/tickets/search', { query: 'refund', filters: { tags: [tag] } }]);
    }
    const deep = (n: number): unknown => (n === 1 ? { leaf: true } : { n: deep(n - 1) });
    writes.push(['POST', '/v1/tickets', ticketBody(b.id, { metadata: deep(32) })]);
    writes.push(['POST', '/v1/tickets', ticketBody(b.id, { metadata: { '': [], ключ: { '😀': null }, '~/': [[[]]] } })]);
    writes.push(['POST', '/v1/tokens', { name: '  edge ', scopes: ['tickets:read', 'tickets:read'], expires_at: '9999-12-31t23:59:59z' }]);
    writes.push(['POST', '/v1/tokens', { name: 'offset', scopes: ['tickets:read'], expires_at: '2100-02-28 23:30:00-01:00' }]);
    writes.push(['POST', '/v1/webhooks', { url: 'https://hooks.example.com/ä ö?q=ü#frag', events: ['*'], description: '   ' }]);
    writes.push(['POST', '/v1/brands', { name: 'ǅ'.repeat(200) }]);
    for (const [method, url, body] of writes.splice(0)) {
      const res = await t.request({ method, url, body });
      assert.ok(res.statusCode < 500, `${method} ${url} ${JSON.stringify(body)} -> ${res.statusCode} ${res.body}`);
      if (res.statusCode >= 400) assertProblem(res, res.statusCode);
    }
    const queue = (await t.request({ method: 'GET', url: `/v1/queues?brand_id=${b.id}` })).json().data.find((q: { is_default: boolean }) => !q.is_default);
    const ticket = await createTicket(t, b.id);
    for (const tag of odd) {
      writes.push(['PATCH', `/v1/queues/${queue.id}`, { name: ` ${tag}`, match: { tags: [tag], origin: ['web', 'web'] } }]);
      writes.push(['PATCH', `/v1/tickets/${ticket.id}`, { tags: [tag, 'other'] }]);
    }
    for (const snoozed_until of ['9999-12-31T23:00:00-05:00', '9999-12-31T18:59:59-05:00', '2030-02-29T00:00:00Z']) {
      writes.push(['PATCH', `/v1/tickets/${ticket.id}`, { status: 'snoozed', snoozed_until }]);
    }
    for (const [method, url, body] of writes.splice(0)) {
      const res = await t.request({ method, url, body });
      assert.ok(res.statusCode < 500, `${method} ${url} ${JSON.stringify(body)} -> ${res.statusCode} ${res.body}`);
      if (res.statusCode >= 400) assertProblem(res, res.statusCode);
    }
    for (const created_at of ['0000-01-01T00:00:00Z', '2024-02-29T12:00:00+14:00', '1999-12-31 23:59:59.999999-12:00']) {
      const res = await t.request({
        method: 'POST',
        url: `/v1/tickets/${ticket.id}/messages`,
        body: { author_type: 'customer', body: 'imported', created_at },
      });
      assert.equal(res.statusCode, 201, res.body);
    }

    const get = async (url: string) => {
      const res = await t.request({ method: 'GET', url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      return res.json();
    };
    assertFits('queue', (await get('/v1/queues')).data);
    assertFits('brand', (await get('/v1/brands')).data);
    assertFits('token', (await get('/v1/tokens')).data);
    const tickets = [];
    for (let page = await get('/v1/tickets?limit=100'); ; page = await get(`/v1/tickets?limit=100&after=${page.next_cursor}`)) {
      tickets.push(...page.data);
      if (!page.next_cursor) break;
    }
    assertFits('ticket', tickets);
    for (const { id } of tickets) await get(`/v1/tickets/${id}`);
    await get(`/v1/tickets/${ticket.id}/messages`);
    await get('/v1/webhooks');
    await get('/v1/events?limit=500');
  });
});
