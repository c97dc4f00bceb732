import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { routeTableOf } from '../../src/http/allow.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem } from '../helpers/factories.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** A concrete path for a route pattern, with parameter values no static segment uses. */
const concrete = (pattern: string) => pattern.replace(/:[A-Za-z_]\w*/g, 'zz9q').replace(/\*$/, 'zz9q');

const allowSet = (header: unknown) =>
  String(header ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean)
    .sort();

describe('405 Method Not Allowed: Allow lists exactly what the path serves', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(async () => t.close());

  it('POST and DELETE on /v1/tokens/me: 405, Allow: GET, HEAD (the :token_id route does not own this path)', async () => {
    for (const method of ['POST', 'DELETE', 'PATCH', 'PUT']) {
      const res = await t.request({ method, url: '/v1/tokens/me' });
      assertProblem(res, 405, 'method_not_allowed');
      assert.deepEqual(allowSet(res.headers.allow), ['GET', 'HEAD'], `${method}: ${String(res.headers.allow)}`);
    }
    // DELETE on a real token id still reaches the revoke route.
    const minted = await t.request({ method: 'POST', url: '/v1/tokens', body: { name: 'short-lived', scopes: ['tickets:read'] } });
    assert.equal(minted.statusCode, 201, minted.body);
    const revoked = await t.request({ method: 'DELETE', url: `/v1/tokens/${minted.json().id}` });
    assert.ok(revoked.statusCode < 300, revoked.body);
    const me = await t.request({ method: 'GET', url: '/v1/tokens/me' });
    assert.equal(me.statusCode, 200, me.body);
  });

  it('PATCH /v1/tickets/search is a 405 (search is POST), not an update of a ticket called "search"', async () => {
    const res = await t.request({ method: 'PATCH', url: '/v1/tickets/search', body: { status: 'closed' } });
    assertProblem(res, 405, 'method_not_allowed');
    assert.deepEqual(allowSet(res.headers.allow), ['POST']);
    // The same path with a query string, with a trailing slash (percent-encoded: test/unit/route-table.test.ts).
    for (const url of ['/v1/tickets/search?x=1', '/v1/tickets/search/']) {
      const again = await t.request({ method: 'PATCH', url, body: { status: 'closed' } });
      assertProblem(again, 405, 'method_not_allowed');
      assert.deepEqual(allowSet(again.headers.allow), ['POST'], url);
    }
    // A ticket id that merely contains the word is the ticket route's: a 404 for a ticket that does not exist.
    assertProblem(await t.request({ method: 'PATCH', url: '/v1/tickets/tick_search', body: { priority: 'high' } }), 404);
  });

  it('for every route in the app: each method it lacks is a 405 whose Allow is exactly the methods the path serves', async () => {
    const table = routeTableOf(t.app);
    assert.ok(table, 'the app keeps a route table');
    const patterns = table.patterns();
    assert.ok(patterns.length >= 30, `only ${patterns.length} route patterns seen`);
    let checked = 0;
    for (const { url: pattern, methods } of patterns) {
      const path = concrete(pattern);
      const expected = [...methods].sort();
      for (const method of METHODS) {
        const res = await t.request({ method, url: path, ...(['POST', 'PUT', 'PATCH'].includes(method) ? { body: {} } : {}) });
        if (expected.includes(method)) {
          // Served: the request reached a handler (any answer but a 405 or an unknown route).
          assert.notEqual(res.statusCode, 405, `${method} ${path} (${pattern}) is listed in Allow but answered 405`);
          if (res.statusCode === 404 && method !== 'HEAD') assert.notEqual(res.json().code, 'route_not_found', `${method} ${path}`);
          continue;
        }
        assert.equal(res.statusCode, 405, `${method} ${path} (${pattern}): ${res.statusCode} ${res.body}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        assert.deepEqual(allowSet(res.headers.allow), expected, `${method} ${path} (${pattern})`);
        if (method !== 'HEAD') assert.equal(res.json().code, 'method_not_allowed');
        checked++;
      }
    }
    assert.ok(checked > 100, `${checked} method/path pairs checked`);
  });

  it('a trailing slash and a query string do not change the answer; an unknown path is a 404', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/tokens/me/?x=1' });
    assertProblem(res, 405, 'method_not_allowed');
    assert.deepEqual(allowSet(res.headers.allow), ['GET', 'HEAD']);
    assertProblem(await t.request({ method: 'POST', url: '/v1/nothing-here' }), 404, 'route_not_found');
    assertProblem(await t.request({ method: 'GET', url: '/v1/tokens/me/extra' }), 404, 'route_not_found');
  });
});
