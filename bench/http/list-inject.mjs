/**
 * CPU per ticket-list request in process (`app.inject`, no HTTP or load generator): builds the app
 * from a checkout's `dist/` over a copy of a seeded data directory and times the bench's list
 * request (`?brand_id=…&status=open&limit=20`, across the first 20 brands) after a warm-up; with
 * `get`, `GET /v1/tickets/{id}` over 2,000 tickets instead. Run two checkouts alternately to
 * compare builds (docs/benchmarks.md, "list items kept serialized").
 *
 *   cp -r bench/http/seeds/n10000/nexus-data /tmp/list-data
 *   node bench/http/list-inject.mjs <checkout root with dist/> /tmp/list-data [get]
 */
const [root, dataDir, path = 'list'] = process.argv.slice(2);
if (!root || !dataDir) throw new Error('usage: node bench/http/list-inject.mjs <checkout root with dist/> <copy of a seeded data directory>');
const { buildApp } = await import(`${root}/dist/app.js`);
const { openRuntime } = await import(`${root}/dist/bootstrap.js`);
const { loadConfig } = await import(`${root}/dist/config.js`);
const { systemClock } = await import(`${root}/dist/shared/clock.js`);

const config = loadConfig({ NEXUS_DATA_DIR: dataDir, NEXUS_RATE_LIMIT_PER_TOKEN: '100000000', NEXUS_LOG_LEVEL: 'silent' });
const runtime = await openRuntime(config, systemClock, { metrics: false });
const app = await buildApp({ db: runtime.db, clock: systemClock, config, services: runtime.services, secretBox: runtime.secretBox });
const admin = await runtime.services.tokens.create({ name: 'list-inject', scopes: ['admin'] });
const brands = (await runtime.db.selectFrom('brands').select('id').limit(20).execute()).map((b) => b.id);
const ids = (await runtime.db.selectFrom('tickets').select('id').limit(2000).execute()).map((t) => t.id);
const headers = { authorization: `Bearer ${admin.token}` };

async function lists(n) {
  for (let i = 0; i < n; i++) {
    const url = path === 'get' ? `/v1/tickets/${ids[i % ids.length]}` : `/v1/tickets?brand_id=${brands[i % brands.length]}&status=open&limit=20`;
    const res = await app.inject({ method: 'GET', url, headers });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  }
}

const REQUESTS = 6000;
await lists(2000);
const cpuBefore = process.cpuUsage();
const started = performance.now();
await lists(REQUESTS);
const cpu = process.cpuUsage(cpuBefore);
const perRequest = (us) => (us / REQUESTS).toFixed(0);
console.log(`${root}: ${perRequest(cpu.user + cpu.system)} µs CPU, ${perRequest((performance.now() - started) * 1000)} µs wall per ${path} request`);
await app.close();
process.exit(0);
