/**
 * What rate limiting costs a request: GET /v1/tickets/{id} with the limiter on (limits too high to
 * refuse anything, so every request pays the full bookkeeping) against NEXUS_RATE_LIMIT=off.
 * Each round runs each variant in a fresh child process (one app per process: two apps in one
 * process share a heap and a JIT, and skew each other), alternating which goes first.
 *
 *   node --import tsx bench/rate-limit/run.ts
 *   BENCH_ROUNDS=5 BENCH_INJECTS=5000 BENCH_SECONDS=5 node --import tsx bench/rate-limit/run.ts
 *   BENCH_VARIANTS=minimal BENCH_ROUNDS=9 node --import tsx bench/rate-limit/run.ts
 *
 * Per variant: process CPU time and wall time per request over an inject loop (CPU time barely
 * depends on what else the machine runs), and wrk's requests/s when /usr/bin/wrk exists. Plus the
 * same on a route that does nothing (the limiter's whole overhead, hooks and headers included),
 * and the limiter's bookkeeping alone, without HTTP. Everything listens on 127.0.0.1 only; each child has
 * its own SQLite file (synchronous=FULL), deleted at the end.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { buildApp } from '../../src/app.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { registerRateLimits } from '../../src/http/rate-limit.js';
import { createRateLimiter } from '../../src/http/rate-limiter.js';
import { systemClock } from '../../src/shared/clock.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const INJECTS = Number(process.env.BENCH_INJECTS ?? 3000);
/** `full` (the app's GET /v1/tickets/{id}), `minimal` (a route that does nothing), or both. */
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'full,minimal')
  .split(',')
  .flatMap((v) => (v === 'full' ? ['off', 'on'] : v === 'minimal' ? ['minimal-off', 'minimal-on'] : []));
const WRK = '/usr/bin/wrk';
const run = promisify(execFile);

interface Sample {
  variant: string;
  inject_cpu_us: number;
  inject_wall_us: number;
  wrk_rps: number | null;
}

const ENV: Record<string, Record<string, string>> = {
  off: { NEXUS_RATE_LIMIT: 'off' },
  on: { NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000', NEXUS_RATE_LIMIT_PER_ADDRESS: '1000000000' },
};

/**
 * The limiter's whole per-request overhead (hooks, bookkeeping, headers) on a route that does
 * nothing, behind a stand-in for auth: what it would cost a server much faster than ours.
 */
async function minimalChild(variant: string): Promise<Sample> {
  const app = Fastify({ logger: false });
  app.decorateRequest('principal', null);
  if (variant === 'minimal-on') {
    const config = loadConfig({ NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000', NEXUS_RATE_LIMIT_SYNC_INTERVAL: '1h' }).rateLimit;
    registerRateLimits(app, { db: undefined as never, clock: systemClock, config });
  }
  app.addHook('onRequest', async (request) => {
    request.principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };
  });
  app.get('/x', { config: { scope: 'tickets:read' } }, async () => ({ ok: true }));
  await app.ready();
  try {
    for (let i = 0; i < 2000; i++) await app.inject({ method: 'GET', url: '/x' }); // warm-up
    const n = INJECTS * 5;
    const start = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < n; i++) await app.inject({ method: 'GET', url: '/x' });
    const used = process.cpuUsage(cpu);
    return { variant, inject_cpu_us: (used.user + used.system) / n, inject_wall_us: ((performance.now() - start) * 1000) / n, wrk_rps: null };
  } finally {
    await app.close();
  }
}

/** One variant, in this (child) process. */
async function child(variant: string): Promise<Sample> {
  if (variant.startsWith('minimal')) return minimalChild(variant);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `nexus-bench-ratelimit-${variant}-`));
  const config = loadConfig({ NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', NEXUS_WORKERS: '0', ...ENV[variant] });
  const runtime = await openRuntime(config);
  const app = await buildApp({ db: runtime.db, clock: runtime.clock, config, services: runtime.services, secretBox: runtime.secretBox });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const token = (await runtime.services.tokens.create({ name: 'bench', scopes: ['admin'] })).token;
    const headers = { authorization: `Bearer ${token}` };
    const brand = (await app.inject({ method: 'POST', url: '/v1/brands', headers, payload: { name: 'Bench' } })).json() as { id: string };
    const ticket = (
      await app.inject({
        method: 'POST',
        url: '/v1/tickets',
        headers,
        payload: { brand_id: brand.id, subject: 'Refund', customer: { email: 'a@example.com' } },
      })
    ).json() as { id: string };
    const url = `/v1/tickets/${ticket.id}`;
    const check = await app.inject({ method: 'GET', url, headers });
    if (check.statusCode !== 200) throw new Error(`${variant}: ${check.statusCode} ${check.body}`);
    if ((check.headers.ratelimit !== undefined) !== (variant === 'on')) throw new Error(`${variant}: RateLimit header ${String(check.headers.ratelimit)}`);

    for (let i = 0; i < 500; i++) await app.inject({ method: 'GET', url, headers }); // warm-up
    const start = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < INJECTS; i++) await app.inject({ method: 'GET', url, headers });
    const used = process.cpuUsage(cpu);
    const sample: Sample = {
      variant,
      inject_cpu_us: (used.user + used.system) / INJECTS,
      inject_wall_us: ((performance.now() - start) * 1000) / INJECTS,
      wrk_rps: null,
    };

    if (fs.existsSync(WRK)) {
      // Asynchronous: the server answering wrk runs on this process's event loop.
      const port = (app.server.address() as AddressInfo).port;
      const { stdout } = await run(WRK, ['-t1', '-c16', `-d${SECONDS}s`, '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${port}${url}`], {
        encoding: 'utf8',
      });
      if (/Non-2xx/.test(stdout)) throw new Error(`${variant}: non-2xx responses under wrk:\n${stdout}`);
      sample.wrk_rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)![1]);
    }
    return sample;
  } finally {
    await app.close();
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function spawnChild(variant: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--variant', variant], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Sample) : reject(new Error(`${variant} child exited with ${code}`))));
  });
}

/** The limiter's own bookkeeping for one authenticated request (the failure check, the token count), without HTTP. */
function limiterAlone(): number {
  const clock = { now: () => new Date() };
  // Never synced here: nothing on a request's path touches the database.
  const limiter = createRateLimiter({ db: undefined as never, clock, syncIntervalMs: 3_600_000, log: { warn() {} } });
  const token = { name: 'token', limit: 1e12, windowMs: 10_000 };
  const failures = { name: 'auth-failures', limit: 20, windowMs: 60_000 };
  const n = 2_000_000;
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    sink += limiter.check(failures, '127.0.0.1')?.remaining ?? 1;
    sink += limiter.consume(token, 'tok_0000000000000000000000000').remaining;
  }
  if (sink === 0) throw new Error('unreachable');
  return ((performance.now() - start) * 1e6) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const samples: Sample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? ['on', 'off', 'minimal-on', 'minimal-off'] : ['off', 'on', 'minimal-off', 'minimal-on'];
    for (const variant of order.filter((v) => VARIANTS.includes(v))) samples.push(await spawnChild(variant));
  }
  const of = (variant: string, field: 'inject_cpu_us' | 'inject_wall_us' | 'wrk_rps') =>
    median(samples.filter((s) => s.variant === variant).map((s) => s[field] ?? NaN));
  const compare = (field: 'inject_cpu_us' | 'inject_wall_us' | 'wrk_rps', prefix = '') => ({
    off: of(`${prefix}off`, field),
    on: of(`${prefix}on`, field),
    ratio_on_over_off: Number((of(`${prefix}on`, field) / of(`${prefix}off`, field)).toFixed(3)),
  });
  const full = VARIANTS.includes('on');
  const report = {
    rounds: ROUNDS,
    ...(full ? { inject_cpu_us_per_request: compare('inject_cpu_us'), inject_wall_us_per_request: compare('inject_wall_us') } : {}),
    ...(full && fs.existsSync(WRK) ? { wrk_requests_per_second: compare('wrk_rps') } : {}),
    ...(VARIANTS.includes('minimal-on') ? { minimal_route_cpu_us_per_request: compare('inject_cpu_us', 'minimal-') } : {}),
    limiter_alone_ns_per_request: Math.round(limiterAlone()),
    samples,
    cpus: os.cpus().length,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

const variantArg = process.argv.indexOf('--variant');
(variantArg > 0 ? child(process.argv[variantArg + 1]!).then((s) => process.stdout.write(JSON.stringify(s))) : main()).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
