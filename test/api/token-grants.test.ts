import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../src/auth/scopes.js';
import { AppError } from '../../src/http/problem.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand } from '../helpers/factories.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read as loose JSON here; the assertions check their shape
type Json = any;

const BOOTSTRAP_SECRET = `nxc_bootstrap_${'s'.repeat(40)}`;

/** Every token row as stored, minus the use stamp that authentication itself moves. */
async function tokenRows(t: TestApp) {
  const rows = await t.runtime.db.selectFrom('tokens').selectAll().orderBy('id').execute();
  return rows.map(({ last_used_at: _used, ...rest }) => rest);
}

describe('a brand-restricted admin stays inside its brands (tokens, brands)', () => {
  let t: TestApp;
  let brandA: string;
  let brandB: string;
  /** admin of brand A only */
  let adminA: { id: string; token: string };
  let readerA: { id: string; token: string };
  let readerB: { id: string; token: string };
  let readerAB: { id: string; token: string };
  let bootstrapId: string;

  before(async () => {
    t = await buildTestApp({ env: { NEXUS_ADMIN_TOKEN: BOOTSTRAP_SECRET } });
    // What `npm start` does with NEXUS_ADMIN_TOKEN set.
    await t.runtime.services.tokens.ensureAdminToken(BOOTSTRAP_SECRET);
    brandA = (await createBrand(t)).id;
    brandB = (await createBrand(t)).id;
    const tokens = t.runtime.services.tokens;
    adminA = await tokens.create({ name: 'admin A', scopes: ['admin'], brand_ids: [brandA] });
    readerA = await tokens.create({ name: 'reader A', scopes: ['tickets:read'], brand_ids: [brandA] });
    readerB = await tokens.create({ name: 'reader B', scopes: ['tickets:read'], brand_ids: [brandB] });
    readerAB = await tokens.create({ name: 'reader A+B', scopes: ['tickets:read'], brand_ids: [brandA, brandB] });
    const me = await t.request({ method: 'GET', url: '/v1/tokens/me', token: BOOTSTRAP_SECRET });
    assert.equal(me.statusCode, 200, me.body);
    bootstrapId = me.json().id;
  });
  after(() => t.close());

  it('cannot mint a token for every brand or for another brand: 422, nothing stored', async () => {
    const before = await tokenRows(t);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ brand_ids: null }, '/brand_ids', /cannot create a token for every brand/],
      [{ brand_ids: [brandB] }, '/brand_ids/0', new RegExp(`brand ${brandB} does not exist`)],
      [{ brand_ids: [brandA, brandB] }, '/brand_ids/1', new RegExp(`brand ${brandB} does not exist`)],
    ];
    for (const [extra, pointer, message] of cases) {
      for (const scopes of [['admin'], ['tickets:read']]) {
        const res = await t.request({ method: 'POST', url: '/v1/tokens', token: adminA.token, body: { name: 'escape', scopes, ...extra } });
        const problem = assertProblem(res, 422, 'validation_failed');
        assert.equal(problem.errors[0].pointer, pointer, res.body);
        assert.match(problem.errors[0].message, message);
        assert.ok(!('token' in problem), 'no secret in a refusal');
      }
    }
    // A brand B that exists reads exactly like one that does not.
    const missing = assertProblem(
      await t.request({ method: 'POST', url: '/v1/tokens', token: adminA.token, body: { name: 'x', scopes: ['admin'], brand_ids: ['brand_nope'] } }),
      422,
    );
    assert.equal(missing.errors[0].message, 'brand brand_nope does not exist');
    assert.deepEqual(await tokenRows(t), before, 'no token was stored or changed');
  });

  it('brand_ids left out means its own brands; the minted token sees nothing else', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/tokens', token: adminA.token, body: { name: 'child', scopes: ['admin'] } });
    assert.equal(res.statusCode, 201, res.body);
    const child = res.json();
    assert.deepEqual(child.brand_ids, [brandA]);
    assertProblem(await t.request({ method: 'GET', url: `/v1/brands/${brandB}`, token: child.token }), 404, 'not_found');
    const explicit = await t.request({
      method: 'POST',
      url: '/v1/tokens',
      token: adminA.token,
      body: { name: 'reader', scopes: ['tickets:read'], brand_ids: [brandA] },
    });
    assert.equal(explicit.statusCode, 201, explicit.body);
    // An unrestricted admin still mints tokens for every brand when brand_ids is left out.
    const open = await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'all', scopes: ['tickets:read'] } });
    assert.equal(open.json().brand_ids, null);
  });

  it('cannot mint a token that outlives it: no expiry means its own, a later one is a 422', async () => {
    const expiring = await t.runtime.services.tokens.create({
      name: 'temp admin A',
      scopes: ['admin'],
      brand_ids: [brandA],
      expires_at: '2026-02-01T00:00:00Z',
    });
    const before = await tokenRows(t);
    for (const expires_at of ['2026-02-01T00:00:01Z', '2030-01-01T00:00:00Z']) {
      const res = await t.request({ method: 'POST', url: '/v1/tokens', token: expiring.token, body: { name: 'later', scopes: ['tickets:read'], expires_at } });
      const problem = assertProblem(res, 422, 'validation_failed');
      assert.equal(problem.errors[0].pointer, '/expires_at');
    }
    assert.deepEqual(await tokenRows(t), before, 'nothing stored');
    const inherits = await t.request({ method: 'POST', url: '/v1/tokens', token: expiring.token, body: { name: 'inherits', scopes: ['tickets:read'] } });
    assert.equal(inherits.statusCode, 201, inherits.body);
    assert.equal(inherits.json().expires_at, '2026-02-01T00:00:00Z');
    const sooner = await t.request({
      method: 'POST',
      url: '/v1/tokens',
      token: expiring.token,
      body: { name: 'sooner', scopes: ['tickets:read'], expires_at: '2026-01-20T00:00:00Z' },
    });
    assert.equal(sooner.json().expires_at, '2026-01-20T00:00:00Z');
  });

  it('grants only scopes it holds (admin holds every scope, tickets:write holds tickets:read)', async () => {
    // Only admin tokens reach POST /v1/tokens, so the service is asked directly: the rule holds
    // whoever calls it with a principal.
    const writer: Principal = { tokenId: 'tok_writer', tokenName: 'writer', scopes: ['tickets:write'], brandIds: [brandA] };
    const before = await countRows(t, 'tokens');
    for (const scopes of [['admin'], ['webhooks:manage'], ['tickets:read', 'webhooks:manage']] as const) {
      await assert.rejects(
        t.runtime.services.tokens.create({ name: 'escalate', scopes: [...scopes] }, writer),
        (err: unknown) => err instanceof AppError && err.code === 'forbidden' && /cannot grant/.test(err.message),
      );
    }
    assert.equal(await countRows(t, 'tokens'), before);
    const reader = await t.runtime.services.tokens.create({ name: 'derived', scopes: ['tickets:read'] }, writer);
    assert.deepEqual(reader.scopes, ['tickets:read']);
    assert.deepEqual(reader.brand_ids, [brandA]);
  });

  it('lists only the tokens wholly inside its brands', async () => {
    const listed: Json[] = (await t.request({ method: 'GET', url: '/v1/tokens', token: adminA.token })).json().data;
    const ids = new Set(listed.map((x) => x.id));
    assert.ok(ids.has(adminA.id) && ids.has(readerA.id));
    for (const outside of [readerB.id, readerAB.id, bootstrapId]) assert.ok(!ids.has(outside), `${outside} is outside brand A`);
    assert.ok(listed.every((x) => Array.isArray(x.brand_ids) && x.brand_ids.every((b: string) => b === brandA)));
    const all = new Set((await t.request({ method: 'GET', url: '/v1/tokens' })).json().data.map((x: Json) => x.id));
    for (const id of [adminA.id, readerB.id, readerAB.id, bootstrapId]) assert.ok(all.has(id), 'an unrestricted admin lists every token');
  });

  it('revokes only tokens inside its brands; any other is a 404 like a missing id, and still works', async () => {
    const before = await tokenRows(t);
    const missing = assertProblem(await t.request({ method: 'DELETE', url: '/v1/tokens/tok_missing', token: adminA.token }), 404, 'not_found');
    assert.equal(missing.detail, 'Token tok_missing was not found');
    const testAdminId = (await t.request({ method: 'GET', url: '/v1/tokens/me' })).json().id;
    for (const id of [readerB.id, readerAB.id, testAdminId, bootstrapId]) {
      const problem = assertProblem(await t.request({ method: 'DELETE', url: `/v1/tokens/${id}`, token: adminA.token }), 404, 'not_found');
      assert.equal(problem.detail, `Token ${id} was not found`);
    }
    assert.deepEqual(await tokenRows(t), before, 'nothing revoked');
    assert.equal((await t.request({ method: 'GET', url: '/v1/brands', token: readerB.token })).statusCode, 200, 'brand B’s token still works');
    assert.equal((await t.request({ method: 'GET', url: '/v1/tokens', token: BOOTSTRAP_SECRET })).statusCode, 200, 'the bootstrap token still works');

    const inside = await t.request({ method: 'DELETE', url: `/v1/tokens/${readerA.id}`, token: adminA.token });
    assert.equal(inside.statusCode, 200, inside.body);
    assertProblem(await t.request({ method: 'GET', url: '/v1/brands', token: readerA.token }), 401, 'unauthorized');
  });

  it('the bootstrap token (NEXUS_ADMIN_TOKEN) cannot be revoked over the API: 409, unchanged', async () => {
    const before = await tokenRows(t);
    for (const token of [undefined, BOOTSTRAP_SECRET]) {
      const problem = assertProblem(await t.request({ method: 'DELETE', url: `/v1/tokens/${bootstrapId}`, ...(token ? { token } : {}) }), 409, 'conflict');
      assert.match(problem.detail, /NEXUS_ADMIN_TOKEN/);
      assert.match(problem.detail, /nexus tokens revoke/);
      assert.ok(!problem.detail.includes(BOOTSTRAP_SECRET), 'the secret is never echoed');
    }
    assert.deepEqual(await tokenRows(t), before);
    assert.equal((await t.request({ method: 'GET', url: '/v1/tokens/me', token: BOOTSTRAP_SECRET })).statusCode, 200);
  });

  it('cannot create a brand (403, nothing stored) but manages its own brand', async () => {
    const before = await countRows(t, 'brands');
    const queues = await countRows(t, 'queues');
    for (const body of [{ name: 'Sneaky' }, { id: 'brand_sneaky', name: 'Sneaky' }, { id: brandA, name: 'dup' }, { name: '' }]) {
      const problem = assertProblem(await t.request({ method: 'POST', url: '/v1/brands', token: adminA.token, body }), 403, 'forbidden');
      assert.match(problem.detail, /limited to some brands/);
    }
    assert.equal(await countRows(t, 'brands'), before);
    assert.equal(await countRows(t, 'queues'), queues);
    assertProblem(await t.request({ method: 'GET', url: '/v1/brands/brand_sneaky' }), 404);

    const renamed = await t.request({ method: 'PATCH', url: `/v1/brands/${brandA}`, token: adminA.token, body: { name: 'Brand A renamed' } });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assertProblem(await t.request({ method: 'PATCH', url: `/v1/brands/${brandB}`, token: adminA.token, body: { name: 'Taken over' } }), 404, 'not_found');
    assert.notEqual((await t.request({ method: 'GET', url: `/v1/brands/${brandB}` })).json().name, 'Taken over');
  });
});
