import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';

describe('OpenAPI document, docs page and health', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('serves an OpenAPI 3.1 document covering every /v1 route, with resolvable $refs', async () => {
    const res = await t.request({ method: 'GET', url: '/v1/openapi.json', token: null });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.1.0');
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`);
    }
    const routes = t.app
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .filter((l) => l.includes('/v1/'));
    assert.ok(routes.length > 0);
    for (const wanted of [
      'POST /v1/tickets',
      'GET /v1/tickets',
      'GET /v1/tickets/:ticket_id',
      'PATCH /v1/tickets/:ticket_id',
      'POST /v1/tickets/:ticket_id/messages',
    ]) {
      assert.ok(documented.has(wanted), `${wanted} is documented`);
    }
    const text = JSON.stringify(doc);
    for (const ref of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      assert.ok(doc.components.schemas[ref[1]!], `component ${ref[1]} exists`);
    }
    assert.ok(doc.components.securitySchemes.bearer);
  });

  it('serves a readable reference page at /docs and the problem catalogue', async () => {
    const docs = await t.request({ method: 'GET', url: '/docs', token: null });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /<html/i);
    const problems = await t.request({ method: 'GET', url: '/problems', token: null });
    assert.equal(problems.statusCode, 200);
    assert.match(problems.body, /id="validation_failed"/);
  });

  it('answers /healthz and /readyz without a token', async () => {
    assert.deepEqual((await t.request({ method: 'GET', url: '/healthz', token: null })).json(), { status: 'ok' });
    assert.deepEqual((await t.request({ method: 'GET', url: '/readyz', token: null })).json(), { status: 'ready' });
  });
});
