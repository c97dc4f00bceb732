/**
 * Webhook delivery benchmark: end-to-end lag (ticket created → webhook received) and delivery
 * throughput, against a local receiver, over the real app and a real SQLite file.
 *
 *   npm run bench:webhooks            # defaults
 *   BENCH_TICKETS=5000 npm run bench:webhooks
 *
 * Everything runs in this one process (API, dispatcher, receiver), on 127.0.0.1 only.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';

const PACED = Number(process.env.BENCH_PACED ?? 300);
const BACKLOG = Number(process.env.BENCH_TICKETS ?? 2000);
const LOAD = Number(process.env.BENCH_LOAD ?? 1000);
const LOAD_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

const log = pino({ level: 'silent' });
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-webhooks-'));
  // The per-token quota (1,000 per 10 s by default) would refuse the backlog's creates: set out of reach.
  const config = loadConfig({
    NEXUS_DATA_DIR: dataDir,
    NEXUS_WEBHOOK_ALLOW_PRIVATE: '1',
    NEXUS_LOG_LEVEL: 'silent',
    NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000',
  });
  const runtime = await openRuntime(config);
  const app = await buildApp({ db: runtime.db, clock: runtime.clock, config, services: runtime.services, secretBox: runtime.secretBox });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const admin = (await runtime.services.tokens.create({ name: 'bench', scopes: ['admin'] })).token;

  // The receiver notes when each ticket's ticket.created arrived.
  const arrived = new Map<string, number>();
  let received = 0;
  let onReceive: (() => void) | null = null;
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: { ticket: { id: string } } };
      if (req.url === '/raw') {
        res.writeHead(204).end();
        return;
      }
      received++;
      if (body.type === 'ticket.created' && !arrived.has(body.data.ticket.id)) arrived.set(body.data.ticket.id, at);
      res.writeHead(204).end();
      onReceive?.();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const waitForReceived = (n: number) =>
    new Promise<void>((resolve) => {
      onReceive = () => {
        if (received >= n) resolve();
      };
      onReceive();
    });

  const call = async (method: string, url: string, body: unknown) => {
    const res = await fetch(`${api}${url}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string };
  };
  const brand = await call('POST', '/v1/brands', { name: 'Bench' });
  let n = 0;
  // Baseline 1, measured in this run: how long the API takes to acknowledge the create itself.
  const createLatency: number[] = [];
  const createTicket = async (): Promise<{ id: string; sentAt: number }> => {
    const sentAt = performance.now();
    const t = await call('POST', '/v1/tickets', {
      brand_id: brand.id,
      subject: `Bench ${++n}`,
      description: 'Order 10021 arrived broken',
      customer: { email: 'bench@example.com' },
    });
    createLatency.push(performance.now() - sentAt);
    return { id: t.id, sentAt };
  };
  const lags = (tickets: { id: string; sentAt: number }[]) => tickets.map((t) => arrived.get(t.id)! - t.sentAt);

  await call('POST', '/v1/webhooks', { url: hookUrl, events: ['ticket.created'] });
  const dispatcher = createWebhookDispatcher({ db: runtime.db, clock: runtime.clock, secretBox: runtime.secretBox, config, log });
  dispatcher.start();

  // 1. Paced: one ticket every 10 ms, the lag of each.
  const paced: { id: string; sentAt: number }[] = [];
  for (let i = 0; i < PACED; i++) {
    paced.push(await createTicket());
    await new Promise((r) => setTimeout(r, 10));
  }
  await waitForReceived(PACED);
  const pacedLag = lags(paced);
  const pacedCreate = createLatency.slice(0, PACED);

  // 2. Under load: LOAD_CONCURRENCY clients creating tickets flat out while deliveries go on.
  const loaded: { id: string; sentAt: number }[] = [];
  const loadStart = performance.now();
  await Promise.all(
    Array.from({ length: LOAD_CONCURRENCY }, async () => {
      while (loaded.length < LOAD) loaded.push(await createTicket());
    }),
  );
  const createdPerSec = loaded.length / ((performance.now() - loadStart) / 1000);
  await waitForReceived(PACED + loaded.length);
  const loadLag = lags(loaded);

  // 3. Drain: a backlog committed while no dispatcher runs, to two endpoints, then delivered.
  await dispatcher.stop();
  await call('POST', '/v1/webhooks', { url: hookUrl, events: ['*'] });
  for (let i = 0; i < BACKLOG; i += LOAD_CONCURRENCY) await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, BACKLOG - i) }, createTicket));
  const before = received;
  const expected = before + 2 * BACKLOG;
  const drainer = createWebhookDispatcher(
    { db: runtime.db, clock: runtime.clock, secretBox: runtime.secretBox, config, log },
    { perEndpointConcurrency: Number(process.env.BENCH_PER_ENDPOINT ?? 4) },
  );
  const drainStart = performance.now();
  drainer.start();
  await waitForReceived(expected);
  const drainSecs = (performance.now() - drainStart) / 1000;
  await drainer.stop();

  // Baseline 2, measured in this run: plain POSTs of a payload of the same size straight to the
  // receiver, with the dispatcher's concurrency (4 per endpoint × 2 endpoints), no database, no signing.
  const rawBody = JSON.stringify({
    id: 'evt_x',
    type: 'ticket.created',
    timestamp: new Date().toISOString(),
    data: { ticket: { id: 'tick_x', pad: 'x'.repeat(600) } },
  });
  const rawCount = 2 * BACKLOG;
  let rawSent = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const rawStart = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (rawSent < rawCount) {
        rawSent++;
        await new Promise<void>((resolve, reject) => {
          const req = http.request(hookUrl.replace('/hooks', '/raw'), { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end(rawBody);
        });
      }
    }),
  );
  const rawPerSec = rawCount / ((performance.now() - rawStart) / 1000);
  agent.destroy();

  const rows = [
    ['paced, 1 ticket / 10 ms', PACED, ms(quantile(pacedLag, 0.5)), ms(quantile(pacedLag, 0.99)), ms(Math.max(...pacedLag))],
    [
      `load, ${LOAD_CONCURRENCY} clients (${createdPerSec.toFixed(0)} tickets/s)`,
      LOAD,
      ms(quantile(loadLag, 0.5)),
      ms(quantile(loadLag, 0.99)),
      ms(Math.max(...loadLag)),
    ],
  ];
  console.log(
    `\nWebhook bench on ${os.cpus()[0]?.model ?? 'unknown CPU'} ×${os.cpus().length}, Node ${process.version}, SQLite (WAL, synchronous=FULL) in ${os.tmpdir()}\n`,
  );
  console.log('| scenario | tickets | lag p50 | lag p99 | lag max |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  const drainPerSec = (2 * BACKLOG) / drainSecs;
  console.log(`\nDrain: ${2 * BACKLOG} deliveries (${BACKLOG} tickets × 2 endpoints) in ${drainSecs.toFixed(2)} s = ${drainPerSec.toFixed(0)} deliveries/s`);
  console.log('\nRatios against baselines measured in this run:');
  console.log(`- paced lag p50 ÷ API create p50 (${ms(quantile(pacedCreate, 0.5))}): ${(quantile(pacedLag, 0.5) / quantile(pacedCreate, 0.5)).toFixed(2)}×`);
  console.log(`- paced lag p99 ÷ API create p99 (${ms(quantile(pacedCreate, 0.99))}): ${(quantile(pacedLag, 0.99) / quantile(pacedCreate, 0.99)).toFixed(2)}×`);
  console.log(`- drain deliveries/s ÷ plain POSTs/s to the same receiver (${rawPerSec.toFixed(0)}/s): ${(drainPerSec / rawPerSec).toFixed(2)}×`);

  await app.close();
  receiver.close();
  await runtime.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
