import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import type { App } from '../../src/http/types.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { type ContractValidator, createContractValidator, enforceContract } from '../helpers/contract.js';
import { createBrand, createTicket } from '../helpers/factories.js';

/*
 * The contract check that every API test goes through (test/helpers/app.ts): here it is shown to
 * catch what it is meant to catch, on responses made up to break the document in one way each.
 */
describe('contract check of responses against the OpenAPI document', () => {
  let t: TestApp;
  let contract: ContractValidator;
  const json = { 'content-type': 'application/json; charset=utf-8' };
  const problemType = { 'content-type': 'application/problem+json; charset=utf-8' };
  const problem = (status: number, code: string) => JSON.stringify({ type: `/problems#${code}`, title: 't', status, detail: 'd', code, request_id: 'req_1' });

  before(async () => {
    t = await buildTestApp();
    contract = createContractValidator(t.app.swagger() as object);
  });
  after(() => t.close());

  it('accepts what the app really answers, success and error, through the wrapped inject', async () => {
    const brand = await createBrand(t);
    const ticket = await createTicket(t, brand.id, { tags: ['billing'], metadata: { order: { id: 10021, lines: [1, 2] } } });
    await t.request({ method: 'PATCH', url: `/v1/tickets/${ticket.id}`, body: { tags: ['billing', 'vip'], metadata: { order: null } } });
    const audit = await t.request({ method: 'GET', url: `/v1/tickets/${ticket.id}/audit` });
    assert.equal(audit.statusCode, 200);
    const events = await t.request({ method: 'GET', url: '/v1/events' });
    assert.deepEqual(
      events.json().data.map((e: { type: string }) => e.type),
      ['ticket.created', 'ticket.updated'],
    );
    // The same responses, checked directly: nothing to report.
    for (const [url, res] of [
      [`/v1/tickets/${ticket.id}/audit`, audit],
      ['/v1/events', events],
    ] as const) {
      assert.equal(contract.check({ method: 'GET', url, statusCode: res.statusCode, headers: res.headers, body: res.body }), undefined);
    }
    const missing = await t.request({ method: 'GET', url: '/v1/tickets/tick_nope' });
    assert.equal(missing.statusCode, 404);
  });

  it('names the operation and the status when the status is not documented', () => {
    const violation = contract.check({ method: 'GET', url: '/v1/brands', statusCode: 418, headers: problemType, body: problem(418, 'bad_request') });
    assert.match(String(violation), /GET \/v1\/brands \(listBrands\) answered 418: status 418 is not documented/);
  });

  it('refuses an error that is not application/problem+json', () => {
    const violation = contract.check({ method: 'POST', url: '/v1/tickets', statusCode: 400, headers: json, body: problem(400, 'invalid_json') });
    assert.match(String(violation), /createTicket.*Content-Type application\/json is not documented/);
    const unknownRoute = contract.check({ method: 'GET', url: '/v1/nothing-here', statusCode: 404, headers: json, body: '{"code":"FST_ERR_NOT_FOUND"}' });
    assert.match(String(unknownRoute), /must be application\/problem\+json/);
  });

  it('checks bodies against the schema, $refs resolved, with the first error', () => {
    const body = JSON.stringify({
      data: [{ id: 'brand_1', name: 'A', email_addresses: [], default_queue_id: 'que_1', created_at: 'yesterday', updated_at: '2026-01-15T10:00:00Z' }],
    });
    const violation = contract.check({ method: 'GET', url: '/v1/brands', statusCode: 200, headers: json, body });
    assert.match(String(violation), /listBrands.*\/data\/0\/created_at must match format "date-time"/);
    const event = JSON.stringify({
      data: [{ id: 'evt_01kf0hj080bg0vjsqmv3qz0nzn', type: 'ticket.deleted', timestamp: '2026-01-15T10:00:00Z', data: {} }],
      next_cursor: null,
    });
    assert.match(String(contract.check({ method: 'GET', url: '/v1/events', statusCode: 200, headers: json, body: event })), /listEvents.*does not match/);
  });

  it('checks a problem against the catalogue: known code, the status of that code', () => {
    const wrongCode = contract.check({ method: 'GET', url: '/v1/brands/brand_x', statusCode: 404, headers: problemType, body: problem(404, 'no_such_code') });
    assert.match(String(wrongCode), /getBrand.*does not match/);
    const wrongStatus = contract.check({ method: 'GET', url: '/v1/brands/brand_x', statusCode: 404, headers: problemType, body: problem(404, 'conflict') });
    assert.match(String(wrongStatus), /code conflict belongs to status 409/);
  });

  it('matches literal path segments before parameters', () => {
    const me = contract.check({ method: 'GET', url: '/v1/tokens/me', statusCode: 404, headers: problemType, body: problem(404, 'not_found') });
    assert.match(String(me), /GET \/v1\/tokens\/me \(getCurrentToken\) answered 404: status 404 is not documented/);
  });

  it('fails the request that broke the contract, over inject and over a real connection', async () => {
    // A small app whose only route answers what its document does not say.
    const app = Fastify();
    await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 'x', version: '1' } } });
    app.get('/v1/thing', { schema: { summary: 'A thing' } }, async (_req, reply) => reply.status(418).send({ ok: true }));
    await app.ready();
    const contract = enforceContract(app as unknown as App);
    try {
      await assert.rejects(
        app.inject({ method: 'GET', url: '/v1/thing' }),
        /Contract broken: GET \/v1\/thing \(no operationId\) answered 418: status 418 is not documented/,
      );
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address() as { port: number };
      assert.equal((await fetch(`http://127.0.0.1:${address.port}/v1/thing`)).status, 418);
      assert.throws(() => contract.assertNoViolations(), /Contract broken over HTTP:\nGET \/v1\/thing .* status 418 is not documented/);
    } finally {
      await app.close();
    }
  });
});
