/**
 * The HTTP bench's search request, in process: `app.inject` on a copy of one of its seeds, after the
 * search warm-up, so that a search's own cost is seen without wrk, sockets or the other server.
 *
 *   node --max-semi-space-size=64 --import tsx bench/search-speed/inprocess-search.ts \
 *     --data-dir <copy of DIR/nN/nexus-data> --tokens DIR/nN/product.tokens [--searches 600]
 *
 * Use a copy: the app writes to its data dir (token use, rate-limit counts). Prints the warm-up
 * time, p50/p99 of a search (two of the seed's words, one brand, top 20, keyword mode, one after
 * another), the process's CPU per search (background work included), every search over 100 ms
 * with the GCs that ran within it, and the GCs over 50 ms.
 */
import fs from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { WORDS } from '../http/data.js';
import { openInProcessApp } from '../http/inproc-app.js';

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, tokens: { type: 'string' }, searches: { type: 'string', default: '600' } } });
if (!values['data-dir'] || !values.tokens) throw new Error('usage: --data-dir DIR --tokens FILE [--searches N]');
process.env.NEXUS_DATA_DIR = values['data-dir'];
const SEARCHES = Number(values.searches);

const gcs: { start: number; duration: number; kind: number | undefined }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gcs.push({ start: e.startTime, duration: e.duration, kind: (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind });
}).observe({ entryTypes: ['gc'] });

const t0 = performance.now();
const { app, runtime, close } = await openInProcessApp(loadConfig());
try {
  await runtime.services.search.warmUp();
  console.log(`warm-up ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const tokens = fs
    .readFileSync(values.tokens, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(' ') as [string, string]);
  const word = () => WORDS[Math.floor(Math.random() * WORDS.length)];
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < SEARCHES; i++) {
    const [brand, token] = tokens[i % tokens.length]!;
    const start = performance.now();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/tickets/search',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ query: `${word()} ${word()}`, mode: 'keyword', filters: { brand_id: brand }, limit: 20 }),
    });
    const end = performance.now();
    if (res.statusCode !== 200) throw new Error(`search answered ${res.statusCode}: ${res.body}`);
    latencies.push(end - start);
    if (end - start > 100) {
      const within = gcs.filter((g) => g.start >= start && g.start <= end).map((g) => `${g.duration.toFixed(0)} ms (kind ${g.kind})`);
      console.log(`search ${i}: ${(end - start).toFixed(0)} ms; GCs within: ${within.join(', ') || 'none'}`);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]!;
  console.log(`p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(1)} ms, ${((cpu.user + cpu.system) / 1000 / SEARCHES).toFixed(2)} ms of CPU a search`);
  console.log(
    `GCs over 50 ms: ${
      gcs
        .filter((g) => g.duration > 50)
        .map((g) => `${g.duration.toFixed(0)} ms`)
        .join(', ') || 'none'
    }`,
  );
} finally {
  await close();
}
