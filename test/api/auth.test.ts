import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Scope } from '../../src/auth/scopes.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, createBrand, createTicket } from '../helpers/factories.js';

interface RouteCase {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  scope: Scope;
  body?: unknown;
  /** Whether the route names a resource of one brand, so another brand's token must get a 404. */
  branded?: boolean;
}

describe('authentication and the permission matrix', () => {
  let t: TestApp;
  let brandA: string;
  let brandB: string;
  let ticketA: { id: string; queue: { id: string } };
  let routes: RouteCase[];

  before(async () => {
    t = await buildTestApp();
    brandA = (await createBrand(t)).id;
    brandB = (await createBrand(t)).id;
    ticketA = await createTicket(t, brandA);
    const victim = await t.runtime.services.tokens.create({ name: 'victim', scopes: ['tickets:read'] });
    routes = [
      { method: 'GET', url: '/v1/tickets', scope: 'tickets:read' },
      { method: 'POST', url: '/v1/tickets', scope: 'tickets:write', body: { brand_id: brandA, subject: 's', customer: { email: 'a@b.co' } } },
      { method: 'GET', url: `/v1/tickets/${ticketA.id}`, scope: 'tickets:read', branded: true },
      { method: 'PATCH', url: `/v1/tickets/${ticketA.id}`, scope: 'tickets:write', body: { priority: 'high' }, branded: true },
      { method: 'POST', url: `/v1/tickets/${ticketA.id}/messages`, scope: 'tickets:write', body: { author_type: 'agent', body: 'hi' }, branded: true },
      { method: 'GET', url: `/v1/tickets/${ticketA.id}/messages`, scope: 'tickets:read', branded: true },
      { method: 'GET', url: `/v1/tickets/${ticketA.id}/audit`, scope: 'tickets:read', branded: true },
      { method: 'GET', url: '/v1/brands', scope: 'tickets:read' },
      { method: 'GET', url: `/v1/brands/${brandA}`, scope: 'tickets:read', branded: true },
      { method: 'POST', url: '/v1/brands', scope: 'admin', body: { name: 'New' } },
      { method: 'PATCH', url: `/v1/brands/${brandA}`, scope: 'admin', body: { name: 'Renamed' } },
      { method: 'GET', url: '/v1/queues', scope: 'tickets:read' },
      { method: 'GET', url: `/v1/queues/${ticketA.queue.id}`, scope: 'tickets:read', branded: true },
      { method: 'GET', url: `/v1/queues/${ticketA.queue.id}/tickets`, scope: 'tickets:read', branded: true },
      { method: 'POST', url: '/v1/queues', scope: 'admin', body: { brand_id: brandA, name: 'VIP', match: { tags: ['vip'] } } },
      { method: 'PATCH', url: `/v1/queues/${ticketA.queue.id}`, scope: 'admin', body: { name: 'Default' } },
      { method: 'GET', url: '/v1/tokens', scope: 'admin' },
      { method: 'POST', url: '/v1/tokens', scope: 'admin', body: { name: 'n', scopes: ['tickets:read'] } },
      { method: 'DELETE', url: `/v1/tokens/${victim.id}`, scope: 'admin' },
    ];
  });
  after(() => t.close());

  it('every route: no token → 401 with WWW-Authenticate: Bearer', async () => {
    for (const r of routes) {
      const res = await t.request({ method: r.method, url: r.url, token: null, body: r.body });
      assertProblem(res, 401, 'unauthorized');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/, `${r.method} ${r.url}`);
    }
  });

  it('every route: a malformed or unknown token → 401', async () => {
    for (const r of routes) {
      for (const header of ['Bearer', 'Basic dXNlcjpwYXNz', `Bearer nxc_${'A'.repeat(43)}`, `Bearer ${t.adminToken}x`]) {
        const res = await t.app.inject({ method: r.method, url: r.url, headers: { authorization: header }, ...(r.body ? { payload: r.body as object } : {}) });
        assertProblem(res, 401, 'unauthorized');
      }
    }
  });

  it('every route: a valid token without the scope → 403', async () => {
    const scopes: Scope[] = ['tickets:read', 'tickets:write', 'webhooks:manage', 'admin'];
    for (const r of routes) {
      for (const held of scopes) {
        const allowed = held === 'admin' || held === r.scope || (r.scope === 'tickets:read' && held === 'tickets:write');
        if (allowed) continue;
        const token = await t.token([held]);
        const res = await t.request({ method: r.method, url: r.url, token, body: r.body });
        assertProblem(res, 403, 'forbidden');
      }
    }
  });

  it('every branded route: a token of another brand gets a 404, like a missing id', async () => {
    for (const r of routes.filter((x) => x.branded)) {
      const token = await t.token([r.scope === 'admin' ? 'admin' : 'tickets:write'], [brandB]);
      assertProblem(await t.request({ method: r.method, url: r.url, token, body: r.body }), 404, 'not_found');
    }
    const token = await t.token(['tickets:read'], [brandB]);
    const list = (await t.request({ method: 'GET', url: '/v1/tickets', token })).json();
    assert.equal(list.data.length, 0);
    const filtered = (await t.request({ method: 'GET', url: `/v1/tickets?brand_id=${brandA}`, token })).json();
    assert.equal(filtered.data.length, 0);
    const brands = (await t.request({ method: 'GET', url: '/v1/brands', token })).json();
    assert.deepEqual(
      brands.data.map((b: { id: string }) => b.id),
      [brandB],
    );
    const queues = (await t.request({ method: 'GET', url: '/v1/queues', token })).json();
    assert.ok(queues.data.every((q: { brand_id: string }) => q.brand_id === brandB));
  });

  it('the right token passes on every route', async () => {
    for (const r of routes) {
      const res = await t.request({ method: r.method, url: r.url, body: r.body });
      assert.ok(res.statusCode < 300, `${r.method} ${r.url}: ${res.statusCode} ${res.body}`);
    }
  });

  it('tokens: secret shown once, stored only as a hash, revocation and expiry take effect at once', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'ci bot', scopes: ['tickets:read'], expires_at: '2026-01-15T11:00:00Z' } });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json();
    assert.match(created.token, /^nxc_[A-Za-z0-9_-]{43,}$/);
    const listed = (await t.request({ method: 'GET', url: '/v1/tokens' })).json();
    assert.ok(!JSON.stringify(listed).includes(created.token));
    assert.ok(listed.data.some((x: { id: string; hint: string }) => x.id === created.id && created.token.endsWith(x.hint.slice(1))));

    // Nothing in the database files holds the secret.
    for (const file of fs.readdirSync(t.dataDir).filter((f) => f.startsWith('nexus.sqlite'))) {
      assert.ok(!fs.readFileSync(path.join(t.dataDir, file)).includes(created.token), `${file} holds the plaintext secret`);
    }

    assert.equal((await t.request({ method: 'GET', url: '/v1/tickets', token: created.token })).statusCode, 200);
    t.clock.advance(60 * 60 * 1000 + 1000);
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets', token: created.token }), 401);
    t.clock.set('2026-01-15T10:00:00Z');

    const other = (await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'to revoke', scopes: ['tickets:read'] } })).json();
    assert.equal((await t.request({ method: 'GET', url: '/v1/tickets', token: other.token })).statusCode, 200);
    const revoked = await t.request({ method: 'DELETE', url: `/v1/tokens/${other.id}` });
    assert.equal(revoked.statusCode, 200);
    assert.ok(revoked.json().revoked_at);
    assertProblem(await t.request({ method: 'GET', url: '/v1/tickets', token: other.token }), 401);
    assertProblem(await t.request({ method: 'DELETE', url: '/v1/tokens/tok_nope' }), 404);
  });

  it('tokens: bad input is a 422 and creates nothing', async () => {
    const count = async () => (await t.request({ method: 'GET', url: '/v1/tokens' })).json().data.length;
    const before = await count();
    for (const body of [
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['root'] },
      { name: '', scopes: ['admin'] },
      { name: 'x', scopes: ['admin'], expires_at: '2020-01-01T00:00:00Z' },
      { name: 'x', scopes: ['admin'], brand_ids: ['brand_missing'] },
      { scopes: ['admin'] },
    ]) {
      assertProblem(await t.request({ method: 'POST', url: '/v1/tokens', body }), 422, 'validation_failed');
    }
    assert.equal(await count(), before);
  });

  it('brands: chosen ids, duplicates are a 409, bad ids a 422', async () => {
    assert.equal((await t.request({ method: 'POST', url: '/v1/brands', body: { id: 'brand_dup', name: 'One' } })).statusCode, 201);
    assertProblem(await t.request({ method: 'POST', url: '/v1/brands', body: { id: 'brand_dup', name: 'Two' } }), 409, 'conflict');
    assertProblem(await t.request({ method: 'POST', url: '/v1/brands', body: { id: 'acme', name: 'Two' } }), 422);
    assertProblem(await t.request({ method: 'POST', url: '/v1/brands', body: { id: 'brand_a-b', name: 'Two' } }), 422);
    assert.equal((await t.request({ method: 'GET', url: '/v1/brands/brand_dup' })).json().name, 'One');
  });
});
