/**
 * Deeply nested and very wide JSON bodies get a clear 4xx problem on every route that takes JSON,
 * are checked without recursion (no stack overflow, no 500), and store nothing (issue 9, defect 4).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket, ticketBody } from '../helpers/factories.js';

const TABLES = [
  'tickets',
  'messages',
  'events',
  'audit_entries',
  'brands',
  'queues',
  'tokens',
  'webhook_endpoints',
  'attachments',
  'idempotency_keys',
] as const;

const deepObject = (levels: number, leaf = '1') => '{"a":'.repeat(levels) + leaf + '}'.repeat(levels);
const deepArray = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('deep and wide JSON bodies', () => {
  let t: TestApp;
  let brand: string;
  let ticket: { id: string };
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
    ticket = await createTicket(t, brand, { metadata: { keep: 'me' } });
  });
  after(() => t.close());

  async function stored(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of TABLES) {
      const row = await t.runtime.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      out[table] = Number(row.n);
    }
    return out;
  }

  const send = (method: string, url: string, payload: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: method as 'POST',
      url,
      payload,
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json', ...headers },
    });

  const pointers = (problem: { errors?: { pointer: string }[] }) => (problem.errors ?? []).map((e) => e.pointer);

  it('metadata nested 5,000 levels deep is a 422 problem naming /metadata, on create and update, and stores nothing', async () => {
    const before = await stored();
    const body = JSON.stringify(ticketBody(brand)).replace(/}$/, `,"metadata":${deepObject(5000)}}`);
    const created = assertProblem(await send('POST', '/v1/tickets', body), 422, 'validation_failed');
    assert.match(pointers(created)[0]!, /^\/metadata(\/a)+$/);
    assert.match(created.errors[0].message, /deeper than \d+ levels/);
    const updated = assertProblem(await send('PATCH', `/v1/tickets/${ticket.id}`, `{"metadata":${deepObject(5000)}}`), 422, 'validation_failed');
    assert.match(pointers(updated)[0]!, /^\/metadata(\/a)+$/);
    // With an Idempotency-Key the body is fingerprinted too: still a 422, and no key is kept.
    assertProblem(await send('POST', '/v1/tickets', body, { 'idempotency-key': 'deep-1' }), 422, 'validation_failed');
    assert.deepEqual(await stored(), before);
    const after = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
    assert.deepEqual(after.metadata, { keep: 'me' });
  });

  it('metadata may nest 32 levels of objects and arrays (itself included), not 33', async () => {
    const nested = (levels: number): unknown => (levels === 1 ? { leaf: [] as unknown[] } : { n: nested(levels - 1) });
    // nested(31) plus the array at its bottom: 32 levels.
    const ok = await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { metadata: nested(31) } });
    assert.equal(ok.statusCode, 200, ok.body);
    const before = await stored();
    const version = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).headers.etag;
    const tooDeep = await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { metadata: nested(32) } });
    const problem = assertProblem(tooDeep, 422, 'validation_failed');
    assert.deepEqual(problem.errors, [{ pointer: `/metadata${'/n'.repeat(31)}/leaf`, message: 'nests objects and arrays deeper than 32 levels' }]);
    const arrays = await t.request({ method: 'POST', url: '/v1/tickets', body: ticketBody(brand, { metadata: { list: JSON.parse(deepArray(32)) } }) });
    assert.equal(assertProblem(arrays, 422, 'validation_failed').errors[0].pointer, `/metadata/list${'/0'.repeat(31)}`);
    assert.deepEqual(await stored(), before);
    assert.equal((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).headers.etag, version, 'the ticket did not change');
  });

  it('every route that takes JSON answers a deeply nested body with a 4xx problem and stores nothing', async () => {
    // Real ids, so that each request reaches its body handling rather than a 404.
    const queue = (await t.request({ method: 'POST', url: '/v1/queues', body: { brand_id: brand, name: 'Q', match: { priority: ['low'] } } })).json();
    const hook = (await t.request({ method: 'POST', url: '/v1/webhooks', body: { url: 'https://hooks.example.com/x', events: ['*'] } })).json();
    const token = (await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'x', scopes: ['tickets:read'] } })).json();
    const ids: Record<string, string> = { ticket_id: ticket.id, brand_id: brand, queue_id: queue.id, webhook_id: hook.id, token_id: token.id };
    const doc = t.app.swagger() as {
      paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: object } }> } }>>;
    };
    const before = await stored();
    let routes = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const json = operation.requestBody?.content?.['application/json'];
        if (!json) continue;
        routes++;
        const url = path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? 'x');
        const fields = Object.keys(json.schema?.properties ?? {});
        const bodies = [
          `{"unknown_field":${deepObject(5000)}}`,
          deepArray(100_000),
          `{"__proto__":1,"a":${deepObject(3000, '{"constructor":{"prototype":{}}}')}}`,
          ...fields.map((field) => `{"${field}":${deepObject(5000)}}`),
          ...fields.map((field) => `{"${field}":${deepArray(70)}}`),
        ];
        for (const body of bodies) {
          for (const headers of [{}, { 'idempotency-key': `deep-${routes}` }] as Record<string, string>[]) {
            const res = await send(method.toUpperCase(), url, body, headers);
            assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${method} ${path} ${body.slice(0, 40)} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
            assertProblem(res, res.statusCode);
          }
        }
      }
    }
    assert.ok(routes >= 10, `found ${routes} routes taking JSON`);
    assert.deepEqual(await stored(), before);
    assert.equal((await t.request({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });

  it('a wide body within the 1 MiB limit gets one bounded problem; a bigger one is a 413', async () => {
    const before = await stored();
    // Half a million wrong items: every one is an error, but the problem lists the first 20 and a count.
    const items = `{"brand_id":"${brand}","subject":"s","customer":{"email":"a@example.com"},"tags":[${Array(500_000).fill('1').join(',')}]}`;
    assert.ok(items.length < 1024 * 1024);
    const res = await send('POST', '/v1/tickets', items);
    const problem = assertProblem(res, 422, 'validation_failed');
    assert.ok(problem.errors.length <= 21, `${problem.errors.length} errors`);
    assert.ok(res.body.length < 16 * 1024, `problem of ${res.body.length} bytes`);
    assert.ok(problem.errors.some((e: { message: string }) => /more errors/.test(e.message)));

    const keys = Array.from({ length: 80_000 }, (_, i) => `"k${i}":1`).join(',');
    const wideMetadata = await send('POST', '/v1/tickets', JSON.stringify(ticketBody(brand)).replace(/}$/, `,"metadata":{${keys}}}`));
    assert.deepEqual(pointers(assertProblem(wideMetadata, 422, 'validation_failed')), ['/metadata']);
    const wideUnknown = await send('POST', '/v1/tickets/search', `{"query":"x",${keys}}`);
    assert.ok(assertProblem(wideUnknown, 422, 'validation_failed').errors.length <= 21);

    const tooBig = await send('POST', '/v1/tickets', JSON.stringify(ticketBody(brand, { description: 'x'.repeat(1536 * 1024) })));
    assertProblem(tooBig, 413, 'payload_too_large');
    assert.deepEqual(await stored(), before);
  });
});
