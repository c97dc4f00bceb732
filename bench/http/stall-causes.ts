/**
 * What ran during each long turn of the event loop: the turns bench/http/loop-stalls.mjs recorded,
 * each matched with the samples a CPU profile of the same process took in it.
 *
 *   node --import ./bench/http/loop-stalls.mjs --cpu-prof --cpu-prof-dir=DIR --cpu-prof-interval 250 \
 *     dist/main.js 2> stderr.log                     (NEXUS_* settings as for npm start; LOOP_STALL_MS=30)
 *   node --import tsx bench/http/stall-causes.ts DIR/<main thread>.cpuprofile stderr.log [--top 4]
 *
 * Prints one line per turn after the server started listening: its start (s after listening), its
 * length, the garbage collector's share, and the server's own functions that held the most of it
 * (time with the function on the stack). Both files stamp time on the same
 * monotonic clock (`t0MonotonicUs` in the stalls line). docs/benchmarks.md ("the first seconds
 * after a start") used it.
 */
import fs from 'node:fs';
import { type CpuProfile, summarise } from './profile.js';

interface StallsLine {
  listeningAtMs: number | null;
  t0MonotonicUs?: number;
  stalls: [number, number][];
}

const [profilePath, stallsPath] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--top');
const topAt = process.argv.indexOf('--top');
const top = topAt > 0 ? Number(process.argv[topAt + 1]) : 4;
if (!profilePath || !stallsPath) {
  console.error('usage: stall-causes.ts <file.cpuprofile> <stderr of the process with loop-stalls.mjs> [--top 4]');
  process.exit(2);
}

const profile = JSON.parse(fs.readFileSync(profilePath, 'utf8')) as CpuProfile;
// The stalls line is the last JSON line with a `stalls` field (the server logs to stderr too).
const line = fs
  .readFileSync(stallsPath, 'utf8')
  .split('\n')
  .reverse()
  .find((l) => l.startsWith('{') && l.includes('"stalls"'));
if (!line) throw new Error(`no loop-stalls line in ${stallsPath}`);
const recorded = JSON.parse(line) as StallsLine;
if (recorded.t0MonotonicUs === undefined) throw new Error('the stalls line has no t0MonotonicUs: record it with the current loop-stalls.mjs');
const listening = recorded.listeningAtMs ?? 0;

for (const [startMs, lengthMs] of recorded.stalls) {
  if (startMs < listening) continue;
  const fromUs = recorded.t0MonotonicUs + startMs * 1000;
  const s = summarise(profile, 200, { fromUs, toUs: fromUs + lengthMs * 1000 });
  const busy = s.totalMs - s.idleMs;
  if (busy <= 0) continue;
  const gc = s.areas.find((a) => a.area === 'garbage collector')?.selfMs ?? 0;
  // The server's own named functions: the libraries' and node's frames under them say less.
  const held = s.inclusive
    .filter((f) => / (\/\S*\/)?(dist|src)\//.test(f.fn) && !f.fn.startsWith('(anonymous)'))
    .slice(0, top)
    .map((f) => `${f.fn.split(' ')[0]} ${Math.round((100 * f.ms) / busy)}%`)
    .join(', ');
  console.log(`${((startMs - listening) / 1000).toFixed(2).padStart(7)} s ${String(lengthMs).padStart(5)} ms  gc ${Math.round((100 * gc) / busy)}%  ${held}`);
}
