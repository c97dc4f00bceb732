/**
 * The retrieve route's CPU a request without sockets or wrk: builds the app as the server does
 * (`openRuntime`, `buildApp`) over a data dir and sends `GET /v1/tickets/{id}` through
 * `app.inject`, one request at a time, so that no request's time is mixed with another's. Over
 * HTTP under 32 connections a profile cannot tell one request's work from the next one's; here
 * it can, and a run is the least noisy measure of a change to the route found so far.
 *
 *   cp -r <seed>/n100000/nexus-data /tmp/copy          # the app writes (token use, migrations): a copy
 *   node --import tsx bench/http/retrieve-inproc.ts /tmp/copy <seed>/n100000/product.ids [--uncached 10000]
 *
 * Passes: a warm-up over 3,000 tickets; `--uncached` tickets read once each (no cache holds them:
 * the cost of a ticket nobody read lately); then 1,000 tickets read three times (from the second
 * read on, the answers kept while nothing is committed). Prints wall and CPU µs a request per pass.
 * Add `--cpu-prof --cpu-prof-interval 100` to node for a profile, and `--trace-gc` for collections.
 */
import fs from 'node:fs';
import { loadConfig } from '../../src/config.js';
import { openInProcessApp } from './inproc-app.js';

const [dataDir, idsFile] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const uncachedAt = process.argv.indexOf('--uncached');
const uncached = uncachedAt > 0 ? Number(process.argv[uncachedAt + 1]) : 10_000;
if (!dataDir || !idsFile || !Number.isInteger(uncached) || uncached < 1) {
  console.error('usage: retrieve-inproc.ts <copy of a nexus-data dir> <product.ids> [--uncached 10000]');
  process.exit(2);
}

const config = loadConfig({ ...process.env, NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: 'silent', NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000' });
const { app, close } = await openInProcessApp(config);

const tickets = fs
  .readFileSync(idsFile, 'utf8')
  .trim()
  .split('\n')
  .map((line) => line.split(' ') as [string, string]);
if (tickets.length < uncached + 4_000) throw new Error(`${idsFile} holds ${tickets.length} tickets; --uncached ${uncached} needs ${uncached + 4_000}`);

async function pass(name: string, list: [string, string][]): Promise<void> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (const [i, [id, token]] of list.entries()) {
    // A turn of the event loop now and then, as a server's sockets give it: timers run (the
    // stored representations' flush among them), which a chain of injected requests never lets.
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    const res = await app.inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: { authorization: `Bearer ${token}` } });
    if (res.statusCode !== 200) throw new Error(`GET ${id}: ${res.statusCode} ${res.body}`);
  }
  const used = process.cpuUsage(cpu);
  const wall = (1000 * (performance.now() - started)) / list.length;
  console.log(
    `${name.padEnd(24)} ${String(list.length).padStart(6)} GETs: ${wall.toFixed(0)} µs wall, ${((used.user + used.system) / list.length).toFixed(0)} µs CPU each`,
  );
}

try {
  await pass('warm-up (uncached)', tickets.slice(uncached, uncached + 3_000));
  await pass('uncached', tickets.slice(0, uncached));
  const hot = tickets.slice(uncached + 3_000, uncached + 4_000);
  await pass('1,000 read once', hot);
  await pass('1,000 read again', hot);
  await pass('1,000 read a third time', hot);
} finally {
  await close();
}
