import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { testPostgresUrl } from '../helpers/app.js';
import { type ServerProcess, spawnServer, startServer } from '../helpers/server-process.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = 'nxc_scale_test_admin_token_0123456789abcdef';
const TICKETS = 5000;
/** Requests in flight at once, split between the two APIs. */
const CONCURRENCY = 24;
/** Each dispatcher sends at most this many deliveries at once (its default): what a crash could send twice. */
const DISPATCHER_MAX_IN_FLIGHT = 64;
const WORKERS = 2;
/** Generous: five Node processes and PostgreSQL share a busy two-core machine. */
const WAIT_MS = 180_000;
/** Words per search in the sweep (a query keeps 32 terms at most): keyword search ranks their OR, so each finds exactly these tickets. */
const SWEEP_BATCH = 25;

/** 19 consonants the analyser's stemmer leaves alone at the end of a word: 19³ distinct words of one length. */
const LETTERS = 'bcdfghjklmnpqrtvwxz';
const wordOf = (i: number) => `scalq${LETTERS[Math.floor(i / 361) % 19]}${LETTERS[Math.floor(i / 19) % 19]}${LETTERS[i % 19]}`;

interface Created {
  id: string;
  word: string;
  api: number;
  ackAt: number;
}

// biome-ignore lint/suspicious/noExplicitAny: the JSON body; the test asserts on the fields it reads
async function call(base: string, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

/** Lines at pino's error level or above, and any line naming a deadlock. */
const troubleIn = (server: ServerProcess): string[] =>
  server
    .output()
    .split('\n')
    .filter((l) => /"level":(5|6)\d/.test(l) || /deadlock/i.test(l) || (l.trim() !== '' && !l.startsWith('{')));

describe('PostgreSQL at scale: two API processes and two workers on one database', {
  skip: testPostgresUrl ? false : 'needs NEXUS_TEST_DATABASE_URL (npm run test:postgres)',
}, () => {
  it(`${TICKETS} tickets created concurrently through both APIs: each found by search through either, each ticket.created delivered, no deadlock, no error`, async (t) => {
    // A database of its own, dropped at the end.
    const name = `nexus_test_scale_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: testPostgresUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    t.after(async () => {
      const c = new pg.Client({ connectionString: testPostgresUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    });
    const url = new URL(testPostgresUrl!);
    url.pathname = `/${name}`;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-scale-'));
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const receiver = await startWebhookReceiver();
    t.after(() => receiver.close());

    const env = {
      DATABASE_URL: url.toString(),
      NEXUS_DATA_DIR: dataDir,
      NEXUS_ADMIN_TOKEN: ADMIN,
      NEXUS_SECRET_KEY: 'scale-test-secret-key-0123456789abcdef0123456789',
      NEXUS_WEBHOOK_ALLOW_PRIVATE: '1',
      NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000',
      // 2 × 8 + 2 × (8 + 1 listening): well under max_connections beside the other test files.
      NEXUS_PG_POOL: '8',
    };
    // The first API migrates; the others start once the schema is there.
    const first = await startServer(t.after.bind(t), { ...env, NEXUS_WORKERS: '0', NEXUS_LOG_LEVEL: 'warn' }, { readyPath: '/readyz' });
    const [second, ...workers] = await Promise.all([
      startServer(t.after.bind(t), { ...env, NEXUS_WORKERS: '0', NEXUS_LOG_LEVEL: 'warn' }, { readyPath: '/readyz' }),
      ...Array.from({ length: WORKERS }, () => spawnServer(t.after.bind(t), { ...env, NEXUS_LOG_LEVEL: 'info' }, { args: ['bin/nexus.js', 'worker'] })),
    ]);
    const apis = [first, second!];
    for (const w of workers) await waitFor('a worker running', WAIT_MS, () => (/NexusCore worker running/.test(w.output()) ? true : undefined));

    const brand = await call(first.base, 'POST', '/v1/brands', { name: 'Scale' });
    assert.equal(brand.status, 201);
    assert.equal((await call(second!.base, 'POST', '/v1/webhooks', { url: receiver.url, events: ['ticket.created'] })).status, 201);
    // Each API's search indexes loaded before the load starts, as a serving process's would be.
    for (const api of apis) assert.equal((await call(api.base, 'POST', '/v1/tickets/search', { query: 'warm', mode: 'keyword' })).status, 200);

    // The load: TICKETS creates, CONCURRENCY in flight, alternating between the two APIs.
    const created: Created[] = [];
    /** The ticket acknowledged last. */
    let latest: Created | undefined;
    const ackWaiters: (() => void)[] = [];
    const failures: string[] = [];
    let next = 0;
    const loadStarted = performance.now();
    const creators = Array.from({ length: CONCURRENCY }, async (_, k) => {
      const api = k % 2;
      while (next < TICKETS) {
        const i = next++;
        const res = await call(apis[api]!.base, 'POST', '/v1/tickets', {
          brand_id: brand.json.id,
          subject: `Scale ${wordOf(i)}`,
          description: 'Created by the scale-out test',
          customer: { email: `c${i}@example.com` },
        });
        if (res.status !== 201) failures.push(`${res.status} ${JSON.stringify(res.json)}`);
        else {
          created[i] = { id: res.json.id, word: wordOf(i), api, ackAt: performance.now() };
          latest = created[i]!;
          for (const wake of ackWaiters.splice(0)) wake();
        }
      }
    });
    // Meanwhile, the latest acknowledged ticket is searched for through the other API: it must be
    // found by the first search sent after its acknowledgement.
    let loading = true;
    const probes: { ms: number; found: boolean }[] = [];
    const prober = (async () => {
      let probed: Created | undefined;
      while (loading) {
        const c = latest;
        if (c === undefined || c === probed) {
          await new Promise<void>((resolve) => ackWaiters.push(resolve));
          continue;
        }
        probed = c;
        const res = await call(apis[1 - c.api]!.base, 'POST', '/v1/tickets/search', { query: c.word, mode: 'keyword' });
        probes.push({
          ms: performance.now() - c.ackAt,
          found: res.status === 200 && res.json.data.some((r: { ticket: { id: string } }) => r.ticket.id === c.id),
        });
      }
    })();
    await Promise.all(creators);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    loading = false;
    for (const wake of ackWaiters.splice(0)) wake();
    await prober;
    assert.deepEqual(failures, [], 'every create answered 201');
    assert.equal(created.filter(Boolean).length, TICKETS);
    // The ticket acknowledged last, searched for through both APIs at once as soon as the load ends.
    const last = latest!;
    const lastFound = await Promise.all(
      apis.map(async (api) => {
        const res = await call(api.base, 'POST', '/v1/tickets/search', { query: last.word, mode: 'keyword' });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(
          res.json.data.map((r: { ticket: { id: string } }) => r.ticket.id),
          [last.id],
        );
        return performance.now() - last.ackAt;
      }),
    );

    // Every ticket, through either API, in searches of SWEEP_BATCH words each.
    for (const [a, api] of apis.entries()) {
      const sweepStarted = performance.now();
      for (let from = 0; from < TICKETS; from += SWEEP_BATCH) {
        const batch = created.slice(from, from + SWEEP_BATCH);
        const res = await call(api.base, 'POST', '/v1/tickets/search', { query: batch.map((c) => c.word).join(' '), mode: 'keyword', limit: 100 });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(
          new Set(res.json.data.map((r: { ticket: { id: string } }) => r.ticket.id)),
          new Set(batch.map((c) => c.id)),
          `API ${a + 1}, tickets ${from} to ${from + batch.length - 1}`,
        );
      }
      t.diagnostic(`search sweep through API ${a + 1}: ${TICKETS} tickets in ${((performance.now() - sweepStarted) / 1000).toFixed(1)} s`);
    }
    const missed = probes.filter((p) => !p.found).length;
    t.diagnostic(`${TICKETS} creates in ${loadSeconds.toFixed(1)} s (${Math.round(TICKETS / loadSeconds)}/s) through 2 APIs`);
    t.diagnostic(
      `freshness probes during the load (latest ticket, other API): ${probes.length}, missed ${missed}; ` +
        `acknowledgement to answer p50 ${quantile(
          probes.map((p) => p.ms),
          0.5,
        ).toFixed(0)} ms, p99 ${quantile(
          probes.map((p) => p.ms),
          0.99,
        ).toFixed(0)} ms`,
    );
    t.diagnostic(`the last ticket found through API 1 and API 2 ${lastFound.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')} after its acknowledgement`);
    assert.ok(probes.length > 10, `probes: ${probes.length}`);
    assert.equal(missed, 0, 'a ticket was not found by the first search through the other API after its acknowledgement');
    for (const ms of lastFound) assert.ok(ms < 1000, `the last ticket was found ${ms.toFixed(0)} ms after its acknowledgement`);

    // Every ticket.created delivered at least once; duplicates only from claims lost in flight.
    const ticketIds = new Set(created.map((c) => c.id));
    const deliveredIds = () => new Set(receiver.received.filter((r) => r.json?.type === 'ticket.created').map((r) => r.json.data.ticket.id as string));
    await waitFor('every ticket.created delivered', WAIT_MS, () => ([...ticketIds].every((id) => deliveredIds().has(id)) ? true : undefined));
    const drainedAt = (performance.now() - loadStarted) / 1000;
    const byWebhookId = new Map<string, number>();
    for (const r of receiver.received) byWebhookId.set(String(r.headers['webhook-id']), (byWebhookId.get(String(r.headers['webhook-id'])) ?? 0) + 1);
    const duplicates = [...byWebhookId].filter(([, n]) => n > 1);
    const extra = duplicates.reduce((s, [, n]) => s + n - 1, 0);
    t.diagnostic(
      `all ${TICKETS} ticket.created delivered ${drainedAt.toFixed(1)} s after the load began; ${receiver.received.length} requests, ${extra} duplicate(s)${duplicates.length ? `: ${duplicates.map(([id, n]) => `${id} ×${n}`).join(', ')}` : ''}`,
    );
    assert.ok(
      extra <= WORKERS * DISPATCHER_MAX_IN_FLIGHT,
      `${extra} duplicates, above the ${WORKERS * DISPATCHER_MAX_IN_FLIGHT} deliveries the workers can have in flight`,
    );
    assert.equal(byWebhookId.size, TICKETS);

    // A clean stop for all, and nothing wrong in any log.
    for (const p of [...apis, ...workers]) assert.equal(await p.stop('SIGTERM'), 0, p.output().slice(-2000));
    for (const p of [...apis, ...workers]) assert.deepEqual(troubleIn(p), []);
  });
});
