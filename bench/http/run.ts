/**
 * HTTP bench: NexusCore as `npm start` runs it against an ideal minimal ticket server, in one run.
 *
 *   npm run bench:http -- [--tickets 10000[,100000,…]] [--dialect sqlite|postgres] [--duration 10s]
 *                         [--connections 32] [--rounds 3] [--warmup 5s] [--read-warmup 5s] [--paths get,get-uncached,list,search,create,reply,patch]
 *                         [--soak 10m] [--profile [get,create]] [--quiet-wait 20] [--startups 3] [--keep]
 *                         [--seeded DIR] [--cached-files]
 *
 * For each N: seeds NexusCore's database through its ticket service (bench/http/seed-product.ts)
 * and the ideal server's with the same tickets (seed-ideal.mjs); starts `npm start` (SQLite in a
 * temporary NEXUS_DATA_DIR, or DATABASE_URL to a fresh PostgreSQL database the bench creates and
 * drops) and the ideal server (ideal-server.mjs: Fastify 5 + better-sqlite3, or its pg twin), both
 * pinned to CPU 0 with taskset, timing each start (spawn -> first 200 on /healthz); then drives
 * every path with `wrk -t1 -c<connections>` pinned to CPU 1: a warm-up, then rounds in which the
 * paths and the two servers are interleaved (so drift hits all alike), each run starting once the
 * machine is quiet (or after --quiet-wait seconds). Prints, per path, the median req/s, p50/p99
 * and server CPU per request of each server, the ratio and the issue's bars; NexusCore's own p50/p99
 * from its access log (wrk's add the wait to be read and accepted); the server's RSS at the end;
 * with --soak, a long mixed-load run and the RSS after it (at the largest N only); with --profile,
 * a `node --cpu-prof` profile of NexusCore under the given paths' loads, summarised.
 *
 * `get` cycles through 5,000 requests drawn at random from the sampled tickets, so after its first
 * pass NexusCore answers from memory (its answers and conversations kept by version);
 * `get-uncached` reads every sampled ticket in turn (up to 20,000, more than those caches hold), the
 * cost of reading a ticket no one read lately. The ideal server keeps nothing either way.
 *
 * --seeded DIR (e.g. bench/http/seeds, gitignored): seed into DIR/n<N>/ and keep it there; a later run with the same DIR reuses
 * a complete seed instead of seeding again (1M tickets take half an hour to seed). The servers run
 * on a copy of it, so the runs' writes (creates, replies, updates) do not pile up in the seed. On
 * PostgreSQL the seed's databases are kept too, named after N (nexus_bench_seed_<N>_nexus and
 * _ideal; seeding through the ticket service runs at ~100 tickets/s there), and each run's copy is
 * a database created from them as templates, dropped at the end.
 *
 * --cached-files (SQLite): before each run, reads the database files of the server about to be
 * measured (its file and WAL) from CPU 1, so that each run starts with them in the page cache. Some
 * machines page out file pages that no one touched for a minute (a DAMON `pageout` scheme), with
 * gigabytes free: there, without it, every round of a path at 1M starts on a cold file, as a server
 * that has RAM to spare never does. Both servers get the same; the seconds it took are recorded.
 *
 * --read-warmup (default: --warmup) is the warm-up of the read paths (get, get-uncached, list,
 * search); --warmup stays that of the write paths. A search at a million tickets costs more for
 * its first ~40 s under load (V8 still compiling, SQLite's page cache filling), while writes warmed
 * up as long add tens of thousands of tickets to a 10k seed, whose background work then runs into
 * the next rounds: `--warmup 3s --read-warmup 30s` measures both in their steady state.
 *
 * Output: the markdown tables on stdout, also saved with the raw wrk outputs under
 * bench/http/results/<timestamp>/ (gitignored). Every process it starts runs in its own process
 * group and is killed on exit, on error and on CTRL-C; PostgreSQL databases it created are dropped.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../../test/helpers/server-process.js';
import { type CpuProfile, summarise, summaryMarkdown } from './profile.js';
import { busyJiffies, cpuMs, descendants, memory } from '../proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = path.join(ROOT, 'bench/http');
const PATHS = ['get', 'get-uncached', 'list', 'search', 'create', 'reply', 'patch'] as const;
type PathName = (typeof PATHS)[number];
type Target = 'nexus' | 'ideal';
/** The paths that write nothing: their warm-up is --read-warmup. */
const READ_PATHS: readonly PathName[] = ['get', 'get-uncached', 'list', 'search'];

const LABEL: Record<PathName, string> = {
  get: '`GET /v1/tickets/{id}`',
  'get-uncached': '`GET /v1/tickets/{id}`, each sampled ticket in turn (no cache holds it)',
  list: '`GET /v1/tickets?brand_id=…&status=open&limit=20`',
  search: '`POST /v1/tickets/search` (keyword)',
  create: '`POST /v1/tickets` (~600 B)',
  reply: '`POST /v1/tickets/{id}/messages`',
  patch: '`PATCH /v1/tickets/{id}` (status/priority)',
};

/** The issue's bars: the ratio is against the ideal server's `against` path. */
const BARS: Partial<Record<PathName, { against: PathName; ratio: number; p99: number }>> = {
  get: { against: 'get', ratio: 0.4, p99: 50 },
  list: { against: 'get', ratio: 0.25, p99: 50 },
  create: { against: 'create', ratio: 0.5, p99: 150 },
};

// ---------------------------------------------------------------- options

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n\n`);
  // The help text is this file's opening comment.
  const help = fs
    .readFileSync(fileURLToPath(import.meta.url), 'utf8')
    .split('*/')[0]!
    .replace(/^\/\*\*\n/, '')
    .replace(/^ \* ?/gm, '');
  process.stderr.write(`${help}\n`);
  process.exit(message ? 2 : 0);
}

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!m) usage(`not a duration: ${text} (e.g. 10s, 10m)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

function count(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|m)?$/i.exec(text.trim());
  if (!m) usage(`not a number of tickets: ${text}`);
  return Math.round(Number(m[1]) * ({ k: 1e3, m: 1e6 }[(m[2] ?? '').toLowerCase() as 'k' | 'm'] ?? 1));
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) usage();
function opt(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  return v === undefined || v.startsWith('--') ? '' : v;
}
const known = new Set([
  'tickets',
  'dialect',
  'duration',
  'connections',
  'rounds',
  'warmup',
  'read-warmup',
  'paths',
  'soak',
  'profile',
  'quiet-wait',
  'startups',
  'keep',
  'seeded',
  'database-url',
  'cached-files',
]);
for (const a of args) if (a.startsWith('--') && !known.has(a.slice(2))) usage(`unknown option ${a}`);

const o = {
  tickets: (opt('tickets') || '10000')
    .split(',')
    .map(count)
    .sort((a, b) => a - b),
  dialect: (opt('dialect') || 'sqlite') as 'sqlite' | 'postgres',
  duration: seconds(opt('duration') || '10s'),
  warmup: seconds(opt('warmup') || '5s'),
  readWarmup: seconds(opt('read-warmup') || opt('warmup') || '5s'),
  connections: Number(opt('connections') || 32),
  rounds: Number(opt('rounds') || 3),
  paths: (opt('paths') || PATHS.join(',')).split(',') as PathName[],
  soak: opt('soak') === undefined ? 0 : seconds(opt('soak') || usage('--soak needs a duration, e.g. --soak 10m')),
  profile: opt('profile') === undefined ? [] : ((opt('profile') || 'get,create').split(',') as PathName[]),
  quietWait: Number(opt('quiet-wait') || 20),
  startups: Math.max(1, Number(opt('startups') || 3)),
  keep: opt('keep') !== undefined,
  /** Read each server's database files into the page cache before each of its runs (SQLite). */
  cachedFiles: opt('cached-files') !== undefined,
  /** A directory whose seeds are reused and never deleted (on PostgreSQL, with their databases). */
  seeded: opt('seeded') ? path.resolve(opt('seeded')!) : undefined,
  /** The PostgreSQL server the bench creates its databases on. */
  pgBase: opt('database-url') || 'postgres://postgres@127.0.0.1:5432/postgres',
};
if (!['sqlite', 'postgres'].includes(o.dialect)) usage(`--dialect must be sqlite or postgres`);
if (o.cachedFiles && o.dialect !== 'sqlite') usage('--cached-files works with SQLite only');
for (const p of [...o.paths, ...o.profile]) if (!PATHS.includes(p)) usage(`unknown path ${p}; paths: ${PATHS.join(', ')}`);
const warmupOf = (p: PathName): number => (READ_PATHS.includes(p) ? o.readWarmup : o.warmup);
if (!(o.connections > 0 && o.rounds > 0)) usage('--connections and --rounds must be positive');

const SERVER_CPU = '0';
const WRK_CPU = '1';
const ADMIN_TOKEN = `nxc_${'benchhttp'.repeat(5)}`;
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z');
const resultsDir = path.join(HERE, 'results', `${stamp}-${o.dialect}`);
fs.mkdirSync(resultsDir, { recursive: true });
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-http-'));

const log = (line: string) => process.stderr.write(`${line}\n`);
const report: string[] = [];
/** Appends to the report (stdout and results/…/table.md). */
function out(text = '') {
  report.push(text);
  process.stdout.write(`${text}\n`);
  fs.writeFileSync(path.join(resultsDir, 'table.md'), `${report.join('\n')}\n`);
}

// ---------------------------------------------------------------- processes

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const groups = new Set<ChildProcess>();
const pgDatabases = new Set<string>();

/** Spawns in a process group of its own, so that stopping it stops everything it started. */
function spawnGroup(command: string, argv: string[], options: { env?: NodeJS.ProcessEnv; stdout?: string; cwd?: string } = {}): ChildProcess {
  const fd = options.stdout ? fs.openSync(options.stdout, 'a') : 'ignore';
  const child = spawn(command, argv, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd === 'ignore' ? 'inherit' : fd],
  });
  if (typeof fd === 'number') fs.closeSync(fd);
  groups.add(child);
  child.once('exit', () => groups.delete(child));
  return child;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* already gone */
  }
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * SIGTERM to the whole group (a graceful stop), then SIGKILL after `graceMs`. Waits for the
 * leader and for `serverPid` (the node process under `npm start`, which may outlive npm).
 */
async function stopGroup(child: ChildProcess, graceMs = 25_000, serverPid?: number): Promise<void> {
  killGroup(child, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited(child);
  while (serverPid && alive(serverPid) && performance.now() < deadline) await sleep(50);
  clearTimeout(timer);
  // Whatever is left in the group.
  killGroup(child, 'SIGKILL');
}

/** Runs `work` on a connection of its own to `url` (the bench's PostgreSQL server unless given), closed after. */
async function withClient<T>(work: (client: pg.Client) => Promise<T>, url = o.pgBase): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function dropDatabases(names: string[] = [...pgDatabases]): Promise<void> {
  if (names.length === 0) return;
  await withClient(async (client) => {
    for (const name of names) {
      await client.query(`drop database if exists "${name}" with (force)`);
      pgDatabases.delete(name);
    }
  });
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...groups].map((c) => stopGroup(c, 5_000)));
    await dropDatabases().catch((err: unknown) => log(`could not drop the bench databases: ${String(err)}`));
    if (!o.keep) fs.rmSync(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('exit', () => {
  for (const c of groups) killGroup(c, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`\n${signal}: stopping every process the bench started`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Runs a command to completion in its own group; rejects on a non-zero exit. */
async function runToEnd(command: string, argv: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(command, argv, { cwd: ROOT, env: env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  groups.add(child);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  groups.delete(child);
  if (code !== 0) throw new Error(`${command} ${argv.join(' ')} exited with ${code}`);
  return stdout;
}

// ---------------------------------------------------------------- /proc

/** The process that serves: the node process running `script` in the group led by `leader`. */
function serverPid(leader: number, script: string): number {
  for (const pid of [leader, ...descendants(leader)]) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (path.basename(cmd[0] ?? '') === 'node' && cmd.some((a) => a.endsWith(script))) return pid;
    } catch {
      /* exited meanwhile */
    }
  }
  throw new Error(`no process runs ${script} under ${leader}`);
}

/**
 * Waits until the whole machine has been nearly idle for a second (at most 7.5 % of one CPU busy),
 * or `quietWait` seconds; returns the busy share of the last second, in % of all CPUs.
 */
async function waitQuiet(): Promise<{ waitedS: number; busyPct: number }> {
  const t0 = performance.now();
  const ncpu = os.cpus().length;
  for (;;) {
    const a = busyJiffies().get('cpu')!;
    await sleep(1000);
    const busy = busyJiffies().get('cpu')! - a;
    const waitedS = (performance.now() - t0) / 1000;
    if (busy <= 15 || waitedS >= o.quietWait) return { waitedS, busyPct: busy / ncpu };
  }
}

/**
 * Reads the files (and their WALs) through the page cache from the load generator's CPU; returns
 * the seconds it took (--cached-files).
 */
function readIntoCache(files: string[]): number {
  const t0 = performance.now();
  const present = files.flatMap((f) => [f, `${f}-wal`]).filter((f) => fs.existsSync(f));
  execFileSync('taskset', ['-c', WRK_CPU, 'sh', '-c', 'cat "$@" > /dev/null', 'sh', ...present]);
  return (performance.now() - t0) / 1000;
}

/** How long a server may take to finish what a run left it (see `waitDrained`). */
const DRAIN_LIMIT_S = 180;

/**
 * Waits until `server` has used at most 5 % of a CPU for a second, or DRAIN_LIMIT_S seconds;
 * returns the seconds waited and the CPU the server used meanwhile. When wrk stops it closes its connections, but a server answers the
 * requests it has already read: the ideal server's FTS5 search takes ~0.5 s at 1M tickets, so 32
 * connections leave it ~16 s of searches that would otherwise run inside the next path's round
 * (at --quiet-wait 5 its create answered nothing). The same wait lets NexusCore finish the work a
 * round of writes leaves behind; the time is recorded per run (`drain_s`).
 */
async function waitDrained(server: Server): Promise<{ waitedS: number; cpuMs: number }> {
  const t0 = performance.now();
  const cpu0 = cpuMs(server.pid, { children: true });
  for (;;) {
    const a = cpuMs(server.pid, { children: true });
    await sleep(1000);
    const b = cpuMs(server.pid, { children: true });
    const waitedS = (performance.now() - t0) / 1000;
    if (b - a <= 50 || waitedS >= DRAIN_LIMIT_S) return { waitedS, cpuMs: b - cpu0 };
  }
}

// ---------------------------------------------------------------- servers

interface Server {
  target: Target;
  child: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
}

async function waitHealthy(port: number, child: ChildProcess, started: number, what: string): Promise<number> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before answering /healthz`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return performance.now() - started;
    if (performance.now() - started > 300_000) throw new Error(`${what} did not answer /healthz within 300 s`);
    await sleep(5);
  }
}

interface Seeded {
  n: number;
  dir: string;
  nexusDataDir: string;
  idealDb: string;
  nexusUrl?: string;
  idealUrl?: string;
}

/** The node flags of `npm start` (package.json's start script), for the runs that start node directly. */
function startNodeFlags(): string[] {
  const start: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const words = start.trim().split(/\s+/);
  if (words[0] !== 'node' || words.at(-1) !== 'dist/main.js') throw new Error(`npm start is no longer "node … dist/main.js": ${start}`);
  return words.slice(1, -1);
}

/** Starts NexusCore as `npm start` does, pinned; returns the server and the time to the first /healthz 200. */
async function startNexus(seed: Seeded, extraNodeArgs: string[] = []): Promise<{ server: Server; startMs: number }> {
  const port = await freePort();
  const logFile = path.join(seed.dir, `nexus-${port}.log`);
  const env = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    NEXUS_DATA_DIR: seed.nexusDataDir,
    NEXUS_ADMIN_TOKEN: ADMIN_TOKEN,
    DATABASE_URL: seed.nexusUrl ?? '',
    // The limiter stays on (its cost is part of every request) but with a quota no run can reach:
    // the default, 1000 per 10 s per token, would cap 20 brand tokens at 2000 req/s.
    NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000',
  };
  const started = performance.now();
  // The profiled run starts node directly: npm would pass --cpu-prof to its own processes too.
  const child = extraNodeArgs.length
    ? spawnGroup('taskset', ['-c', SERVER_CPU, process.execPath, ...startNodeFlags(), ...extraNodeArgs, 'dist/main.js'], { env, stdout: logFile })
    : spawnGroup('taskset', ['-c', SERVER_CPU, 'npm', 'start', '--silent'], { env, stdout: logFile });
  const startMs = await waitHealthy(port, child, started, 'NexusCore');
  return { server: { target: 'nexus', child, pid: serverPid(child.pid!, 'dist/main.js'), port, logFile }, startMs };
}

async function startIdeal(seed: Seeded): Promise<{ server: Server; startMs: number }> {
  const port = await freePort();
  const logFile = path.join(seed.dir, `ideal-${port}.log`);
  const env = { ...process.env, PORT: String(port), DB: seed.idealDb, DATABASE_URL: seed.idealUrl ?? '' };
  const started = performance.now();
  const child = spawnGroup('taskset', ['-c', SERVER_CPU, process.execPath, 'bench/http/ideal-server.mjs'], { env, stdout: logFile });
  const startMs = await waitHealthy(port, child, started, 'the ideal server');
  return { server: { target: 'ideal', child, pid: serverPid(child.pid!, 'bench/http/ideal-server.mjs'), port, logFile }, startMs };
}

/**
 * NexusCore loads its search indexes in the background after listening: waits for that to finish.
 * Returns how long it took from the call, in ms (undefined: not reported within 15 min).
 */
async function waitWarmedUp(server: Server): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < 900_000) {
    const text = fs.readFileSync(server.logFile, 'utf8');
    if (/search indexes warmed up|search warm-up failed/.test(text)) return performance.now() - t0;
    if (server.child.exitCode !== null) throw new Error('NexusCore exited during its warm-up');
    await sleep(200);
  }
  log('  (NexusCore did not report its search warm-up within 15 min; measuring anyway)');
  return undefined;
}

/** Starts `startups` times (keeping the last one running); returns it and the start-up times. */
async function startTimed(start: () => Promise<{ server: Server; startMs: number }>): Promise<{ server: Server; times: number[] }> {
  const times: number[] = [];
  for (let i = 0; ; i++) {
    await waitQuiet();
    const { server, startMs } = await start();
    times.push(startMs);
    if (i === o.startups - 1) return { server, times };
    await stopGroup(server.child, 25_000, server.pid);
  }
}

/**
 * Moves a server's log out of the way after a run: error-level lines (pino level >= 50) are counted
 * and copied to `errorsFile`, the rest (an access line per request) is dropped by truncating the
 * file, which the server appends to (O_APPEND), so that a long soak cannot fill the disk. Returns
 * the count and the `ms` of the access lines logged within `window` (Fastify's elapsed time, from
 * the request's start to its response's end).
 */
function drainLog(server: Server, errorsFile: string, window: { from: number; to: number }): { errors: number; serverMs: number[] } {
  const fd = fs.openSync(server.logFile, 'r');
  const buf = Buffer.alloc(1 << 20);
  let rest = '';
  let errors = 0;
  const serverMs: number[] = [];
  try {
    for (let n: number; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const lines = (rest + buf.toString('utf8', 0, n)).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (/"level":(50|60)/.test(line)) {
          errors++;
          fs.appendFileSync(errorsFile, `${line}\n`);
          continue;
        }
        const access = ACCESS_LINE.exec(line);
        if (!access) continue;
        const time = Number(access[1]);
        if (time >= window.from && time <= window.to) serverMs.push(Number(access[2]));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(server.logFile, 0);
  return { errors, serverMs };
}

/** An access line of NexusCore's log (src/app.ts): its time and `ms`. */
const ACCESS_LINE = /^\{"level":30,"time":(\d+),.*"ms":([\d.]+),"msg":"request"\}$/;

// ---------------------------------------------------------------- wrk

interface WrkResult {
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  err_connect: number;
  err_read: number;
  err_write: number;
  err_status: number;
  err_timeout: number;
}

interface Run extends WrkResult {
  n: number;
  target: Target;
  path: PathName | 'mixed';
  round: number;
  /** Server CPU time per request, in ms. */
  cpu_ms_per_req: number;
  /** CPU 0 time used by other processes during the run, in % of that CPU. */
  others_on_server_cpu_pct: number;
  machine_busy_before_pct: number;
  quiet_wait_s: number;
  /** Seconds after wrk's end until the server was idle again (`waitDrained`). */
  drain_s: number;
  /** The server's CPU ms in that time, per request of the run. */
  drain_cpu_ms_per_req: number;
  /** Seconds spent reading the server's files into the page cache before the run (--cached-files). */
  cache_read_s: number;
  /** Wall-clock ms of wrk's start and end (the run includes wrk building its requests). */
  started_at: number;
  ended_at: number;
  /**
   * NexusCore only: p50 and p99 of its own time per request (its access log's `ms`, from the
   * request's start to its response's end). wrk's figures add the wait before the server reads a
   * request: a connection's first one waits to be accepted, one connection a turn of the event loop.
   */
  server_p50_ms?: number;
  server_p99_ms?: number;
}

async function wrk(
  server: Server,
  script: string,
  durationS: number,
  inputs: { ids: string; tokens: string },
  rawFile: string,
): Promise<{ result: WrkResult; cpuPerReq: number; othersPct: number; startedAt: number; endedAt: number }> {
  const env = { ...process.env, BENCH_LUA_DIR: path.join(HERE, 'lua'), BENCH_IDS: inputs.ids, BENCH_TOKENS: inputs.tokens };
  const cpu0 = cpuMs(server.pid, { children: true });
  const j0 = busyJiffies().get(`cpu${SERVER_CPU}`)!;
  const startedAt = Date.now();
  const stdout = await runToEnd(
    'taskset',
    [
      '-c',
      WRK_CPU,
      'wrk',
      '-t1',
      `-c${o.connections}`,
      `-d${durationS}s`,
      '--timeout',
      '10s',
      '-s',
      path.join(HERE, 'lua', script),
      `http://127.0.0.1:${server.port}`,
    ],
    env,
  );
  const serverCpu = cpuMs(server.pid, { children: true }) - cpu0;
  const core0 = (busyJiffies().get(`cpu${SERVER_CPU}`)! - j0) * 10;
  const endedAt = Date.now();
  fs.writeFileSync(rawFile, stdout);
  const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const result = JSON.parse(line.slice('WRKJSON '.length)) as WrkResult;
  const othersPct = Math.min(100, Math.max(0, (100 * (core0 - serverCpu)) / (endedAt - startedAt)));
  return { result, cpuPerReq: serverCpu / Math.max(1, result.requests), othersPct, startedAt, endedAt };
}

// ---------------------------------------------------------------- seeding

/** A database URL on the bench's PostgreSQL server. */
function databaseUrl(name: string): string {
  const url = new URL(o.pgBase);
  url.pathname = `/${name}`;
  return url.toString();
}

const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/**
 * Creates a database (from `template` when given: a copy of it, made by PostgreSQL file by file).
 * It is dropped at the end unless `kept` (a --seeded seed's).
 */
async function createDatabase(name: string, options: { template?: string; kept?: boolean } = {}): Promise<string> {
  await withClient(async (client) => {
    if (options.kept) await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(`create database "${name}"${options.template ? ` template "${options.template}"` : ''}`);
    if (!options.kept) pgDatabases.add(name);
  });
  return databaseUrl(name);
}

async function databasesExist(names: string[]): Promise<boolean> {
  const found = await withClient((client) => client.query('select datname from pg_database where datname = any($1)', [names]));
  return found.rowCount === names.length;
}

async function vacuumAnalyze(url: string): Promise<void> {
  await withClient((client) => client.query('vacuum analyze'), url);
}

async function databaseBytes(seed: Seeded, target: Target): Promise<number> {
  const url = target === 'nexus' ? seed.nexusUrl : seed.idealUrl;
  if (url) {
    const size = await withClient((client) => client.query<{ n: string }>('select pg_database_size(current_database()) as n'), url);
    return Number(size.rows[0]!.n);
  }
  const file = target === 'nexus' ? path.join(seed.nexusDataDir, 'nexus.sqlite') : seed.idealDb;
  return [file, `${file}-wal`].reduce((s, f) => s + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
}

async function seedBoth(n: number): Promise<Seeded & { nexusSeedS: number; idealSeedS: number }> {
  const dir = path.join(o.seeded ?? workDir, `n${n}`);
  const secondsOf = (file: string) => (JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { seconds: number }).seconds;
  const seed: Seeded = { n, dir, nexusDataDir: path.join(dir, 'nexus-data'), idealDb: path.join(dir, 'ideal.sqlite') };
  // A kept PostgreSQL seed's databases are named after N alone, so that a later run finds them.
  const base = o.seeded ? `nexus_bench_seed_${n}` : `nexus_bench_http_${stamp.toLowerCase()}_${n}`;
  const databases = o.dialect === 'postgres' ? [`${base}_nexus`, `${base}_ideal`] : [];
  if (
    o.seeded &&
    ['product.seed.json', 'ideal.seed.json'].every((f) => fs.existsSync(path.join(dir, f))) &&
    (databases.length === 0 || (await databasesExist(databases)))
  ) {
    log(`== N = ${n.toLocaleString('en')}: reusing the seed in ${dir}${databases.length ? ` and the databases ${databases.join(', ')}` : ''}`);
    if (databases.length) {
      seed.nexusUrl = databaseUrl(databases[0]!);
      seed.idealUrl = databaseUrl(databases[1]!);
    }
    return { ...seed, nexusSeedS: secondsOf('product.seed.json'), idealSeedS: secondsOf('ideal.seed.json') };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  if (o.dialect === 'postgres') {
    seed.nexusUrl = await createDatabase(databases[0]!, { kept: Boolean(o.seeded) });
    seed.idealUrl = await createDatabase(databases[1]!, { kept: Boolean(o.seeded) });
  }
  log(`== N = ${n.toLocaleString('en')}: seeding NexusCore through its ticket service`);
  const nexusArgs = ['--import', 'tsx', 'bench/http/seed-product.ts', '--tickets', String(n), '--out', dir, '--data-dir', seed.nexusDataDir];
  if (seed.nexusUrl) nexusArgs.push('--database-url', seed.nexusUrl);
  log(`  ${(await runToEnd(process.execPath, nexusArgs)).trim()}`);
  log(`== N = ${n.toLocaleString('en')}: seeding the ideal server`);
  const idealArgs = [
    '--import',
    'tsx',
    'bench/http/seed-ideal.mjs',
    '--tickets',
    String(n),
    '--out',
    dir,
    ...(seed.idealUrl ? ['--database-url', seed.idealUrl] : ['--db', seed.idealDb]),
  ];
  log(`  ${(await runToEnd(process.execPath, idealArgs)).trim()}`);
  if (seed.nexusUrl && seed.idealUrl) {
    log('  vacuum analyze on both databases (what autovacuum would do soon after a bulk load)');
    await vacuumAnalyze(seed.nexusUrl);
    await vacuumAnalyze(seed.idealUrl);
  }
  for (const f of ['product.seed.json', 'ideal.seed.json']) fs.copyFileSync(path.join(dir, f), path.join(resultsDir, `n${n}-${f}`));
  return { ...seed, nexusSeedS: secondsOf('product.seed.json'), idealSeedS: secondsOf('ideal.seed.json') };
}

// ---------------------------------------------------------------- report helpers

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** The value at fraction `q` of the sorted values (nearest rank). */
const percentile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const ms = (x: number) => (x >= 100 ? fmt(x) : x >= 10 ? fmt(x, 1) : fmt(x, 2));
const mb = (bytes: number) => `${fmt(bytes / 1048576)} MB`;
const errorsOf = (r: WrkResult) => r.err_connect + r.err_read + r.err_write + r.err_status + r.err_timeout;

interface PathStats {
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
  errors: number;
}

function statsOf(runs: Run[]): PathStats | undefined {
  if (runs.length === 0) return undefined;
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50_ms)),
    p99: median(runs.map((r) => r.p99_ms)),
    cpu: median(runs.map((r) => r.cpu_ms_per_req)),
    errors: runs.reduce((s, r) => s + errorsOf(r), 0),
  };
}

function barCell(p: PathName, nexus: PathStats, ideal: Map<PathName, PathStats>): string {
  const bar = BARS[p];
  if (!bar) return '';
  const against = ideal.get(bar.against);
  const ratio = against ? nexus.rps / against.rps : NaN;
  const ratioOk = ratio >= bar.ratio;
  const p99Ok = nexus.p99 < bar.p99;
  const which = bar.against === p ? 'ideal' : `ideal ${bar.against.toUpperCase()}`;
  return `≥ ${bar.ratio}× ${which}: ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : `n/a (run ${bar.against})`} ${ratioOk ? '✓' : '✗'}; p99 < ${bar.p99} ms ${p99Ok ? '✓' : '✗'}`;
}

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() ? ' (src/ modified)' : '';
    return `${head}${dirty}`;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------- one N

const allRuns: Run[] = [];
const scaling = new Map<number, Map<string, number>>();

/**
 * The files the servers run on: a copy of a kept seed (--seeded), so that the runs' writes do not
 * pile up in it from one invocation to the next (a reused 10,000-ticket seed had grown to 66,000).
 * On PostgreSQL the copies are databases created with the seed's as templates.
 */
async function workingCopy<S extends Seeded>(seed: S): Promise<S> {
  if (!o.seeded) return seed;
  const dir = path.join(workDir, `n${seed.n}-run`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const nexusDataDir = path.join(dir, 'nexus-data');
  fs.cpSync(seed.nexusDataDir, nexusDataDir, { recursive: true });
  if (seed.nexusUrl && seed.idealUrl) {
    const run = `nexus_bench_http_${stamp.toLowerCase()}_${seed.n}`;
    const nexusUrl = await createDatabase(`${run}_nexus`, { template: databaseName(seed.nexusUrl) });
    const idealUrl = await createDatabase(`${run}_ideal`, { template: databaseName(seed.idealUrl) });
    return { ...seed, nexusDataDir, nexusUrl, idealUrl };
  }
  const idealDb = path.join(dir, 'ideal.sqlite');
  for (const suffix of ['', '-wal', '-shm']) if (fs.existsSync(seed.idealDb + suffix)) fs.copyFileSync(seed.idealDb + suffix, idealDb + suffix);
  // The copy's GBs sit dirty in the page cache until the kernel writes them back, for tens of
  // seconds at a million tickets, and each server's commits (an fsync each) wait behind that
  // writeback meanwhile: fsyncs of 0.3-0.6 s in the first commits and 1.2 s in a checkpoint were
  // measured. A server is not started on files it has just written: the copy is written out first.
  execFileSync('sync', ['-f', dir]);
  cacheCopyNotSeed(seed.nexusDataDir, nexusDataDir);
  cacheCopyNotSeed(path.dirname(seed.idealDb), dir);
  return { ...seed, nexusDataDir, idealDb };
}

/**
 * Leaves the copy's database files in the page cache and the seed's out of it. Copying reads the
 * seed and writes the copy, twice the data through the cache: at a million tickets (7.4 GB and the
 * ideal's 3 GB) more than this machine's ~11 GB of cache, so the servers started on a copy partly
 * evicted and read it from disk during the runs (GET's CPU per request fell round after round).
 * `dd iflag=nocache count=0` drops a file's cached pages; reading the copy once brings it back in.
 */
function cacheCopyNotSeed(seedDir: string, copyDir: string): void {
  for (const name of fs.readdirSync(seedDir)) {
    if (!/\.sqlite(-wal)?$/.test(name)) continue;
    execFileSync('dd', [`if=${path.join(seedDir, name)}`, 'iflag=nocache', 'count=0', 'status=none']);
    const copy = path.join(copyDir, name);
    if (!fs.existsSync(copy)) continue;
    const fd = fs.openSync(copy, 'r');
    const buffer = Buffer.allocUnsafe(16 << 20);
    try {
      while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}

async function benchAt(n: number): Promise<void> {
  const kept = await seedBoth(n);
  const seed = await workingCopy(kept);
  const inputs: Record<Target, { ids: string; tokens: string }> = {
    nexus: { ids: path.join(seed.dir, 'product.ids'), tokens: path.join(seed.dir, 'product.tokens') },
    ideal: { ids: path.join(seed.dir, 'ideal.ids'), tokens: path.join(seed.dir, 'ideal.tokens') },
  };
  const sizes = { nexus: await databaseBytes(seed, 'nexus'), ideal: await databaseBytes(seed, 'ideal') };

  log(`== N = ${n.toLocaleString('en')}: start-up (${o.startups}× each, the last one stays up)`);
  const nexus = await startTimed(() => startNexus(seed));
  // The rounds start once the search indexes are loaded: a server's first seconds are measured here.
  const warmUpMs = await waitWarmedUp(nexus.server);
  const ideal = await startTimed(() => startIdeal(seed));
  const servers: Record<Target, Server> = { nexus: nexus.server, ideal: ideal.server };
  const rawDir = path.join(resultsDir, `n${n}`);
  fs.mkdirSync(rawDir, { recursive: true });

  let nexusErrors = 0;
  const measure = async (target: Target, p: PathName | 'mixed', round: number, durationS: number): Promise<Run> => {
    const cacheReadS = o.cachedFiles ? readIntoCache(target === 'nexus' ? [path.join(seed.nexusDataDir, 'nexus.sqlite')] : [seed.idealDb]) : 0;
    const quiet = await waitQuiet();
    const { result, cpuPerReq, othersPct, startedAt, endedAt } = await wrk(
      servers[target],
      `${p}.lua`,
      durationS,
      inputs[target],
      path.join(rawDir, `${target}-${p}-${round}.txt`),
    );
    const drained = await waitDrained(servers[target]);
    const drainS = drained.waitedS;
    const run: Run = {
      ...result,
      n,
      target,
      path: p,
      round,
      cpu_ms_per_req: cpuPerReq,
      others_on_server_cpu_pct: othersPct,
      machine_busy_before_pct: quiet.busyPct,
      quiet_wait_s: quiet.waitedS,
      drain_s: drainS,
      drain_cpu_ms_per_req: drained.cpuMs / Math.max(1, result.requests),
      cache_read_s: cacheReadS,
      started_at: startedAt,
      ended_at: endedAt,
    };
    if (target === 'nexus') {
      const drained = drainLog(servers.nexus, path.join(resultsDir, `n${n}-nexus-errors.log`), { from: startedAt, to: endedAt });
      nexusErrors += drained.errors;
      if (drained.serverMs.length) {
        run.server_p50_ms = percentile(drained.serverMs, 0.5);
        run.server_p99_ms = percentile(drained.serverMs, 0.99);
      }
    }
    fs.appendFileSync(path.join(resultsDir, 'runs.jsonl'), `${JSON.stringify(run)}\n`);
    const serverSide = run.server_p99_ms === undefined ? '' : ` (server-side p99 ${ms(run.server_p99_ms)} ms)`;
    if (round > 0)
      log(
        `  ${p.padEnd(6)} ${target.padEnd(5)} round ${round}: ${fmt(result.rps)} req/s, p50 ${ms(result.p50_ms)} ms, p99 ${ms(result.p99_ms)} ms${serverSide}, ${cpuPerReq.toFixed(2)} ms CPU/req, errors ${errorsOf(result)}, others on CPU ${SERVER_CPU}: ${othersPct.toFixed(0)} %${drainS >= 2 ? `, busy ${drainS.toFixed(0)} s after (${run.drain_cpu_ms_per_req.toFixed(2)} ms CPU/req of the run)` : ''}`,
      );
    return run;
  };

  log(`== N = ${n.toLocaleString('en')}: warm-up (${o.readWarmup} s per read path, ${o.warmup} s per write path, and server)`);
  for (const p of o.paths) for (const t of ['nexus', 'ideal'] as const) await measure(t, p, 0, warmupOf(p));
  const runs: Run[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    log(`== N = ${n.toLocaleString('en')}: round ${r} of ${o.rounds}`);
    const order: Target[] = r % 2 ? ['nexus', 'ideal'] : ['ideal', 'nexus'];
    for (const p of o.paths) for (const t of order) runs.push(await measure(t, p, r, o.duration));
  }
  allRuns.push(...runs);
  const mem = { nexus: memory(servers.nexus.pid), ideal: memory(servers.ideal.pid) };

  // ---- the table
  const stats = (t: Target) => new Map(o.paths.map((p) => [p, statsOf(runs.filter((r) => r.target === t && r.path === p))!] as const));
  const ns = stats('nexus');
  const is = stats('ideal');
  const scale = new Map<string, number>();
  out(`### ${o.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, ${n.toLocaleString('en')} tickets`);
  out();
  out(
    `Seeded through the ticket service in ${fmt(seed.nexusSeedS)} s (${fmt(n / seed.nexusSeedS)} tickets/s); ideal in ${fmt(seed.idealSeedS, 1)} s. Database size: NexusCore ${mb(sizes.nexus)}, ideal ${mb(sizes.ideal)}.`,
  );
  out(
    `Median of ${o.rounds} rounds of ${o.duration} s at ${o.connections} connections. CPU = the server process's CPU time per request; ` +
      '"ratio by CPU" = ideal CPU/req ÷ NexusCore CPU/req, what the req/s ratio would be with both servers CPU-bound on an otherwise idle core.',
  );
  out();
  out('| path | NexusCore req/s | p50 / p99 ms | CPU ms/req | ideal req/s | p50 / p99 ms | CPU ms/req | ratio | ratio by CPU | issue bar |');
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const p of o.paths) {
    const a = ns.get(p)!;
    const b = is.get(p)!;
    scale.set(`nexus:${p}`, a.rps);
    scale.set(`ideal:${p}`, b.rps);
    const err = (s: PathStats) => (s.errors ? ` (${s.errors} errors)` : '');
    out(
      `| ${LABEL[p]} | **${fmt(a.rps)}**${err(a)} | ${ms(a.p50)} / ${ms(a.p99)} | ${a.cpu.toFixed(2)} | ${fmt(b.rps)}${err(b)} | ${ms(b.p50)} / ${ms(b.p99)} | ${b.cpu.toFixed(2)} | **${(a.rps / b.rps).toFixed(2)}×** | ${(b.cpu / a.cpu).toFixed(2)}× | ${barCell(p, a, is)} |`,
    );
  }
  scaling.set(n, scale);
  const serverSide = o.paths
    .map((p) => {
      const ps = runs.filter((r) => r.target === 'nexus' && r.path === p && r.server_p99_ms !== undefined);
      return ps.length ? `${p} ${ms(median(ps.map((r) => r.server_p50_ms!)))} / ${ms(median(ps.map((r) => r.server_p99_ms!)))}` : undefined;
    })
    .filter(Boolean);
  if (serverSide.length) {
    out();
    out(
      `NexusCore's own p50 / p99 per request, ms (its access log: from a request's start to its response's end; wrk's figures add the wait to be read, for a connection's first request its wait to be accepted), median of the rounds: ${serverSide.join('; ')}.`,
    );
  }
  const drains = (t: Target) =>
    o.paths
      .map((p) => {
        const ps = runs.filter((r) => r.target === t && r.path === p);
        return `${p} ${fmt(Math.max(...ps.map((r) => r.drain_s)), 1)} s (${median(ps.map((r) => r.drain_cpu_ms_per_req)).toFixed(2)} ms CPU/req)`;
      })
      .join(', ');
  out();
  out(
    `How long each server stayed busy after a run's end (the requests wrk left in flight, work the server deferred; the next run waits for it), max of the rounds, and the CPU it used meanwhile per request of the run, median: NexusCore ${drains('nexus')}; ideal ${drains('ideal')}.`,
  );
  if (o.cachedFiles) {
    const reads = (t: Target) => fmt(median(runs.filter((r) => r.target === t).map((r) => r.cache_read_s)), 1);
    out();
    out(
      `--cached-files: each run began with its server's database read into the page cache, a median ${reads('nexus')} s for NexusCore's, ${reads('ideal')} s for the ideal's.`,
    );
  }
  const others = runs.map((r) => r.others_on_server_cpu_pct);
  out();
  out(
    `Other processes used CPU ${SERVER_CPU} (the servers' core) for a median ${fmt(median(others))} % (max ${fmt(Math.max(...others))} %) of the runs; load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')}.`,
  );
  out();
  out('| | NexusCore (`npm start`) | ideal | ratio |');
  out('|---|---:|---:|---:|');
  out(
    `| start-up to first 200 on /healthz, median of ${o.startups} (min) | ${fmt(median(nexus.times))} ms (${fmt(Math.min(...nexus.times))}) | ${fmt(median(ideal.times))} ms (${fmt(Math.min(...ideal.times))}) | ${(median(nexus.times) / median(ideal.times)).toFixed(2)}× |`,
  );
  out(`| search warm-up after that 200 (no load) | ${warmUpMs === undefined ? 'not reported' : `${fmt(warmUpMs)} ms`} | — | |`);
  out(
    `| RSS at the end of the runs (peak) | ${fmt(mem.nexus.rssMb)} MB (${fmt(mem.nexus.hwmMb)}) | ${fmt(mem.ideal.rssMb)} MB (${fmt(mem.ideal.hwmMb)}) | ${(mem.nexus.rssMb / mem.ideal.rssMb).toFixed(2)}× |`,
  );

  if (o.soak && n === o.tickets[o.tickets.length - 1]) {
    log(`== N = ${n.toLocaleString('en')}: soak, ${o.soak} s of mixed load on NexusCore`);
    const before = memory(servers.nexus.pid);
    const sampler = setInterval(() => {
      try {
        fs.appendFileSync(path.join(resultsDir, `n${n}-soak-rss.txt`), `${new Date().toISOString()} ${memory(servers.nexus.pid).rssMb.toFixed(0)} MB\n`);
      } catch {
        /* the server is gone: the run reports it */
      }
    }, 30_000);
    let soak: Run;
    try {
      soak = await measure('nexus', 'mixed', 1, o.soak);
    } finally {
      clearInterval(sampler);
    }
    const after = memory(servers.nexus.pid);
    out(`| RSS after ${fmt(o.soak / 60, 1)} min of mixed load (peak); before it ${fmt(before.rssMb)} MB | ${fmt(after.rssMb)} MB (${fmt(after.hwmMb)}) | | |`);
    out();
    out(
      `Soak (45 % get, 20 % list, 5 % search, 10 % create, 10 % reply, 10 % patch): ${fmt(soak.rps)} req/s, p50 ${ms(soak.p50_ms)} ms, p99 ${ms(soak.p99_ms)} ms${soak.server_p99_ms === undefined ? '' : ` (NexusCore's own p99 ${ms(soak.server_p99_ms)} ms)`}, ${errorsOf(soak)} errors, ${soak.cpu_ms_per_req.toFixed(2)} ms CPU/req.`,
    );
  }
  out();
  if (nexusErrors)
    out(`NexusCore logged ${nexusErrors} error-level lines during the runs: ${path.relative(ROOT, path.join(resultsDir, `n${n}-nexus-errors.log`))}.`);

  await stopGroup(servers.nexus.child, 25_000, servers.nexus.pid);
  await stopGroup(servers.ideal.child, 25_000, servers.ideal.pid);

  for (const p of o.profile) {
    log(`== N = ${n.toLocaleString('en')}: CPU profile of NexusCore under the ${p} load`);
    const profDir = path.join(resultsDir, `n${n}-profile-${p}`);
    const { server } = await startNexus(seed, ['--cpu-prof', '--cpu-prof-dir', profDir]);
    await waitWarmedUp(server);
    servers.nexus = server;
    await measure('nexus', p, -1, warmupOf(p));
    const run = await measure('nexus', p, -2, o.duration);
    // A graceful stop: node writes the profile when the process exits.
    await stopGroup(server.child, 60_000, server.pid);
    const exitAt = Date.now();
    const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) {
      out(`(no profile written for ${p})`);
      continue;
    }
    // Only the measured run: the profile's clock ends at the exit, which we saw at exitAt.
    const profile = JSON.parse(fs.readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile;
    const window = { fromUs: profile.endTime - (exitAt - run.started_at) * 1000, toUs: profile.endTime - (exitAt - run.ended_at) * 1000 };
    const summary = summaryMarkdown(
      summarise(profile, 25, window),
      `NexusCore under the ${p} load (${o.dialect}, ${n.toLocaleString('en')} tickets; ${fmt(run.rps)} req/s while profiled, ${run.cpu_ms_per_req.toFixed(2)} ms CPU/req)`,
    );
    fs.writeFileSync(path.join(resultsDir, `n${n}-profile-${p}.md`), summary);
    out(summary);
  }

  await dropDatabases([...pgDatabases].filter((d) => d.endsWith(`_${n}_nexus`) || d.endsWith(`_${n}_ideal`)));
  if (!o.keep && !o.seeded) fs.rmSync(seed.dir, { recursive: true, force: true });
  if (seed !== kept && !o.keep) fs.rmSync(path.dirname(seed.nexusDataDir), { recursive: true, force: true });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  for (const tool of ['wrk', 'taskset']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      usage(`${tool} is not installed (apt-get install -y ${tool === 'wrk' ? 'wrk' : 'util-linux'})`);
    }
  }
  if (os.cpus().length < 2) usage('needs at least 2 CPUs: the servers on CPU 0, wrk on CPU 1');
  // What npm start's prestart would do on the first start: do it before anything is timed.
  execFileSync(process.execPath, ['bin/ensure-built.js'], { cwd: ROOT, stdio: 'inherit' });

  out('## HTTP: NexusCore against the ideal server');
  out();
  out(
    `\`npm run bench:http -- ${args.join(' ')}\` at ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, commit ${gitDescription()}; ` +
      `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; servers pinned to CPU ${SERVER_CPU}, wrk -t1 -c${o.connections} to CPU ${WRK_CPU}.`,
  );
  out();
  for (const n of o.tickets) await benchAt(n);

  if (o.tickets.length > 1) {
    const first = o.tickets[0]!;
    out(`### Scaling: req/s at each N ÷ req/s at ${first.toLocaleString('en')} (issue: every path loses at most 1.5× from 10k to 1M)`);
    out();
    out(
      `| path | ${o.tickets.map((n) => `NexusCore ${n.toLocaleString('en')}`).join(' | ')} | ${o.tickets.map((n) => `ideal ${n.toLocaleString('en')}`).join(' | ')} |`,
    );
    out(`|---|${o.tickets.map(() => '---:|').join('')}${o.tickets.map(() => '---:|').join('')}`);
    for (const p of o.paths) {
      const cells = (t: Target) =>
        o.tickets.map((n) => {
          const v = scaling.get(n)!.get(`${t}:${p}`)!;
          return `${fmt(v)} (${(v / scaling.get(first)!.get(`${t}:${p}`)!).toFixed(2)}×)`;
        });
      out(`| ${LABEL[p]} | ${[...cells('nexus'), ...cells('ideal')].join(' | ')} |`);
    }
    out();
    // Each N is measured minutes after the last, and a shared machine's speed drifts by tens of
    // percent meanwhile; the ideal server runs in the same rounds as NexusCore, so NexusCore's
    // ratio to it at each N carries no drift between the sizes.
    out(`### Scaling against the ideal of the same rounds: NexusCore ÷ ideal req/s at each N, and that ratio ÷ its value at ${first.toLocaleString('en')}`);
    out();
    out(`| path | ${o.tickets.map((n) => n.toLocaleString('en')).join(' | ')} |`);
    out(`|---|${o.tickets.map(() => '---:|').join('')}`);
    for (const p of o.paths) {
      const ratioAt = (n: number) => scaling.get(n)!.get(`nexus:${p}`)! / scaling.get(n)!.get(`ideal:${p}`)!;
      const cells = o.tickets.map((n) => `${ratioAt(n).toFixed(2)}× (${(ratioAt(n) / ratioAt(first)).toFixed(2)})`);
      out(`| ${LABEL[p]} | ${cells.join(' | ')} |`);
    }
    out();
  }
  log(`results: ${path.relative(ROOT, resultsDir)}/ (table.md, runs.jsonl, raw wrk output)`);
}

try {
  await main();
} catch (err) {
  // After CTRL-C the runs fail as their processes are stopped: that is not worth a stack trace.
  if (!cleaning) log(`bench:http failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
