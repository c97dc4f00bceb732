import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket, ticketBody } from '../helpers/factories.js';

/*
 * What the schema-driven fuzzer (fuzz.test.ts) found, pinned as plain regression tests so that
 * they hold whatever the generators happen to produce: each is a clear problem and stores nothing.
 */
describe('inputs the fuzzer found breaking the server', () => {
  let t: TestApp;
  let brandId: string;
  const stored = async () => ({
    tickets: await countRows(t, 'tickets'),
    messages: await countRows(t, 'messages'),
    events: await countRows(t, 'events'),
    audit: await countRows(t, 'audit_entries'),
    queues: await countRows(t, 'queues'),
  });
  const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json', ...headers }, payload });

  before(async () => {
    t = await buildTestApp();
    brandId = (await createBrand(t)).id;
  });
  after(() => t.close());

  it('refuses JSON nested thousands of levels deep with a 422, idempotency key or not, and stores nothing', async () => {
    const before = await stored();
    for (const nesting of [`${'['.repeat(5000)}${']'.repeat(5000)}`, `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`]) {
      const body = JSON.stringify(ticketBody(brandId)).replace(/}$/, `,"metadata":{"deep":${nesting}}}`);
      for (const headers of [{}, { 'idempotency-key': 'deep-1' }] as Record<string, string>[]) {
        const problem = assertProblem(await post('/v1/tickets', body, headers), 422, 'validation_failed');
        assert.match(problem.errors[0].pointer, /^\/metadata\/deep\/(0|a)\//);
        assert.match(problem.errors[0].message, /deeper than 64 levels/);
      }
    }
    assert.deepEqual(await stored(), before);
    // On a route that takes no such field, a deep one is refused the same way, before anything hashes it.
    const ticket = await createTicket(t, brandId);
    const withTicket = await stored();
    const reply = `{"author_type":"agent","body":"hi","author":${'['.repeat(3000)}${']'.repeat(3000)}}`;
    assertProblem(await post(`/v1/tickets/${ticket.id}/messages`, reply, { 'idempotency-key': 'deep-2' }), 422, 'validation_failed');
    assert.deepEqual(await stored(), withTicket);
    // Nesting within the limit is stored as sent.
    const fine = JSON.stringify(ticketBody(brandId, { metadata: { deep: JSON.parse(`${'['.repeat(25)}${']'.repeat(25)}`) } }));
    assert.equal((await post('/v1/tickets', fine)).statusCode, 201);
  });

  it('answers an over-long path segment (414) or undecodable percent-encoding (400) with a problem', async () => {
    for (const url of [`/v1/tickets/${'x'.repeat(101)}`, `/v1/webhooks/${'w'.repeat(500)}/deliveries`]) {
      const res = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.adminToken}` } });
      assertProblem(res, 414, 'uri_too_long');
    }
    for (const url of ['/v1/tickets/%zz', '/v1/tickets/a%ffb']) {
      const res = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.adminToken}` } });
      assertProblem(res, 400, 'invalid_url');
    }
    const before = await stored();
    assertProblem(await post(`/v1/tickets/${'x'.repeat(101)}/messages`, '{"author_type":"agent","body":"hi"}'), 414, 'uri_too_long');
    assert.deepEqual(await stored(), before);
  });

  it('refuses a routing queue whose tag is blank once trimmed (422), so no stored queue breaks the queue list', async () => {
    const before = await stored();
    for (const blank of ['   ', '\ufeff', '\u3000', '\t']) {
      const res = await post('/v1/queues', JSON.stringify({ brand_id: brandId, name: 'Blank', match: { tags: ['vip', blank] } }));
      const problem = assertProblem(res, 422, 'validation_failed');
      assert.equal(problem.errors[0].pointer, '/match/tags/1');
    }
    assert.deepEqual(await stored(), before);
    assert.equal((await t.request({ method: 'GET', url: `/v1/queues?brand_id=${brandId}` })).statusCode, 200);
  });

  it('refuses text with NUL characters anywhere (body 422, query 400, path 404), on either database, and stores nothing', async () => {
    const before = await stored();
    const body = JSON.stringify(ticketBody(brandId, { subject: 'a\u0000b' }));
    const problem = assertProblem(await post('/v1/tickets', body), 422, 'validation_failed');
    assert.deepEqual(problem.errors, [{ pointer: '/subject', message: 'must not contain the NUL character (U+0000)' }]);
    const inKey = JSON.stringify(ticketBody(brandId, { metadata: { 'k\u0000': 1 } }));
    assert.equal(assertProblem(await post('/v1/tickets', inKey), 422, 'validation_failed').errors[0].pointer, '/metadata/k\u0000');
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/v1/brands/${brandId}`,
      headers: { authorization: `Bearer ${t.adminToken}` },
      payload: { name: 'x\u0000' },
    });
    assertProblem(patch, 422, 'validation_failed');
    for (const url of ['/v1/queues?brand_id=%00', '/v1/tickets?customer_email=a%00b']) {
      const res = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.adminToken}` } });
      assertProblem(res, 400, 'invalid_query');
    }
    // A path segment with a NUL names no resource.
    for (const url of ['/v1/tickets/tick_%00', '/v1/brands/%00']) {
      const res = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.adminToken}` } });
      assertProblem(res, 404, 'not_found');
    }
    // An undeclared parameter is refused, as any unknown one is, by its name.
    assert.equal(assertProblem(await t.request({ method: 'GET', url: '/v1/brands?x=%00' }), 400, 'invalid_query').errors[0].pointer, 'x');
    assert.deepEqual(await stored(), before);
    assert.equal((await t.request({ method: 'GET', url: `/v1/brands/${brandId}` })).json().name.includes('\u0000'), false);
  });
});
