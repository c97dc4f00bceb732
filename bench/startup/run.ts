/**
 * Start-up time: spawn → first 200 from /healthz, for `npm start`'s server (a first start on an
 * empty data dir, and a restart on an existing one) against a minimal Fastify + better-sqlite3
 * server started the same way, interleaved in one run so the machine's noise hits all alike.
 *
 *   npm run bench:startup -- [rounds=7]
 *
 * Run `npm run build` first (npm ci does): the dist/ variants start the compiled server.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/server-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rounds = Number(process.argv[2] ?? 7);

interface Variant {
  name: string;
  /** The executable; node when absent. */
  command?: string;
  args: string[];
  /** A fresh data dir each run (a first start) or one kept across runs (a restart). */
  freshData: boolean;
}

const variants: Variant[] = [
  { name: 'baseline: minimal Fastify + SQLite, node', args: ['bench/startup/baseline-server.mjs'], freshData: false },
  { name: 'baseline under the tsx loader', args: ['--import', 'tsx', 'bench/startup/baseline-server.mjs'], freshData: false },
  { name: 'NexusCore (dist/), first start on an empty data dir', args: ['dist/main.js'], freshData: true },
  { name: 'NexusCore (dist/), restart on a kept data dir', args: ['dist/main.js'], freshData: false },
  { name: 'NexusCore through npm start (prestart check)', command: 'npm', args: ['start', '--silent'], freshData: false },
  { name: 'NexusCore from src/ through tsx (tests, CLI)', args: ['--import', 'tsx', 'src/main.ts'], freshData: false },
];

async function timeStart(variant: Variant, dataDir: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(variant.command ?? process.execPath, variant.args, {
    detached: true,
    cwd: ROOT,
    env: { ...process.env, NEXUS_DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), NEXUS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${variant.name} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return performance.now() - started;
      if (performance.now() - started > 120_000) throw new Error(`${variant.name} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    // The whole process group: npm start runs the server as a child of its own.
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const keptDirs = new Map(variants.map((v) => [v, fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-startup-'))]));
const times = new Map<Variant, number[]>(variants.map((v) => [v, []]));
try {
  // One unmeasured start of each: fills tsx's transpile cache and the kept data dirs, as on any machine after its first start.
  for (const v of variants) await timeStart(v, keptDirs.get(v)!);
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const dir = v.freshData ? fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-startup-')) : keptDirs.get(v)!;
      try {
        times.get(v)!.push(await timeStart(v, dir));
      } finally {
        if (v.freshData) fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
} finally {
  for (const dir of keptDirs.values()) fs.rmSync(dir, { recursive: true, force: true });
}

const base = times.get(variants[0]!)!;
console.log(`start-up to /healthz 200, ${rounds} interleaved rounds: median and min (max) in ms, and each as a ratio to the minimal server's`);
console.log('(on a busy machine the minimums are the steadier figure)\n');
for (const v of variants) {
  const xs = times.get(v)!;
  const row = [median(xs), Math.min(...xs)].map((x) => x.toFixed(0).padStart(6)).join('  ');
  const ratios = `${(median(xs) / median(base)).toFixed(2)}× / ${(Math.min(...xs) / Math.min(...base)).toFixed(2)}×`;
  console.log(`${v.name.padEnd(52)} ${row}  (${Math.max(...xs).toFixed(0)})  ${ratios}`);
}
