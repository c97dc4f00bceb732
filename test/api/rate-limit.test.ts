import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { countersDatabaseOf, countersFileOf } from '../../src/db/counters-database.js';
import { addressKey } from '../../src/http/rate-limit.js';
import type { App } from '../../src/http/types.js';
import { ManualClock } from '../../src/shared/clock.js';
import { build, buildTestApp, removeDataDir, testPostgresUrl, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, ticketBody } from '../helpers/factories.js';

type Response = Awaited<ReturnType<TestApp['request']>>;

/** A structured-field list of `"name";key=int;…` items, by name. */
function parseList(header: unknown): Map<string, Record<string, number>> {
  assert.equal(typeof header, 'string', 'header present');
  const out = new Map<string, Record<string, number>>();
  for (const item of (header as string).split(/\s*,\s*/)) {
    const match = /^"([a-z-]+)"((?:;[a-z]+=\d+)+)$/.exec(item);
    assert.ok(match, `structured-field item: ${item}`);
    const params: Record<string, number> = {};
    for (const p of match[2]!.slice(1).split(';')) {
      const [k, v] = p.split('=') as [string, string];
      params[k] = Number(v);
    }
    out.set(match[1]!, params);
  }
  return out;
}

/** The policy and the current state the response reports for one policy name. */
function limitOf(res: Response, name: string): { q: number; w: number; r: number; t: number } {
  const policy = parseList(res.headers['ratelimit-policy']).get(name);
  const state = parseList(res.headers.ratelimit).get(name);
  assert.ok(policy && state, `${name} in RateLimit-Policy and RateLimit: ${String(res.headers['ratelimit-policy'])} / ${String(res.headers.ratelimit)}`);
  return { q: policy.q!, w: policy.w!, r: state.r!, t: state.t! };
}

function assertRateLimited(res: Response, policy: string): number {
  const body = assertProblem(res, 429, 'rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${String(res.headers['retry-after'])}`);
  const state = limitOf(res, policy);
  assert.equal(state.r, 0);
  // The draft: Retry-After must not point before the end of the effective window.
  assert.ok(state.t <= retryAfter, `t=${state.t} Retry-After=${retryAfter}`);
  assert.match(body.detail, /retry in \d+ s/);
  return retryAfter;
}

const badToken = `nxc_${'A'.repeat(43)}`;
const pathOf = (url: string): string => new URL(url).pathname;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The per-token counts the processes wrote, one per bucket and window. */
async function tokenCounts(t: TestApp): Promise<number[]> {
  const rows = await countersDatabaseOf(t.runtime.db).selectFrom('rate_limit_counters').select('count').where('bucket', 'like', 'token:%').execute();
  return rows.map((r) => Number(r.count));
}

describe('rate limits', () => {
  it('stops the probe of issue 9 with the default limits: bad tokens and forged upload signatures', async (ctx) => {
    // The helper's generous test limits, set back to the production defaults.
    const defaults = { NEXUS_RATE_LIMIT_PER_TOKEN: '1000', NEXUS_RATE_LIMIT_PER_ADDRESS: '300', NEXUS_RATE_LIMIT_AUTH_FAILURES: '20' };
    const t = await build(ctx, { env: defaults });
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/tickets',
        headers: bearer(`nxc_${String(i).padStart(43, 'x')}`),
        remoteAddress: '198.51.100.200',
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(statuses), { 401: 20, 429: 180 });

    const created = (await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'a.txt', content_type: 'text/plain' } })).json();
    const [id, expires] = pathOf(created.upload_url).split('/').pop()!.split('.') as [string, string];
    statuses.clear();
    for (let i = 0; i < 200; i++) {
      const forged = `${id}.${expires}.${String(i).padStart(43, 'A')}`;
      const res = await t.app.inject({
        method: 'PUT',
        url: `/v1/uploads/${forged}`,
        headers: { 'content-type': 'text/plain' },
        payload: 'x',
        remoteAddress: '198.51.100.201',
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(statuses), { 403: 20, 429: 180 });
    const row = await t.runtime.db.selectFrom('attachments').select(['status', 'size']).where('id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { status: 'pending', size: null }, 'nothing uploaded');
    // The client with the real token is still served, and the health check answers everyone.
    assert.equal((await t.request({ method: 'GET', url: '/v1/tickets' })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '198.51.100.200' })).statusCode, 200);
  });

  it('documents 429 on every operation', async (ctx) => {
    const t = await build(ctx);
    const doc = (await t.request({ method: 'GET', url: '/v1/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const missing = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => !op.responses['429'])
        .map(([m]) => `${m} ${p}`),
    );
    assert.deepEqual(missing, []);
  });

  describe('per token and per address', () => {
    let t: TestApp;
    let brand: { id: string };
    before(async () => {
      t = await buildTestApp({
        env: {
          NEXUS_RATE_LIMIT_PER_TOKEN: '5',
          NEXUS_RATE_LIMIT_TOKEN_WINDOW: '10s',
          NEXUS_RATE_LIMIT_PER_ADDRESS: '50',
          NEXUS_RATE_LIMIT_AUTH_FAILURES: '1000',
          NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h',
        },
      });
      brand = await createBrand(t);
    });
    after(() => t.close());

    it('reports RateLimit-Policy and RateLimit on successes and errors alike', async () => {
      const token = await t.token(['tickets:read']);
      const ok = await t.request({ method: 'GET', url: '/v1/brands', token });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(limitOf(ok, 'token'), { q: 5, w: 10, r: 4, t: 10 });

      const missing = await t.request({ method: 'GET', url: '/v1/tickets/tick_0000000000000000000000000', token });
      assertProblem(missing, 404);
      assert.equal(limitOf(missing, 'token').r, 3);

      const invalid = await t.request({ method: 'GET', url: '/v1/tickets?limit=0', token });
      assertProblem(invalid, 400);
      assert.equal(limitOf(invalid, 'token').r, 2);

      // A token without the route's scope is not accepted for it: counted against the address.
      const forbidden = await t.app.inject({ method: 'POST', url: '/v1/brands', headers: bearer(token), payload: { name: 'x' }, remoteAddress: '192.0.2.11' });
      assertProblem(forbidden, 403, 'forbidden');
      assert.equal(limitOf(forbidden, 'address').r, 49);
      assert.equal(limitOf(await t.request({ method: 'GET', url: '/v1/brands', token }), 'token').r, 1);

      // Without a token: the address policy, on public routes, unknown routes and failed auth.
      const health = await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '192.0.2.10' });
      assert.equal(health.statusCode, 200);
      assert.deepEqual(limitOf(health, 'address'), { q: 50, w: 10, r: 49, t: 10 });
      const unknown = await t.app.inject({ method: 'GET', url: '/v1/nothing-here', remoteAddress: '192.0.2.10' });
      assertProblem(unknown, 404, 'route_not_found');
      assert.equal(limitOf(unknown, 'address').r, 48);
      const unauthorized = await t.app.inject({ method: 'GET', url: '/v1/brands', remoteAddress: '192.0.2.10' });
      assertProblem(unauthorized, 401, 'unauthorized');
      assert.equal(limitOf(unauthorized, 'address').r, 47);
      assert.deepEqual(limitOf(unauthorized, 'auth-failures'), { q: 1000, w: 60, r: 999, t: 60 });
    });

    it('answers 429 rate_limited with Retry-After once a token used its requests, stores nothing, and leaves other tokens alone', async () => {
      const token = await t.token(['tickets:read', 'tickets:write']);
      for (let i = 0; i < 5; i++) {
        const res = await t.request({ method: 'GET', url: '/v1/tickets', token });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(limitOf(res, 'token').r, 4 - i);
      }
      const tickets = await countRows(t, 'tickets');
      const refused = await t.request({ method: 'POST', url: '/v1/tickets', token, body: ticketBody(brand.id) });
      const retryAfter = assertRateLimited(refused, 'token');
      assert.equal(await countRows(t, 'tickets'), tickets, 'a refused request stores nothing');
      // A refused request is not counted: waiting Retry-After is enough, however often the client retried.
      for (let i = 0; i < 10; i++) assertRateLimited(await t.request({ method: 'GET', url: '/v1/tickets', token }), 'token');

      const other = await t.request({ method: 'GET', url: '/v1/tickets', token: await t.token(['tickets:read']) });
      assert.equal(other.statusCode, 200, 'another token has its own budget');

      t.clock.advance((retryAfter - 1) * 1000);
      assertRateLimited(await t.request({ method: 'GET', url: '/v1/tickets', token }), 'token');
      t.clock.advance(1000);
      const again = await t.request({ method: 'POST', url: '/v1/tickets', token, body: ticketBody(brand.id) });
      assert.equal(again.statusCode, 201, again.body);
      assert.equal(await countRows(t, 'tickets'), tickets + 1);
    });

    it('limits requests without a valid token per client address', async () => {
      for (let i = 0; i < 50; i++) {
        const res = await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '198.51.100.7' });
        assert.equal(res.statusCode, 200);
      }
      assertRateLimited(await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '198.51.100.7' }), 'address');
      const elsewhere = await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '198.51.100.8' });
      assert.equal(elsewhere.statusCode, 200);
      // A valid token is counted per token, not per address.
      const token = await t.token(['tickets:read']);
      const withToken = await t.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(token), remoteAddress: '198.51.100.7' });
      assert.equal(withToken.statusCode, 200);
      assert.equal(limitOf(withToken, 'token').r, 4);
    });
  });

  describe('failed authentication', () => {
    let t: TestApp;
    let brand: { id: string };
    before(async () => {
      t = await buildTestApp({
        env: {
          NEXUS_RATE_LIMIT_PER_ADDRESS: '100',
          NEXUS_RATE_LIMIT_AUTH_FAILURES: '3',
          NEXUS_RATE_LIMIT_AUTH_FAILURES_WINDOW: '1m',
          NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h',
        },
      });
      brand = await createBrand(t);
    });
    after(() => t.close());

    it('allows fewer failed bearer tokens per address than requests, then refuses every credential from it; other addresses are unaffected', async () => {
      const good = await t.token(['tickets:read', 'tickets:write']);
      const attacker = '203.0.113.5';
      for (let i = 0; i < 3; i++) {
        const res = await t.app.inject({ method: 'GET', url: '/v1/tickets', headers: bearer(badToken), remoteAddress: attacker });
        assertProblem(res, 401, 'unauthorized');
        assert.equal(limitOf(res, 'auth-failures').r, 2 - i);
      }
      const refused = await t.app.inject({ method: 'GET', url: '/v1/tickets', headers: bearer(badToken), remoteAddress: attacker });
      const retryAfter = assertRateLimited(refused, 'auth-failures');
      assert.match(refused.json().detail, /failed authentication 3 times/);
      // Missing credentials count as failures too.
      assertRateLimited(await t.app.inject({ method: 'GET', url: '/v1/tickets', remoteAddress: attacker }), 'auth-failures');

      // From the blocked address even a good token waits: the server cannot tell the guesser's last
      // guess from a real client without checking it, and checking is what the limit saves.
      const tickets = await countRows(t, 'tickets');
      const blocked = await t.app.inject({ method: 'POST', url: '/v1/tickets', headers: bearer(good), payload: ticketBody(brand.id), remoteAddress: attacker });
      assertRateLimited(blocked, 'auth-failures');
      assert.equal(await countRows(t, 'tickets'), tickets, 'nothing stored');
      // Routes that take no credential still answer it.
      assert.equal((await t.app.inject({ method: 'GET', url: '/healthz', remoteAddress: attacker })).statusCode, 200);

      // The good token from anywhere else is unaffected.
      const fine = await t.app.inject({
        method: 'POST',
        url: '/v1/tickets',
        headers: bearer(good),
        payload: ticketBody(brand.id),
        remoteAddress: '203.0.113.6',
      });
      assert.equal(fine.statusCode, 201, fine.body);
      assert.equal(await countRows(t, 'tickets'), tickets + 1);

      // The window slides: after Retry-After the address may try again (and fail again).
      t.clock.advance(retryAfter * 1000);
      assertProblem(await t.app.inject({ method: 'GET', url: '/v1/tickets', headers: bearer(badToken), remoteAddress: attacker }), 401, 'unauthorized');
    });

    it('limits forged and expired upload and download signatures in the same budget', async () => {
      const address = '203.0.113.20';
      const created = (await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'a.txt', content_type: 'text/plain' } })).json();
      const [id, expires] = pathOf(created.upload_url).split('/').pop()!.split('.') as [string, string];
      const forged = `${id}.${expires}.${'A'.repeat(43)}`;
      assertProblem(
        await t.app.inject({ method: 'PUT', url: `/v1/uploads/${forged}`, headers: { 'content-type': 'text/plain' }, payload: 'x', remoteAddress: address }),
        403,
        'upload_url_invalid',
      );
      assertProblem(await t.app.inject({ method: 'GET', url: `/v1/downloads/${forged}`, remoteAddress: address }), 403, 'download_url_invalid');
      const r = await t.app.inject({
        method: 'PUT',
        url: `/v1/uploads/${forged}`,
        headers: { 'content-type': 'text/plain' },
        payload: 'x',
        remoteAddress: address,
      });
      assertProblem(r, 403, 'upload_url_invalid');
      assert.equal(limitOf(r, 'auth-failures').r, 0);

      // The genuine URL from the blocked address waits too, and nothing is written.
      const blocked = await t.app.inject({
        method: 'PUT',
        url: pathOf(created.upload_url),
        headers: { 'content-type': 'text/plain' },
        payload: 'hello',
        remoteAddress: address,
      });
      assertRateLimited(blocked, 'auth-failures');
      assert.equal(blocked.headers.connection, 'close', 'an unread body is dropped with the connection');
      const row = await t.runtime.db.selectFrom('attachments').select(['status', 'size']).where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(row.status, 'pending');
      assert.equal(row.size, null);

      // From another address the genuine URL works; a later expired URL (410) is a failure again.
      const other = '203.0.113.21';
      const ok = await t.app.inject({
        method: 'PUT',
        url: pathOf(created.upload_url),
        headers: { 'content-type': 'text/plain' },
        payload: 'hello',
        remoteAddress: other,
      });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(limitOf(ok, 'address').r, 99);
      const late = (await t.request({ method: 'POST', url: '/v1/attachments', body: { file_name: 'b.txt', content_type: 'text/plain' } })).json();
      t.clock.advance(16 * 60_000);
      const expired = await t.app.inject({
        method: 'PUT',
        url: pathOf(late.upload_url),
        headers: { 'content-type': 'text/plain' },
        payload: 'x',
        remoteAddress: other,
      });
      assertProblem(expired, 410, 'upload_url_expired');
      assert.equal(limitOf(expired, 'auth-failures').r, 2);
    });

    it('writes concurrent failures through at once, one row per address', async () => {
      const attempt = (address: string) => t.app.inject({ method: 'GET', url: '/v1/tickets', headers: bearer(badToken), remoteAddress: address });
      const spread = ['203.0.113.50', '203.0.113.51', '203.0.113.52', '203.0.113.53'];
      const results = await Promise.all([...Array.from({ length: 6 }, () => attempt('203.0.113.40')), ...spread.map(attempt)]);
      for (const res of results) assert.ok(res.statusCode === 401 || res.statusCode === 429, res.body);
      const sameFailures = results.slice(0, 6).filter((r) => r.statusCode === 401).length;
      assert.ok(sameFailures >= 3, `at least the limit failed: ${sameFailures}`);
      for (const res of results.slice(6)) assertProblem(res, 401, 'unauthorized');
      // Written through without a sync (the interval is an hour here).
      const rows = await countersDatabaseOf(t.runtime.db)
        .selectFrom('rate_limit_counters')
        .select(['bucket', 'count'])
        .where(
          'bucket',
          'in',
          ['203.0.113.40', ...spread].map((a) => `auth-failures:${a}`),
        )
        .execute();
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.bucket, Number(r.count)])), {
        'auth-failures:203.0.113.40': sameFailures,
        ...Object.fromEntries(spread.map((a) => [`auth-failures:${a}`, 1])),
      });
      assertRateLimited(await attempt('203.0.113.40'), 'auth-failures');
    });

    it('keys IPv6 clients by their /64 and IPv4-mapped addresses as IPv4', async () => {
      assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:ffff::9'));
      assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
      assert.equal(addressKey('::ffff:198.51.100.1'), '198.51.100.1');
      assert.equal(addressKey(undefined), 'unknown');
      for (let i = 0; i < 3; i++) {
        assertProblem(await t.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: `2001:db8:77:1::${i + 1}` }), 401);
      }
      assertRateLimited(
        await t.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: '2001:db8:77:1:ffff::1' }),
        'auth-failures',
      );
    });

    it('ignores X-Forwarded-For unless NEXUS_TRUST_PROXY names the proxy', async (ctx) => {
      const address = '203.0.113.30';
      for (let i = 0; i < 3; i++) await t.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address });
      const spoofed = await t.app.inject({
        method: 'GET',
        url: '/v1/brands',
        headers: { ...bearer(badToken), 'x-forwarded-for': '198.51.100.99' },
        remoteAddress: address,
      });
      assertRateLimited(spoofed, 'auth-failures');

      const proxied = await build(ctx, { env: { NEXUS_TRUST_PROXY: '127.0.0.1', NEXUS_RATE_LIMIT_AUTH_FAILURES: '1', NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h' } });
      const first = await proxied.app.inject({ method: 'GET', url: '/v1/brands', headers: { ...bearer(badToken), 'x-forwarded-for': '198.51.100.1' } });
      assertProblem(first, 401);
      assertRateLimited(
        await proxied.app.inject({ method: 'GET', url: '/v1/brands', headers: { ...bearer(badToken), 'x-forwarded-for': '198.51.100.1' } }),
        'auth-failures',
      );
      const otherClient = await proxied.app.inject({
        method: 'GET',
        url: '/v1/brands',
        headers: { ...bearer(proxied.adminToken), 'x-forwarded-for': '198.51.100.2' },
      });
      assert.equal(otherClient.statusCode, 200, 'the proxy itself is not blocked for its other clients');
    });
  });

  describe('several server processes on one database', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-ratelimit-'));
    const clock = new ManualClock('2026-01-15T10:00:00Z');
    const env = { NEXUS_RATE_LIMIT_PER_TOKEN: '10', NEXUS_RATE_LIMIT_AUTH_FAILURES: '3', NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h' };
    let a: TestApp;
    let b: TestApp;
    before(async () => {
      a = await buildTestApp({ env, dataDir, clock });
      b = await buildTestApp({ env, dataDir, clock });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await removeDataDir(dataDir);
    });

    it('share one token limit once they sync', async () => {
      const token = await a.token(['tickets:read']);
      for (let i = 0; i < 6; i++) assert.equal((await a.request({ method: 'GET', url: '/v1/brands', token })).statusCode, 200);
      // Before a sync each process only knows its own requests.
      for (let i = 0; i < 6; i++) assert.equal((await b.request({ method: 'GET', url: '/v1/brands', token })).statusCode, 200);
      await a.app.rateLimiter.sync();
      await b.app.rateLimiter.sync();
      // B wrote after A, so B read back both processes' requests.
      assertRateLimited(await b.request({ method: 'GET', url: '/v1/brands', token }), 'token');
      // A learns B's requests at the first sync after it uses the token again.
      assert.equal((await a.request({ method: 'GET', url: '/v1/brands', token })).statusCode, 200);
      await a.app.rateLimiter.sync();
      assertRateLimited(await a.request({ method: 'GET', url: '/v1/brands', token }), 'token');
      // One row per bucket and window, holding the sum of both processes; refusals are not counted.
      assert.deepEqual(await tokenCounts(a), [13]);
    });

    it('share failed authentication at once, without waiting for a sync', async () => {
      const address = '192.0.2.55';
      for (let i = 0; i < 2; i++)
        assertProblem(await a.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address }), 401);
      const third = await b.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address });
      assertProblem(third, 401);
      assert.equal(limitOf(third, 'auth-failures').r, 0, 'process B read back the failures A wrote');
      assertRateLimited(await b.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address }), 'auth-failures');
      await a.app.rateLimiter.sync();
      assertRateLimited(await a.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address }), 'auth-failures');
    });

    it('expire old windows from the table', async () => {
      assert.ok((await countersDatabaseOf(a.runtime.db).selectFrom('rate_limit_counters').select('bucket').execute()).length > 0);
      clock.advance(10 * 60_000);
      await a.app.rateLimiter.sync();
      assert.equal((await countersDatabaseOf(a.runtime.db).selectFrom('rate_limit_counters').select('bucket').execute()).length, 0);
    });
  });

  it('on SQLite, keeps the counts in a file of their own: a sync commits nothing to the database file', {
    skip: testPostgresUrl ? 'SQLite files' : false,
  }, async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h' } });
    const databaseFile = path.join(t.dataDir, 'nexus.sqlite');
    // Another connection's data_version changes with every commit to the file by anyone else.
    const watcher = new Database(databaseFile, { readonly: true });
    try {
      const version = () => watcher.pragma('data_version', { simple: true });
      // The token's first use stamps it in the database (once a minute); the requests after it write nothing there.
      assert.equal((await t.request({ method: 'GET', url: '/v1/brands' })).statusCode, 200);
      const before = version();
      for (let i = 0; i < 3; i++) assert.equal((await t.request({ method: 'GET', url: '/v1/brands' })).statusCode, 200);
      await t.app.rateLimiter.sync();
      assert.equal(version(), before, 'nothing was committed to the database file');
      assert.deepEqual(await tokenCounts(t), [4]);
      assert.equal(fs.statSync(countersFileOf(databaseFile)).mode & 0o777, 0o600);
    } finally {
      watcher.close();
    }
  });

  describe('when the database fails', () => {
    let t: TestApp;
    let app: App;
    const logs: { level: number; msg: string }[] = [];
    before(async () => {
      t = await buildTestApp({ env: { NEXUS_RATE_LIMIT_PER_TOKEN: '3', NEXUS_RATE_LIMIT_AUTH_FAILURES: '2', NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h' } });
      const logger = pino({ level: 'warn' }, { write: (line: string) => logs.push(JSON.parse(line)) });
      app = await buildApp({ db: t.runtime.db, clock: t.clock, config: t.config, services: t.runtime.services, secretBox: t.runtime.secretBox, logger });
    });
    after(async () => {
      await app.close();
      await t.close();
    });

    it('fails open across processes: no 500, a warning, and each process still enforces its own counts', async () => {
      await sql`drop table rate_limit_counters`.execute(countersDatabaseOf(t.runtime.db));
      const address = '192.0.2.77';
      assertProblem(await app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address }), 401, 'unauthorized');
      assert.ok(
        logs.some((l) => l.level === 40 && /rate limits/.test(l.msg)),
        JSON.stringify(logs),
      );
      assertProblem(await app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address }), 401, 'unauthorized');
      assertRateLimited(await app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken), remoteAddress: address }), 'auth-failures');

      for (let i = 0; i < 3; i++) assert.equal((await app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(t.adminToken) })).statusCode, 200);
      await app.rateLimiter.sync();
      assertRateLimited(await app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(t.adminToken) }), 'token');
    });
  });

  it('does not turn a busy SQLite database into a 500', { skip: testPostgresUrl ? 'SQLite locking' : false }, async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_RATE_LIMIT_AUTH_FAILURES: '5', NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h' } });
    const other = new Database(countersFileOf(path.join(t.dataDir, 'nexus.sqlite')));
    try {
      other.exec('BEGIN IMMEDIATE');
      // The failure's write-through waits out busy_timeout, gives up, and the 401 goes out as usual.
      const res = await t.app.inject({ method: 'GET', url: '/v1/brands', headers: bearer(badToken) });
      assertProblem(res, 401, 'unauthorized');
      assert.equal(limitOf(res, 'auth-failures').r, 4, 'counted in this process');
      other.exec('ROLLBACK');
      await t.app.rateLimiter.sync();
      const rows = await countersDatabaseOf(t.runtime.db)
        .selectFrom('rate_limit_counters')
        .select('count')
        .where('bucket', 'like', 'auth-failures:%')
        .execute();
      assert.deepEqual(
        rows.map((r) => r.count),
        [1],
        'the failure reached the database at the next sync',
      );
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  });

  it('NEXUS_RATE_LIMIT=off sends no headers and refuses nothing', async (ctx) => {
    const t = await build(ctx, { env: { NEXUS_RATE_LIMIT: 'off', NEXUS_RATE_LIMIT_PER_TOKEN: '1', NEXUS_RATE_LIMIT_AUTH_FAILURES: '1' } });
    for (let i = 0; i < 3; i++) {
      const res = await t.request({ method: 'GET', url: '/v1/brands' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers.ratelimit, undefined);
      assert.equal(res.headers['ratelimit-policy'], undefined);
      assertProblem(await t.request({ method: 'GET', url: '/v1/brands', token: badToken }), 401);
    }
  });

  it('refuses bad settings with the variable named', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ NEXUS_RATE_LIMIT: 'maybe' }, /NEXUS_RATE_LIMIT\b/],
      [{ NEXUS_RATE_LIMIT_PER_TOKEN: '0' }, /NEXUS_RATE_LIMIT_PER_TOKEN/],
      [{ NEXUS_RATE_LIMIT_TOKEN_WINDOW: '500ms' }, /NEXUS_RATE_LIMIT_TOKEN_WINDOW/],
      [{ NEXUS_RATE_LIMIT_AUTH_FAILURES_WINDOW: '0s' }, /NEXUS_RATE_LIMIT_AUTH_FAILURES_WINDOW/],
      [{ NEXUS_RATE_LIMIT_SYNC_INTERVAL: '0' }, /NEXUS_RATE_LIMIT_SYNC_INTERVAL/],
      [{ NEXUS_TRUST_PROXY: 'everyone' }, /NEXUS_TRUST_PROXY/],
    ];
    for (const [env, pattern] of cases)
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
        JSON.stringify(env),
      );
    const defaults = loadConfig({}).rateLimit;
    assert.deepEqual(defaults, {
      enabled: true,
      perToken: { limit: 1000, windowMs: 10_000 },
      perAddress: { limit: 300, windowMs: 10_000 },
      authFailures: { limit: 20, windowMs: 60_000 },
      syncIntervalMs: 500,
    });
  });
});
