/**
 * What the export holds, as opposed to what the process's peak RSS shows: exports every ticket of
 * the database in this process (to nowhere), forcing a full collection every `--every` tickets and
 * printing the heap left after it, beside the peaks of the heap and of RSS so far. A heap left that
 * stays the same from the first reading to the last is an export whose memory does not grow with N.
 *
 *   NEXUS_DATA_DIR=<a bench:export --keep dir> node --expose-gc --import tsx bench/export/retained-heap.ts [--every 20000]
 */
import fs from 'node:fs';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const i = process.argv.indexOf('--every');
const every = i >= 0 ? Number(process.argv[i + 1]) : 20_000;
const mb = (bytes: number) => Math.round(bytes / 1048576);
const hwmMb = () => Math.round(Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024);

const runtime = await openRuntime(loadConfig());
try {
  const exports = runtime.services.exports;
  let heapTotalPeak = 0;
  const sampler = setInterval(() => (heapTotalPeak = Math.max(heapTotalPeak, process.memoryUsage().heapTotal)), 50);
  let n = 0;
  for await (const line of exports.jsonl(exports.plan(null, {}))) {
    if (line.length === 0) continue;
    if (++n % every === 0) {
      heapTotalPeak = Math.max(heapTotalPeak, process.memoryUsage().heapTotal);
      gc();
      console.log(
        `${n} tickets: heap left after a full collection ${mb(process.memoryUsage().heapUsed)} MB; peaks so far: heap ${mb(heapTotalPeak)} MB, RSS ${hwmMb()} MB`,
      );
    }
  }
  clearInterval(sampler);
  console.log(`${n} tickets exported`);
} finally {
  await runtime.close();
}
