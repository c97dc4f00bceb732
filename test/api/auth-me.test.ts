import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand } from '../helpers/factories.js';

describe('GET /v1/tokens/me', () => {
  let t: TestApp;
  let brandId: string;

  before(async () => {
    t = await buildTestApp();
    brandId = (await createBrand(t)).id;
  });
  after(() => t.close());

  it('any valid token sees its own view, never the secret', async () => {
    for (const scopes of [['tickets:read'], ['webhooks:manage'], ['tickets:write', 'webhooks:manage'], ['admin']] as const) {
      const created = await t.runtime.services.tokens.create({ name: `me ${scopes.join(' ')}`, scopes: [...scopes], brand_ids: [brandId] });
      const res = await t.request({ method: 'GET', url: '/v1/tokens/me', token: created.token });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.id, created.id);
      assert.equal(body.name, created.name);
      assert.deepEqual(body.scopes, [...scopes]);
      assert.deepEqual(body.brand_ids, [brandId]);
      assert.equal(body.hint, created.hint);
      assert.equal(body.token, undefined);
      assert.ok(!res.body.includes(created.token), 'the secret is not echoed');
    }
  });

  it('no token, a malformed header, an unknown or a revoked token → 401', async () => {
    assertProblem(await t.request({ method: 'GET', url: '/v1/tokens/me', token: null }), 401, 'unauthorized');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tokens/me', token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 401, 'unauthorized');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tokens/me', token: `nxc_${'A'.repeat(43)}` }), 401, 'unauthorized');
    const doomed = await t.runtime.services.tokens.create({ name: 'doomed', scopes: ['tickets:read'] });
    await t.runtime.services.tokens.revoke(doomed.id);
    const res = await t.request({ method: 'GET', url: '/v1/tokens/me', token: doomed.token });
    assertProblem(res, 401, 'unauthorized');
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await t.request({ method: 'GET', url: '/v1/openapi.json', token: null })).json();
    assert.ok(doc.paths['/v1/tokens/me']?.get, 'documented');
  });
});
