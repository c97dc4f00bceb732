/**
 * What polling the view counts costs at scale: seeds tickets through the ticket service's bulk path
 * (`tickets.createMany`, as bench:people and the HTTP bench's seeding do), moves a sample to pending
 * and snoozed with `tickets.update`, saves a few custom views, then times `GET /v1/views/counts`
 * against a baseline in the same run, alternating request by request through the real app
 * (`inject`, so no network noise): `GET /v1/tokens/me` (authentication and serialization only) and
 * `GET /v1/tickets?limit=1` (one indexed read). Counts are timed three ways: with the built-in views
 * only; with the custom views as well, between writes; and right after a ticket write (which moved
 * the custom views' counters in its transaction: nothing is counted again). Prints medians and p95,
 * and the ratios. Not part of npm test.
 *
 *   npm run bench:views [-- --tickets 100000 --batch 1000 --rounds 2000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import type { AgentView } from '../../src/agents/service.js';
import { buildApp } from '../../src/app.js';
import type { Principal } from '../../src/auth/scopes.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { systemClock } from '../../src/shared/clock.js';
import type { CreateTicketInput } from '../../src/tickets/service.js';

const { values } = parseArgs({ options: { tickets: { type: 'string' }, batch: { type: 'string' }, rounds: { type: 'string' } } });
const TICKETS = Number(values.tickets ?? 100_000);
const BATCH = Number(values.batch ?? 1000);
const ROUNDS = Number(values.rounds ?? 2000);
const BRANDS = 5;
const AGENTS = 20;
const MOVED = Math.min(2000, Math.floor(TICKETS / 20));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-views-'));
const config = loadConfig({ NEXUS_DATA_DIR: dir, NEXUS_LOG_LEVEL: 'silent', NEXUS_WORKERS: '0', NEXUS_RATE_LIMIT_PER_TOKEN: '100000000' });
const runtime = await openRuntime(config, systemClock);
const app = await buildApp({ db: runtime.db, clock: systemClock, config, services: runtime.services, secretBox: runtime.secretBox });

let seed = 7;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};

try {
  const { services } = runtime;
  const admin: Principal = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };
  const brands: string[] = [];
  for (let k = 0; k < BRANDS; k++) brands.push((await services.brands.create({ name: `Views bench ${k}` })).id);
  const agents: AgentView[] = [];
  for (let k = 0; k < AGENTS; k++)
    agents.push(await services.agents.create(null, { name: `Agent ${k}`, email: `agent${k}@bench.example.com`, brand_ids: null }));
  const token = await services.tokens.create({ name: 'agent 0', scopes: ['tickets:write'], brand_ids: null, agent_id: agents[0]!.id });
  const headers = { authorization: `Bearer ${token.token}` };

  const seedStart = performance.now();
  const ids: string[] = [];
  for (let done = 0; done < TICKETS; done += BATCH) {
    const inputs: CreateTicketInput[] = Array.from({ length: Math.min(BATCH, TICKETS - done) }, (_, j) => {
      const i = done + j;
      return {
        brand_id: brands[i % BRANDS]!,
        subject: `Order ${i} did not arrive`,
        description: `Customer ${i % 5000} asks where order ${i} is`,
        customer: { email: `customer${i % 5000}@example.com` },
        priority: (['low', 'normal', 'normal', 'high', 'urgent'] as const)[rand(5)],
        tags: rand(4) === 0 ? ['billing'] : rand(3) === 0 ? ['shipping'] : [],
        assigned_to: rand(3) === 0 ? null : agents[rand(AGENTS)]!.email,
      };
    });
    for (const created of await services.tickets.createMany(admin, inputs)) if (rand(TICKETS / MOVED) === 0) ids.push(created.id);
  }
  const until = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const [n, id] of ids.entries()) {
    await services.tickets.update(admin, id, n % 2 ? { status: 'pending' } : { status: 'snoozed', snoozed_until: until });
  }
  const seedSeconds = (performance.now() - seedStart) / 1000;

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url, headers });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    return res;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
  /** Times the urls alternating, one request of each per round, after a warm-up; `between` runs before each round, untimed. */
  async function time(urls: string[], rounds: number, between?: () => Promise<void>): Promise<number[][]> {
    const out = urls.map(() => [] as number[]);
    for (let r = 0; r < rounds + 100; r++) {
      await between?.();
      for (const [k, url] of urls.entries()) {
        const start = performance.now();
        await get(url);
        if (r >= 100) out[k]!.push(performance.now() - start);
      }
    }
    return out;
  }

  const baselineUrls = ['/v1/tokens/me', '/v1/tickets?limit=1'];
  const [me1, list1, builtinOnly] = await time([...baselineUrls, '/v1/views/counts'], ROUNDS);
  const builtinBody = (await get('/v1/views/counts')).json();

  const view = async (body: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/v1/views', headers, payload: body });
    if (res.statusCode !== 201) throw new Error(res.body);
  };
  await view({ name: 'Billing', brand_id: brands[0], filters: { tag: 'billing' } });
  await view({ name: 'Urgent open', brand_id: brands[1], filters: { status: 'open', priority: 'urgent' } });
  await view({ name: 'Shipping, unassigned', brand_id: brands[2], filters: { tags: 'shipping', unassigned: true } });
  await view({ name: 'My urgent', agent_id: agents[0]!.id, filters: { assigned_to: agents[0]!.email, priority: 'urgent' } });
  const [me2, list2, withCustom] = await time([...baselineUrls, '/v1/views/counts'], ROUNDS);
  const customBody = (await get('/v1/views/counts')).json();

  // A write before each round: the counts must cost the same right after one.
  let n = 0;
  const write = async () => {
    await services.tickets.update(admin, ids[n++ % ids.length]!, { priority: n % 2 ? 'high' : 'normal' });
  };
  const afterWriteRounds = Math.min(ROUNDS, 300);
  const [me3, afterWrite] = await time(['/v1/tokens/me', '/v1/views/counts'], afterWriteRounds, write);

  const plan = await sql<{ detail: string }>`explain query plan
    select status, sum(count) from ticket_counts where status in ('open','pending','snoozed') group by status`.execute(runtime.db);

  const ms = (x: number) => `${x.toFixed(3)} ms`;
  const row = (label: string, xs: number[], base: number[]) =>
    console.log(`${label.padEnd(58)} median ${ms(median(xs))}  p95 ${ms(p95(xs))}  ÷ tokens/me ${(median(xs) / median(base)).toFixed(2)}×`);
  console.log(`${TICKETS} tickets in ${BRANDS} brands (${ids.length} moved to pending/snoozed), ${AGENTS} agents; seeded in ${seedSeconds.toFixed(0)} s`);
  console.log(
    `ticket_counts rows: ${
      (
        await runtime.db
          .selectFrom('ticket_counts')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n
    }`,
  );
  console.log(`built-in counts: ${JSON.stringify(builtinBody.data.map((c: { view_id: string; count: number }) => `${c.view_id}=${c.count}`))}`);
  console.log(`custom counts:   ${JSON.stringify(customBody.data.slice(5).map((c: { count: number; exact: boolean }) => `${c.count}${c.exact ? '' : '+'}`))}`);
  console.log(`counter plan:    ${plan.rows.map((r) => r.detail).join('; ')}`);
  console.log(`rounds: ${ROUNDS} (after a write: ${afterWriteRounds}), requests alternating in process (inject)`);
  row('GET /v1/tokens/me (baseline)', me1!, me1!);
  row('GET /v1/tickets?limit=1', list1!, me1!);
  row('GET /v1/views/counts, 5 built-in views', builtinOnly!, me1!);
  row('GET /v1/tokens/me (baseline, second pass)', me2!, me2!);
  row('GET /v1/tickets?limit=1 (second pass)', list2!, me2!);
  row('GET /v1/views/counts, + 4 custom views, between writes', withCustom!, me2!);
  row('GET /v1/tokens/me (baseline, third pass)', me3!, me3!);
  row('GET /v1/views/counts, + 4 custom views, after each write', afterWrite!, me3!);
} finally {
  await app.close();
  await runtime.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
