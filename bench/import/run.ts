/**
 * `npm run bench:import`: tickets per second imported by `nexus import` against the plain create
 * through the ticket service, measured in the same run on the same machine.
 *
 * Generates a Zendesk full JSON export of N tickets (default 5,000; `-- --tickets N`), each with the
 * customer's opening comment and an agent's public reply, plus the users file, from bench/http's
 * synthetic helpdesk. Then, each on a fresh SQLite data dir with the server's own settings:
 * - import: `imports.run` (the service `nexus import` calls: mapping, import records, the ticket
 *   service's bulk path for history, search indexing), batches of 200;
 * - create: `tickets.create` once per ticket, one after another (what a migration script over the
 *   API would do, without HTTP), then `tickets.addMessage` for the reply;
 * - createMany: the bulk create in batches of 200 (no reply), a second reference.
 * Prints tickets/s for each and the ratios against the plain create.
 *
 *   npm run bench:import [-- --tickets 5000]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Principal } from '../../src/auth/scopes.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { AGENTS, BRANDS, ticketGenerator } from '../http/data.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const i = process.argv.indexOf('--tickets');
const N = i >= 0 ? Number(process.argv[i + 1]) : 5000;
const BATCH = 200;
const principal: Principal = { tokenId: 'bench', tokenName: 'bench', scopes: ['admin'], brandIds: null };

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-import-'));
const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
console.log(
  `bench:import at ${new Date().toISOString()}, commit ${head}, ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}`,
);

/** The synthetic tickets, once: bodies for the create paths, Zendesk lines for the import. */
const gen = ticketGenerator();
const tickets = Array.from({ length: N }, (_, n) => gen.next(n));
const ticketsFile = path.join(scratch, 'zendesk-tickets.jsonl');
const usersFile = path.join(scratch, 'zendesk-users.jsonl');
{
  const users = new Map<string, number>();
  const userId = (email: string) => {
    let id = users.get(email);
    if (id === undefined) users.set(email, (id = 1000 + users.size));
    return id;
  };
  const out = fs.openSync(ticketsFile, 'w');
  const start = Date.UTC(2023, 0, 1);
  for (const [n, t] of tickets.entries()) {
    const created = new Date(start + n * 60_000).toISOString().replace('.000', '');
    const replied = new Date(start + n * 60_000 + 3_600_000).toISOString().replace('.000', '');
    const requester = userId(t.body.customer.email);
    const agent = userId(t.body.assigned_to ?? AGENTS[n % AGENTS.length]!);
    const line = {
      url: `https://bench.zendesk.com/api/v2/tickets/${n + 1}.json`,
      id: n + 1,
      via: { channel: 'email', source: { from: { address: t.body.customer.email, name: t.body.customer.name }, to: {}, rel: null } },
      created_at: created,
      updated_at: replied,
      type: 'question',
      subject: t.body.subject,
      raw_subject: t.body.subject,
      description: t.body.description,
      priority: t.body.priority,
      status: t.followUp?.status === 'resolved' ? 'solved' : 'open',
      requester_id: requester,
      submitter_id: requester,
      assignee_id: t.body.assigned_to ? agent : null,
      tags: t.body.tags,
      brand_id: 360000 + t.k,
      comments: [
        { id: n * 2 + 1, type: 'Comment', author_id: requester, body: t.body.description, public: true, attachments: [], created_at: created },
        {
          id: n * 2 + 2,
          type: 'Comment',
          author_id: agent,
          body: t.followUp?.reply ?? 'Thanks, we are on it.',
          public: true,
          attachments: [],
          created_at: replied,
        },
      ],
    };
    fs.writeSync(out, `${JSON.stringify(line)}\n`);
  }
  fs.closeSync(out);
  const roles = new Set(AGENTS);
  fs.writeFileSync(
    usersFile,
    [...users].map(([email, id]) => JSON.stringify({ id, name: email.split('@')[0], email, role: roles.has(email) ? 'agent' : 'end-user' })).join('\n'),
  );
}

async function onFreshDatabase<T>(name: string, fn: (runtime: Awaited<ReturnType<typeof openRuntime>>) => Promise<T>): Promise<T> {
  const dataDir = path.join(scratch, name);
  const runtime = await openRuntime(loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent' }));
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

async function brandsFor(runtime: Awaited<ReturnType<typeof openRuntime>>): Promise<void> {
  for (let k = 0; k < BRANDS; k++) await runtime.services.brands.create({ id: `brand_bench${String(k).padStart(2, '0')}`, name: `Bench ${k}` });
}

const results: { name: string; seconds: number }[] = [];
try {
  // Warm-up, not measured: the first runtime of the process loads the embedder and compiles the
  // queries, which would otherwise be charged to whichever path runs first.
  await onFreshDatabase('warm-up', async (runtime) => {
    await brandsFor(runtime);
    for (const t of tickets.slice(0, 20)) await runtime.services.tickets.create(principal, t.body);
  });
  results.push({
    name: 'nexus import (zendesk, 2 messages each)',
    seconds: await onFreshDatabase('import', async (runtime) => {
      const started = performance.now();
      const summary = await runtime.services.imports.run({ source: 'zendesk', file: ticketsFile, usersFile, batchSize: BATCH });
      if (summary.imported !== N) throw new Error(`imported ${summary.imported} of ${N}: ${JSON.stringify(summary.skipped_by_reason)}`);
      return (performance.now() - started) / 1000;
    }),
  });
  results.push({
    name: 'tickets.create one by one + addMessage (2 messages each)',
    seconds: await onFreshDatabase('create', async (runtime) => {
      await brandsFor(runtime);
      const started = performance.now();
      for (const t of tickets) {
        const created = await runtime.services.tickets.create(principal, t.body);
        await runtime.services.tickets.addMessage(principal, created.id, {
          author_type: 'agent',
          body: t.followUp?.reply ?? 'Thanks, we are on it.',
          author: { email: AGENTS[0]! },
        });
      }
      return (performance.now() - started) / 1000;
    }),
  });
  results.push({
    name: 'tickets.create one by one (1 message each)',
    seconds: await onFreshDatabase('create-only', async (runtime) => {
      await brandsFor(runtime);
      const started = performance.now();
      for (const t of tickets) await runtime.services.tickets.create(principal, t.body);
      return (performance.now() - started) / 1000;
    }),
  });
  results.push({
    name: `tickets.createMany in batches of ${BATCH} (1 message each)`,
    seconds: await onFreshDatabase('create-many', async (runtime) => {
      await brandsFor(runtime);
      const started = performance.now();
      for (let from = 0; from < N; from += BATCH)
        await runtime.services.tickets.createMany(
          principal,
          tickets.slice(from, from + BATCH).map((t) => t.body),
        );
      return (performance.now() - started) / 1000;
    }),
  });
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

const baseline = results.find((r) => r.name.startsWith('tickets.create one by one + addMessage'))!;
console.log(`\n${N.toLocaleString('en')} tickets, SQLite with the server's settings (synchronous FULL), a fresh database each:\n`);
console.log('| path | seconds | tickets/s | ÷ create + reply |');
console.log('|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.seconds.toFixed(1)} | ${Math.round(N / r.seconds)} | ${(baseline.seconds / r.seconds).toFixed(2)}× |`);
