/**
 * What rate limiting costs a request: GET /v1/tickets/{id} with the limiter on (limits too high to
 * refuse anything, so every request pays the full bookkeeping) against NEXUS_RATE_LIMIT=off, in
 * alternating rounds of the same run so that machine load hits both alike.
 *
 *   node --import tsx bench/rate-limit/run.ts           # in-process inject loop, plus wrk when /usr/bin/wrk exists
 *   BENCH_ROUNDS=5 BENCH_SECONDS=5 node --import tsx bench/rate-limit/run.ts
 *
 * Everything listens on 127.0.0.1 only; each variant has its own SQLite file (synchronous=FULL).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildApp } from '../../src/app.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const INJECTS = Number(process.env.BENCH_INJECTS ?? 20_000);
const WRK = '/usr/bin/wrk';
const run = promisify(execFile);

async function variant(name: string, env: Record<string, string>) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `nexus-bench-ratelimit-${name}-`));
  const config = loadConfig({ NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', NEXUS_WORKERS: '0', ...env });
  const runtime = await openRuntime(config);
  const app = await buildApp({ db: runtime.db, clock: runtime.clock, config, services: runtime.services });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const token = (await runtime.services.tokens.create({ name: 'bench', scopes: ['admin'] })).token;
  const headers = { authorization: `Bearer ${token}` };
  const brand = (await app.inject({ method: 'POST', url: '/v1/brands', headers, payload: { name: 'Bench' } })).json() as { id: string };
  const ticket = (
    await app.inject({ method: 'POST', url: '/v1/tickets', headers, payload: { brand_id: brand.id, subject: 'Refund', customer: { email: 'a@example.com' } } })
  ).json() as { id: string };
  const url = `/v1/tickets/${ticket.id}`;
  const check = await app.inject({ method: 'GET', url, headers });
  if (check.statusCode !== 200) throw new Error(`${name}: ${check.statusCode} ${check.body}`);
  return {
    name,
    limited: check.headers.ratelimit !== undefined,
    async injectLoop(): Promise<number> {
      const start = performance.now();
      for (let i = 0; i < INJECTS; i++) await app.inject({ method: 'GET', url, headers });
      return ((performance.now() - start) * 1000) / INJECTS;
    },
    // Asynchronous: the server answering wrk runs on this process's event loop.
    async wrk(): Promise<number> {
      const port = (app.server.address() as AddressInfo).port;
      const { stdout: out } = await run(WRK, ['-t1', '-c16', `-d${SECONDS}s`, '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${port}${url}`], { encoding: 'utf8' });
      if (/Non-2xx/.test(out)) throw new Error(`${name}: non-2xx responses under wrk:\n${out}`);
      return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
    },
    async close() {
      await app.close();
      await runtime.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const off = await variant('off', { NEXUS_RATE_LIMIT: 'off' });
  const on = await variant('on', { NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000', NEXUS_RATE_LIMIT_PER_ADDRESS: '1000000000' });
  if (!on.limited || off.limited) throw new Error('the variants are not what they claim');
  try {
    const inject: Record<string, number[]> = { off: [], on: [] };
    const wrk: Record<string, number[]> = { off: [], on: [] };
    const useWrk = fs.existsSync(WRK);
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always meets a warmer (or busier) machine.
      for (const v of round % 2 ? [on, off] : [off, on]) {
        inject[v.name]!.push(await v.injectLoop());
        if (useWrk) wrk[v.name]!.push(await v.wrk());
      }
    }
    const report = {
      rounds: ROUNDS,
      inject_us_per_request: { off: median(inject.off!), on: median(inject.on!), ratio_on_over_off: median(inject.on!) / median(inject.off!) },
      ...(useWrk
        ? { wrk_requests_per_second: { off: median(wrk.off!), on: median(wrk.on!), ratio_on_over_off: median(wrk.on!) / median(wrk.off!), all: wrk } }
        : {}),
      cpus: os.cpus().length,
      loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await off.close();
    await on.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
