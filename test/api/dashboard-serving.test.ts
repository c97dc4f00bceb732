import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { DASHBOARD_CSP, registerDashboard } from '../../src/dashboard/plugin.js';
import { registerProblemHandlers } from '../../src/http/problem.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem } from '../helpers/factories.js';

const INDEX =
  '<!doctype html><html lang="en"><head><title>NexusCore dashboard</title><script type="module" src="/dashboard/assets/index-abc123.js"></script></head><body></body></html>';

async function dashboardApp(distDir: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true } });
  registerProblemHandlers(app);
  registerDashboard(app, { distDir });
  await app.ready();
  return app;
}

describe('serving the dashboard at /dashboard', () => {
  let dist: string;
  let app: FastifyInstance;

  before(async () => {
    dist = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-dashboard-'));
    fs.mkdirSync(path.join(dist, 'assets'));
    fs.writeFileSync(path.join(dist, 'index.html'), INDEX);
    fs.writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log("dashboard");');
    fs.writeFileSync(path.join(dist, 'assets', 'index-def456.css'), 'body{margin:0}');
    fs.writeFileSync(path.join(dist, 'assets', 'logo-0a1b2c.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    app = await dashboardApp(dist);
  });
  after(async () => {
    await app.close();
    fs.rmSync(dist, { recursive: true, force: true });
  });

  it('serves index.html at /dashboard and /dashboard/ with a strict CSP, never cached', async () => {
    for (const url of ['/dashboard', '/dashboard/']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.body, INDEX);
      assert.equal(res.headers['content-security-policy'], DASHBOARD_CSP);
      assert.match(DASHBOARD_CSP, /script-src 'self'(;|$)/);
      assert.doesNotMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['cache-control'], 'no-cache');
    }
  });

  it('serves assets with their content types, cached for good (their names are fingerprinted)', async () => {
    const cases = [
      ['/dashboard/assets/index-abc123.js', 'text/javascript; charset=utf-8', 'console.log("dashboard");'],
      ['/dashboard/assets/index-def456.css', 'text/css; charset=utf-8', 'body{margin:0}'],
      ['/dashboard/assets/logo-0a1b2c.svg', 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"/>'],
    ] as const;
    for (const [url, type, body] of cases) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], type);
      assert.equal(res.body, body);
      assert.equal(Number(res.headers['content-length']), Buffer.byteLength(body));
      assert.match(String(res.headers['cache-control']), /immutable/);
    }
  });

  it('answers index.html for client-side routes (the SPA fallback)', async () => {
    for (const url of ['/dashboard/tickets', '/dashboard/tickets/tick_01abc', '/dashboard/webhooks/wh_1?x=1', '/dashboard/sign-in/']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.body, INDEX);
    }
  });

  it('a missing asset is a 404 problem, not index.html', async () => {
    assertProblem(await app.inject({ method: 'GET', url: '/dashboard/assets/missing-000.js' }), 404, 'not_found');
  });

  it('never serves a file outside the dist folder', async () => {
    fs.writeFileSync(path.join(path.dirname(dist), 'nexus-dashboard-secret.txt'), 'secret');
    try {
      for (const url of [
        `/dashboard/../${path.basename(dist)}-x/../nexus-dashboard-secret.txt`,
        '/dashboard/..%2fnexus-dashboard-secret.txt',
        '/dashboard/%2e%2e/nexus-dashboard-secret.txt',
        '/dashboard/assets/..%2f..%2fnexus-dashboard-secret.txt',
      ]) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 404, url);
        assert.notEqual(res.body, 'secret', url);
      }
    } finally {
      fs.rmSync(path.join(path.dirname(dist), 'nexus-dashboard-secret.txt'), { force: true });
    }
  });

  it('without a build, /dashboard is a 503 problem that says how to build it', async () => {
    const missing = await dashboardApp(path.join(dist, 'does-not-exist'));
    try {
      for (const url of ['/dashboard', '/dashboard/tickets', '/dashboard/assets/index-abc123.js']) {
        const body = assertProblem(await missing.inject({ method: 'GET', url }), 503, 'unavailable');
        assert.match(body.detail, /npm run build:dashboard/);
      }
    } finally {
      await missing.close();
    }
  });
});

describe('the app registers the dashboard', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('answers /dashboard without a token, and keeps it out of the OpenAPI document', async () => {
    const res = await t.request({ method: 'GET', url: '/dashboard', token: null });
    // 200 once `npm run build:dashboard` ran (npm ci does), the 503 problem before.
    assert.ok(res.statusCode === 200 || res.statusCode === 503, `${res.statusCode}`);
    if (res.statusCode === 200) assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
    const doc = (await t.request({ method: 'GET', url: '/v1/openapi.json', token: null })).json();
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/dashboard')));
  });
});
