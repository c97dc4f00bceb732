import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, createTicket, ticketBody } from '../helpers/factories.js';

describe('bad input gets a clear problem and stores nothing', () => {
  let t: TestApp;
  let brand: string;
  let otherBrand: string;
  before(async () => {
    t = await buildTestApp();
    brand = (await createBrand(t)).id;
    otherBrand = (await createBrand(t)).id;
  });
  after(() => t.close());

  const stored = async () => ({
    tickets: await countRows(t, 'tickets'),
    messages: await countRows(t, 'messages'),
    events: await countRows(t, 'events'),
    audit: await countRows(t, 'audit_entries'),
  });

  const bigString = (n: number) => 'x'.repeat(n);
  const cases: [string, (b: string) => Record<string, unknown>, string][] = [
    [
      'missing brand_id',
      (b) => {
        const body = ticketBody(b);
        delete body.brand_id;
        return body;
      },
      '/brand_id',
    ],
    ['unknown brand', () => ticketBody('brand_nope'), '/brand_id'],
    [
      'missing subject',
      (b) => {
        const body = ticketBody(b);
        delete body.subject;
        return body;
      },
      '/subject',
    ],
    ['empty subject', (b) => ticketBody(b, { subject: '' }), '/subject'],
    ['blank subject', (b) => ticketBody(b, { subject: '   ' }), '/subject'],
    ['subject over 300 chars', (b) => ticketBody(b, { subject: bigString(301) }), '/subject'],
    ['description over 64 KB', (b) => ticketBody(b, { description: bigString(64 * 1024 + 1) }), '/description'],
    ['description over 64 KB in UTF-8 bytes', (b) => ticketBody(b, { description: 'é'.repeat(33 * 1024) }), '/description'],
    [
      'missing customer',
      (b) => {
        const body = ticketBody(b);
        delete body.customer;
        return body;
      },
      '/customer',
    ],
    ['invalid customer email', (b) => ticketBody(b, { customer: { email: 'not-an-email', name: 'X' } }), '/customer/email'],
    ['customer email missing', (b) => ticketBody(b, { customer: { name: 'X' } }), '/customer/email'],
    ['too many tags', (b) => ticketBody(b, { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }), '/tags'],
    ['tag over 64 chars', (b) => ticketBody(b, { tags: ['ok', bigString(65)] }), '/tags/1'],
    ['blank tag', (b) => ticketBody(b, { tags: ['ok', '   '] }), '/tags/1'],
    ['tag not a string', (b) => ticketBody(b, { tags: [42] }), '/tags/0'],
    ['metadata over 4 KB', (b) => ticketBody(b, { metadata: { blob: bigString(4100) } }), '/metadata'],
    ['metadata an array', (b) => ticketBody(b, { metadata: [1, 2] }), '/metadata'],
    ['metadata a string', (b) => ticketBody(b, { metadata: 'x' }), '/metadata'],
    ['unknown priority', (b) => ticketBody(b, { priority: 'critical' }), '/priority'],
    ['unknown origin', (b) => ticketBody(b, { origin: 'fax' }), '/origin'],
    ['unknown field', (b) => ticketBody(b, { colour: 'red' }), '/colour'],
    ['status on create', (b) => ticketBody(b, { status: 'resolved' }), '/status'],
    ['subject not a string', (b) => ticketBody(b, { subject: 12345 }), '/subject'],
  ];

  for (const [name, body, pointer] of cases) {
    it(`create: ${name} → 422 naming ${pointer}`, async () => {
      const before = await stored();
      const res = await t.request({ method: 'POST', url: '/v1/tickets', body: body(brand) });
      const problem = assertProblem(res, 422, 'validation_failed');
      assert.ok(
        problem.errors.some((e: { pointer: string }) => e.pointer === pointer),
        `expected pointer ${pointer} in ${JSON.stringify(problem.errors)}`,
      );
      assert.deepEqual(await stored(), before);
    });
  }

  it('create: a brand the token may not see is reported like a missing one', async () => {
    const token = await t.token(['tickets:write'], [brand]);
    const before = await stored();
    const res = await t.request({ method: 'POST', url: '/v1/tickets', body: ticketBody(otherBrand), token });
    const problem = assertProblem(res, 422, 'validation_failed');
    assert.equal(problem.errors[0].pointer, '/brand_id');
    const missing = assertProblem(await t.request({ method: 'POST', url: '/v1/tickets', body: ticketBody('brand_missing'), token }), 422);
    assert.equal(problem.detail.replace(otherBrand, 'X'), missing.detail.replace('brand_missing', 'X'));
    assert.deepEqual(await stored(), before);
  });

  it('malformed JSON → 400, wrong content type → 415, over 1 MiB → 413, unknown route → 404, wrong method → 405', async () => {
    const before = await stored();
    const auth = { authorization: `Bearer ${t.adminToken}` };
    assertProblem(
      await t.app.inject({ method: 'POST', url: '/v1/tickets', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"brand_id": ' }),
      400,
      'invalid_json',
    );
    assertProblem(
      await t.app.inject({ method: 'POST', url: '/v1/tickets', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' }),
      415,
      'unsupported_media_type',
    );
    const huge = JSON.stringify(ticketBody(brand, { description: 'x'.repeat(1024 * 1024 + 10) }));
    assertProblem(
      await t.app.inject({ method: 'POST', url: '/v1/tickets', headers: { ...auth, 'content-type': 'application/json' }, payload: huge }),
      413,
      'payload_too_large',
    );
    assertProblem(await t.request({ method: 'GET', url: '/v1/nothing-here' }), 404, 'route_not_found');
    const wrongMethod = await t.request({ method: 'DELETE', url: '/v1/tickets' });
    assertProblem(wrongMethod, 405, 'method_not_allowed');
    assert.match(String(wrongMethod.headers.allow), /GET/);
    assert.match(String(wrongMethod.headers.allow), /POST/);
    assertProblem(await t.request({ method: 'PUT', url: '/v1/tickets/tick_00000000000000000000000000' }), 405, 'method_not_allowed');
    assert.deepEqual(await stored(), before);
  });

  it('lookups of unknown or malformed ids are 404 problems', async () => {
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets/tick_00000000000000000000000000' }), 404, 'not_found');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets/../../etc/passwd' }), 404);
    assertProblem(await t.request({ method: 'PATCH', url: '/v1/tickets/nope', body: { status: 'open' } }), 404, 'not_found');
    assertProblem(await t.request({ method: 'POST', url: '/v1/tickets/nope/messages', body: { author_type: 'agent', body: 'x' } }), 404, 'not_found');
  });

  it('list: bad query parameters are 400 problems', async () => {
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?limit=101' }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?limit=0' }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?status=closed' }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?created_after=yesterday' }), 400, 'invalid_query');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets?after=%%%' }), 400);
  });

  describe('update', () => {
    let ticket: { id: string };
    before(async () => {
      ticket = await createTicket(t, brand);
    });
    const patchCases: [string, Record<string, unknown>, string][] = [
      ['unknown status', { status: 'closed' }, '/status'],
      ['unknown priority', { priority: 'p1' }, '/priority'],
      ['assigned_to not an email', { assigned_to: 'bob' }, '/assigned_to'],
      ['tags not an array', { tags: 'a,b' }, '/tags'],
      ['snoozed_until on an open ticket', { snoozed_until: '2030-01-01T00:00:00Z' }, '/snoozed_until'],
      ['snoozed_until in the past', { status: 'snoozed', snoozed_until: '2020-01-01T00:00:00Z' }, '/snoozed_until'],
      ['snoozed_until not a date', { status: 'snoozed', snoozed_until: 'tomorrow' }, '/snoozed_until'],
      ['unknown field', { id: 'tick_x' }, '/id'],
      ['metadata over 4 KB', { metadata: { a: 'y'.repeat(5000) } }, '/metadata'],
    ];
    for (const [name, body, pointer] of patchCases) {
      it(`${name} → 422 naming ${pointer}, ticket unchanged`, async () => {
        const beforeTicket = (await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json();
        const beforeRows = await stored();
        const problem = assertProblem(await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body }), 422, 'validation_failed');
        assert.ok(
          problem.errors.some((e: { pointer: string }) => e.pointer === pointer),
          JSON.stringify(problem.errors),
        );
        assert.deepEqual((await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}` })).json(), beforeTicket);
        assert.deepEqual(await stored(), beforeRows);
      });
    }
  });

  it('a value that fits no form of a union gets one error naming the alternatives', async () => {
    const ticket = await createTicket(t, brand);
    const problem = assertProblem(await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { assigned_to: '' } }), 422);
    assert.deepEqual(problem.errors, [{ pointer: '/assigned_to', message: 'must match format "email", or must be null' }]);
  });

  describe('messages', () => {
    let ticket: { id: string };
    before(async () => {
      ticket = await createTicket(t, brand);
    });
    const messageCases: [string, Record<string, unknown>, string][] = [
      ['unknown author_type', { author_type: 'bot', body: 'hi' }, '/author_type'],
      ['missing body', { author_type: 'agent' }, '/body'],
      ['empty body', { author_type: 'agent', body: '' }, '/body'],
      ['blank body', { author_type: 'agent', body: '  \n ' }, '/body'],
      ['invalid cc', { author_type: 'agent', body: 'hi', cc: ['finance'] }, '/cc/0'],
      ['created_at in the future', { author_type: 'customer', body: 'hi', created_at: '2999-01-01T00:00:00Z' }, '/created_at'],
      ['created_at not a date-time', { author_type: 'customer', body: 'hi', created_at: 'last week' }, '/created_at'],
      ['author email invalid', { author_type: 'agent', body: 'hi', author: { email: 'x' } }, '/author/email'],
      ['unknown field', { author_type: 'agent', body: 'hi', html: '<b>' }, '/html'],
    ];
    for (const [name, body, pointer] of messageCases) {
      it(`${name} → 422 naming ${pointer}, nothing stored`, async () => {
        const beforeRows = await stored();
        const problem = assertProblem(await t.request({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, body }), 422, 'validation_failed');
        assert.ok(
          problem.errors.some((e: { pointer: string }) => e.pointer === pointer),
          JSON.stringify(problem.errors),
        );
        assert.deepEqual(await stored(), beforeRows);
      });
    }
  });
});
