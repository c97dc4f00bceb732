/**
 * Scale-out bench: what a second API process and a second webhook worker buy on this machine.
 *
 *   npm run bench:scale -- [--tickets 10000] [--dialects sqlite,postgres] [--paths get,list,create]
 *                          [--duration 10s] [--warmup 3s] [--connections 32] [--rounds 1]
 *                          [--drain 3000] [--quiet-wait 10] [--database-url postgres://…/postgres] [--keep]
 *
 * Per dialect: seeds N tickets through the ticket service (bench/http/seed-product.ts, as bench:http
 * does), then for 1 and 2 processes starts the compiled server (`node dist/main.js`, NEXUS_PROCESSES=1
 * or 2; the background jobs in one process) and drives each path with wrk and bench/http's lua
 * scripts (`wrk -t1 -c<connections>`: a warm-up, then the measured run, each starting once the
 * machine is quiet or after --quiet-wait seconds). Nothing is pinned: the processes have both
 * cores, and share them with wrk and, on PostgreSQL, with the database server. Prints req/s, p50/p99
 * and the server processes' CPU per request for each, and the ratio 2 ÷ 1.
 *
 * On PostgreSQL, the webhook drain rate with 1 and 2 workers: a backlog of --drain ticket.created
 * events to one endpoint (a receiver in this process answering 200) is written through the ticket
 * service's bulk path with no worker running; then W `nexus worker` processes start, and the rate is
 * the deliveries received from the first to the last one. Duplicates are counted.
 *
 * Output: markdown tables on stdout, also saved under bench/scale/results/<timestamp>/ (gitignored)
 * with the raw wrk outputs and the servers' error lines. Every process it starts runs in a process
 * group of its own and is stopped on exit, error or CTRL-C; PostgreSQL databases it created are dropped.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Principal } from '../../src/auth/scopes.js';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { freePort } from '../../test/helpers/server-process.js';
import { ticketGenerator } from '../http/data.js';
import { busyJiffies, descendants, runningCpuMs } from '../proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = path.join(ROOT, 'bench/scale');
const LUA = path.join(ROOT, 'bench/http/lua');
const PATHS = ['get', 'list', 'create'] as const;
type PathName = (typeof PATHS)[number];
type DialectName = 'sqlite' | 'postgres';

const LABEL: Record<PathName, string> = {
  get: '`GET /v1/tickets/{id}`',
  list: '`GET /v1/tickets?brand_id=…&status=open&limit=20`',
  create: '`POST /v1/tickets` (~600 B)',
};

// ---------------------------------------------------------------- options

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n\n`);
  process.stderr.write(
    `${fs
      .readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('*/')[0]!
      .replace(/^\/\*\*\n/, '')
      .replace(/^ \* ?/gm, '')}\n`,
  );
  process.exit(message ? 2 : 0);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) usage();
function opt(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  return v === undefined || v.startsWith('--') ? '' : v;
}
const known = new Set(['tickets', 'dialects', 'paths', 'duration', 'warmup', 'connections', 'rounds', 'drain', 'quiet-wait', 'database-url', 'keep']);
for (const a of args) if (a.startsWith('--') && !known.has(a.slice(2))) usage(`unknown option ${a}`);

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text.trim());
  if (!m) usage(`not a duration: ${text} (e.g. 10s)`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

const o = {
  tickets: Number(opt('tickets') || 10_000),
  dialects: (opt('dialects') || 'sqlite,postgres').split(',') as DialectName[],
  paths: (opt('paths') || PATHS.join(',')).split(',') as PathName[],
  duration: seconds(opt('duration') || '10s'),
  warmup: seconds(opt('warmup') || '3s'),
  connections: Number(opt('connections') || 32),
  rounds: Math.max(1, Number(opt('rounds') || 1)),
  drain: Number(opt('drain') || 3000),
  quietWait: Number(opt('quiet-wait') || 10),
  pgBase: opt('database-url') || 'postgres://postgres@127.0.0.1:5432/postgres',
  keep: opt('keep') !== undefined,
};
for (const d of o.dialects) if (d !== 'sqlite' && d !== 'postgres') usage(`--dialects takes sqlite and/or postgres, not ${d}`);
for (const p of o.paths) if (!PATHS.includes(p)) usage(`unknown path ${p}; paths: ${PATHS.join(', ')}`);
if (!(o.tickets > 0 && o.connections > 0 && o.drain > 0)) usage('--tickets, --connections and --drain must be positive');

const ADMIN_TOKEN = `nxc_${'benchscale'.repeat(4)}`;
const SECRET_KEY = 'bench-scale-secret-key-0123456789abcdef0123456789';
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z');
const resultsDir = path.join(HERE, 'results', stamp);
fs.mkdirSync(resultsDir, { recursive: true });
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-scale-'));

const log = (line: string) => process.stderr.write(`${line}\n`);
const report: string[] = [];
function out(text = '') {
  report.push(text);
  process.stdout.write(`${text}\n`);
  fs.writeFileSync(path.join(resultsDir, 'table.md'), `${report.join('\n')}\n`);
}

// ---------------------------------------------------------------- processes

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const groups = new Set<ChildProcess>();
const pgDatabases = new Set<string>();

/** Spawns in a process group of its own, so that stopping it stops the processes it forks too. */
function spawnGroup(argv: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
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

/** SIGTERM to the group (each process finishes its requests), SIGKILL to what is left after `graceMs`. */
async function stopGroup(child: ChildProcess, graceMs = 30_000): Promise<void> {
  const pids = [child.pid!, ...descendants(child.pid!)];
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited(child);
  const deadline = performance.now() + graceMs;
  while (pids.some(alive) && performance.now() < deadline) await sleep(50);
  clearTimeout(timer);
  killGroup(child, 'SIGKILL');
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function createDatabase(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: o.pgBase });
  await client.connect();
  try {
    await client.query(`create database "${name}"`);
    pgDatabases.add(name);
  } finally {
    await client.end();
  }
  const url = new URL(o.pgBase);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabases(): Promise<void> {
  if (pgDatabases.size === 0) return;
  const client = new pg.Client({ connectionString: o.pgBase });
  await client.connect();
  try {
    for (const name of [...pgDatabases]) {
      await client.query(`drop database if exists "${name}" with (force)`);
      pgDatabases.delete(name);
    }
  } finally {
    await client.end();
  }
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

async function runToEnd(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  groups.add(child);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  groups.delete(child);
  if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}`);
  return stdout;
}

// ---------------------------------------------------------------- /proc

/** Waits until the machine has been nearly idle for a second (under 7.5 % of one CPU), or `quietWait` seconds. */
async function waitQuiet(): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const a = busyJiffies().get('cpu')!;
    await sleep(1000);
    const busy = busyJiffies().get('cpu')! - a;
    const waited = (performance.now() - t0) / 1000;
    if (busy <= 7.5 || waited >= o.quietWait) return busy / os.cpus().length;
  }
}

// ---------------------------------------------------------------- servers

interface Server {
  child: ChildProcess;
  port: number;
  logFile: string;
  processes: number;
}

async function startServer(dir: string, databaseUrl: string | undefined, processes: number): Promise<Server> {
  const port = await freePort();
  const logFile = path.join(dir, `server-${processes}p-${port}.log`);
  const env = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    NEXUS_DATA_DIR: path.join(dir, 'data'),
    DATABASE_URL: databaseUrl ?? '',
    NEXUS_ADMIN_TOKEN: ADMIN_TOKEN,
    NEXUS_SECRET_KEY: SECRET_KEY,
    NEXUS_PROCESSES: String(processes),
    // As bench:http: the limiter runs (its cost is part of every request) with a quota no run reaches.
    NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000',
  };
  const child = spawnGroup(['dist/main.js'], env, logFile);
  const started = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited while starting: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    const ready =
      processes === 1
        ? await fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          )
        : /"processes":\d+,[^\n]*"NexusCore is serving"/.test(fs.readFileSync(logFile, 'utf8'));
    if (ready) return { child, port, logFile, processes };
    if (performance.now() - started > 300_000) throw new Error('the server did not start within 300 s');
    await sleep(50);
  }
}

/** Error-level lines (pino level >= 50) go to `errorsFile`; the rest of the log is dropped so that it stays small. */
function drainLog(server: Server, errorsFile: string): number {
  const text = fs.readFileSync(server.logFile, 'utf8');
  fs.truncateSync(server.logFile, 0);
  const errors = text.split('\n').filter((l) => /"level":(50|60)/.test(l));
  if (errors.length) fs.appendFileSync(errorsFile, `${errors.join('\n')}\n`);
  return errors.length;
}

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
  dialect: DialectName;
  processes: number;
  path: PathName;
  round: number;
  cpu_ms_per_req: number;
  machine_busy_before_pct: number;
}

const errorsOf = (r: WrkResult) => r.err_connect + r.err_read + r.err_write + r.err_status + r.err_timeout;

async function wrk(server: Server, p: PathName, durationS: number, inputs: { ids: string; tokens: string }, rawFile: string) {
  const pids = [server.child.pid!, ...descendants(server.child.pid!)];
  const env = { ...process.env, BENCH_LUA_DIR: LUA, BENCH_IDS: inputs.ids, BENCH_TOKENS: inputs.tokens };
  const cpu0 = runningCpuMs(pids);
  const child = spawn(
    'wrk',
    ['-t1', `-c${o.connections}`, `-d${durationS}s`, '--timeout', '10s', '-s', path.join(LUA, `${p}.lua`), `http://127.0.0.1:${server.port}`],
    {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  groups.add(child);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  groups.delete(child);
  const cpu = runningCpuMs(pids) - cpu0;
  fs.writeFileSync(rawFile, stdout);
  const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}):\n${stdout}`);
  const result = JSON.parse(line.slice('WRKJSON '.length)) as WrkResult;
  return { result, cpuPerReq: cpu / Math.max(1, result.requests) };
}

// ---------------------------------------------------------------- report helpers

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const ms = (x: number) => (x >= 100 ? fmt(x) : x >= 10 ? fmt(x, 1) : fmt(x, 2));

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() ? ' (src/ modified)' : '';
    return `${head}${dirty}`;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------- HTTP req/s, 1 and 2 processes

async function benchHttp(dialect: DialectName): Promise<void> {
  const dir = path.join(workDir, dialect);
  fs.mkdirSync(dir, { recursive: true });
  const databaseUrl = dialect === 'postgres' ? await createDatabase(`nexus_bench_scale_${stamp.toLowerCase()}_http`) : undefined;
  log(`== ${dialect}: seeding ${o.tickets.toLocaleString('en')} tickets through the ticket service`);
  const seedArgs = ['--import', 'tsx', 'bench/http/seed-product.ts', '--tickets', String(o.tickets), '--out', dir, '--data-dir', path.join(dir, 'data')];
  if (databaseUrl) seedArgs.push('--database-url', databaseUrl);
  log(`  ${(await runToEnd(seedArgs, { ...process.env, NEXUS_SECRET_KEY: SECRET_KEY })).trim()}`);
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query('vacuum analyze');
    await client.end();
  }
  const inputs = { ids: path.join(dir, 'product.ids'), tokens: path.join(dir, 'product.tokens') };
  const rawDir = path.join(resultsDir, dialect);
  fs.mkdirSync(rawDir, { recursive: true });
  const runs: Run[] = [];
  let errors = 0;
  for (let round = 1; round <= o.rounds; round++) {
    // Odd rounds start with one process, even ones with two, so drift hits both alike.
    for (const processes of round % 2 ? [1, 2] : [2, 1]) {
      log(`== ${dialect}, round ${round}: ${processes} process${processes > 1 ? 'es' : ''}`);
      const server = await startServer(dir, databaseUrl, processes);
      try {
        for (const p of o.paths) {
          await waitQuiet();
          await wrk(server, p, o.warmup, inputs, path.join(rawDir, `${processes}p-${p}-warmup-${round}.txt`));
          errors += drainLog(server, path.join(resultsDir, `${dialect}-errors.log`));
          const busy = await waitQuiet();
          const { result, cpuPerReq } = await wrk(server, p, o.duration, inputs, path.join(rawDir, `${processes}p-${p}-${round}.txt`));
          errors += drainLog(server, path.join(resultsDir, `${dialect}-errors.log`));
          const run: Run = { ...result, dialect, processes, path: p, round, cpu_ms_per_req: cpuPerReq, machine_busy_before_pct: busy };
          runs.push(run);
          fs.appendFileSync(path.join(resultsDir, 'runs.jsonl'), `${JSON.stringify(run)}\n`);
          log(
            `  ${p.padEnd(6)} ${fmt(result.rps)} req/s, p50 ${ms(result.p50_ms)} ms, p99 ${ms(result.p99_ms)} ms, ${cpuPerReq.toFixed(2)} ms CPU/req, errors ${errorsOf(result)}`,
          );
        }
      } finally {
        await stopGroup(server.child);
      }
      errors += drainLog(server, path.join(resultsDir, `${dialect}-errors.log`));
    }
  }

  out(`### ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, ${o.tickets.toLocaleString('en')} tickets: 1 and 2 API processes`);
  out();
  out(
    `Median of ${o.rounds} round${o.rounds > 1 ? 's' : ''} of ${o.duration} s at ${o.connections} connections (wrk -t1). ` +
      `CPU = the server processes' CPU time per request (the primary's included${dialect === 'postgres' ? "; PostgreSQL's own is not" : ''}); ` +
      'cores = CPU × req/s, the cores the server processes kept busy.',
  );
  out();
  out('| path | 1 process req/s | p50 / p99 ms | CPU ms/req | cores | 2 processes req/s | p50 / p99 ms | CPU ms/req | cores | ratio 2 ÷ 1 |');
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of o.paths) {
    const of = (n: number) => runs.filter((r) => r.path === p && r.processes === n);
    const [one, two] = [of(1), of(2)];
    const rps = (rs: Run[]) => median(rs.map((r) => r.rps));
    const errs = (rs: Run[]) => {
      const e = rs.reduce((s, r) => s + errorsOf(r), 0);
      return e ? ` (${e} errors)` : '';
    };
    const cell = (rs: Run[]) => {
      const cpu = median(rs.map((r) => r.cpu_ms_per_req));
      return `**${fmt(rps(rs))}**${errs(rs)} | ${ms(median(rs.map((r) => r.p50_ms)))} / ${ms(median(rs.map((r) => r.p99_ms)))} | ${cpu.toFixed(2)} | ${((cpu * rps(rs)) / 1000).toFixed(2)}`;
    };
    out(`| ${LABEL[p]} | ${cell(one)} | ${cell(two)} | **${(rps(two) / rps(one)).toFixed(2)}×** |`);
  }
  out();
  out(
    `Load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' / ',
      )}.${errors ? ` The servers logged ${errors} error-level lines (${path.relative(ROOT, path.join(resultsDir, `${dialect}-errors.log`))}).` : " No error-level line in the servers' logs."}`,
  );
  out();
}

// ---------------------------------------------------------------- webhook drain, 1 and 2 workers

async function benchDrain(): Promise<void> {
  const dir = path.join(workDir, 'drain');
  fs.mkdirSync(dir, { recursive: true });
  const databaseUrl = await createDatabase(`nexus_bench_scale_${stamp.toLowerCase()}_drain`);
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    NEXUS_DATA_DIR: path.join(dir, 'data'),
    NEXUS_SECRET_KEY: SECRET_KEY,
    NEXUS_WEBHOOK_ALLOW_PRIVATE: '1',
    NEXUS_LOG_LEVEL: 'info',
  };

  // The receiver: answers 200 at once and notes each delivery's webhook-id and arrival.
  const arrivals: { id: string; at: number }[] = [];
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push({ id: String(req.headers['webhook-id']), at: performance.now() });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

  const runtime = await openRuntime(loadConfig({ ...env, NEXUS_LOG_LEVEL: 'silent' }));
  const results: { workers: number; rate: number; seconds: number; duplicates: number; errors: number }[] = [];
  try {
    const brand = await runtime.services.brands.create({ name: 'Drain' });
    const token = await runtime.services.tokens.create({ name: 'drain', scopes: ['admin'] });
    const principal: Principal = { tokenId: token.id, tokenName: token.name, scopes: token.scopes, brandIds: null };
    await runtime.services.webhooks.create(principal, { url: receiverUrl, events: ['ticket.created'] });
    const gen = ticketGenerator();
    let made = 0;

    for (const workers of [1, 2]) {
      log(`== postgres: webhook drain, ${o.drain.toLocaleString('en')} events, ${workers} worker${workers > 1 ? 's' : ''}`);
      // The backlog, with no worker running: each ticket's ticket.created waits in the outbox.
      for (let i = 0; i < o.drain; i += 100) {
        const bodies = Array.from({ length: Math.min(100, o.drain - i) }, () => ({ ...gen.next(made++).body, brand_id: brand.id }));
        await runtime.services.tickets.createMany(principal, bodies);
      }
      arrivals.length = 0;
      await waitQuiet();
      const logs = Array.from({ length: workers }, (_, k) => path.join(dir, `worker-${workers}w-${k}.log`));
      const children = logs.map((logFile) => spawnGroup(['--import', 'tsx', 'bin/nexus.js', 'worker'], env, logFile));
      const started = performance.now();
      try {
        while (new Set(arrivals.map((a) => a.id)).size < o.drain) {
          if (performance.now() - started > 900_000) throw new Error(`the workers delivered ${arrivals.length} of ${o.drain} within 15 min`);
          if (children.some((c) => c.exitCode !== null)) throw new Error('a worker exited during the drain');
          await sleep(100);
        }
      } finally {
        await Promise.all(children.map((c) => stopGroup(c)));
      }
      const first = arrivals[0]!.at;
      const last = arrivals.at(-1)!.at;
      const errors = logs.reduce(
        (s, f) =>
          s +
          fs
            .readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => /"level":(50|60)/.test(l)).length,
        0,
      );
      const result = {
        workers,
        rate: (arrivals.length - 1) / ((last - first) / 1000),
        seconds: (last - first) / 1000,
        duplicates: arrivals.length - new Set(arrivals.map((a) => a.id)).size,
        errors,
      };
      results.push(result);
      log(
        `  ${fmt(result.rate)} deliveries/s (${fmt(result.seconds, 1)} s from the first to the last), ${result.duplicates} duplicates, ${errors} error lines`,
      );
    }
  } finally {
    await runtime.close();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }

  out(`### PostgreSQL: webhook drain with 1 and 2 workers`);
  out();
  out(
    `A backlog of ${o.drain.toLocaleString('en')} \`ticket.created\` events to one endpoint (a receiver in the bench process answering 200), ` +
      'written with no worker running; then `nexus worker` processes (the dispatcher defaults: 64 requests in flight, 4 per endpoint), ' +
      'timed from the first delivery received to the last.',
  );
  out();
  out('| workers | deliveries/s | drain time | duplicates | error lines |');
  out('|---:|---:|---:|---:|---:|');
  for (const r of results) out(`| ${r.workers} | **${fmt(r.rate)}** | ${fmt(r.seconds, 1)} s | ${r.duplicates} | ${r.errors} |`);
  out();
  out(`Ratio 2 ÷ 1: **${(results[1]!.rate / results[0]!.rate).toFixed(2)}×**.`);
  out();
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  try {
    execFileSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' });
  } catch {
    usage('wrk is not installed (apt-get install -y wrk)');
  }
  // The server runs compiled, as `npm start` runs it: build what is missing or stale first.
  execFileSync(process.execPath, ['bin/ensure-built.js'], { cwd: ROOT, stdio: 'inherit' });
  out('## Scale-out: 1 and 2 processes');
  out();
  out(
    `\`npm run bench:scale${args.length ? ` -- ${args.join(' ')}` : ''}\` at ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, commit ${gitDescription()}; ` +
      `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; load average before the start ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')}.`,
  );
  out();
  for (const dialect of o.dialects) await benchHttp(dialect);
  if (o.dialects.includes('postgres')) await benchDrain();
  log(`results: ${path.relative(ROOT, resultsDir)}/ (table.md, runs.jsonl, raw wrk output)`);
}

try {
  await main();
} catch (err) {
  if (!cleaning) log(`bench:scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
