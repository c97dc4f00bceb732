/**
 * `npm run bench:export`: the ticket export's speed and memory at growing sizes, to show that its
 * peak memory does not grow with the number of tickets.
 *
 * Seeds S tickets (`--seed`, default 2,000) once through the ticket service
 * (bench/http/seed-product.ts: 20 brands, a quarter of the tickets with an agent reply and a status
 * change), then for each N (default 10,000 and 100,000; `-- --tickets 10000,100000,1000000`):
 * 1. copies that data dir and repeats its tickets, messages, tags and audit entries with SQL until
 *    it holds N tickets (copy k's ids are the original's with `_k` appended).
 *    Seeding 100,000 through the service takes minutes on a quiet machine and hours on a loaded one;
 *    the export only reads, so copies of real rows measure the same thing;
 * 2. runs `nexus db migrate` on it: the CLI's own floor (Node, tsx, the runtime opened and closed);
 * 3. runs `nexus export --format jsonl` (and `--format csv` at the smallest N, or every N with
 *    `--csv-every-size`) on it, sampling the process's peak
 *    resident memory (VmHWM in /proc, read until it exits);
 * 4. starts the server on it and reads GET /v1/exports/tickets.jsonl to the end, sampling the
 *    server's peak memory before and after.
 * Prints tickets/s and peak RSS per N, and the ratios against the smallest N (1.0: flat) and
 * against the CLI's floor measured in the same run.
 *
 *   npm run bench:export [-- --tickets 10000,100000] [--keep]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { memory } from '../proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const SIZES = option('tickets', '10000,100000')
  .split(',')
  .map((s) => Number(s.replace(/_/g, '')));
const KEEP = process.argv.includes('--keep');
const SEED = Number(option('seed', '2000'));
/** The server's bootstrap admin token (NEXUS_ADMIN_TOKEN): the seeded database has only brand tokens. */
const ADMIN_TOKEN = `bench-export-${randomBytes(16).toString('hex')}`;

/** Copies the seeded data dir and repeats its rows until it holds `n` tickets (n a multiple of SEED). */
function amplified(base: string, n: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nexus-bench-export-${n}-`));
  fs.cpSync(base, dir, { recursive: true });
  const db = new SqliteDatabase(path.join(dir, 'nexus.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  // A page cache big enough for the indexes being extended: with SQLite's default 2 MiB, every
  // copied row misses on its index pages and the copy up to 1M takes about an hour.
  db.pragma('cache_size = -2097152');
  const renamed = (column: string, k: number) => `${column} || printf('_%06d', ${k})`;
  const ticketColumns = (db.prepare('select name from pragma_table_info(?)').all('tickets') as { name: string }[]).map((c) => c.name);
  const messageColumns = (db.prepare('select name from pragma_table_info(?)').all('messages') as { name: string }[]).map((c) => c.name);
  const auditColumns = (db.prepare('select name from pragma_table_info(?)').all('audit_entries') as { name: string }[]).map((c) => c.name);
  const select = (columns: string[], k: number, rename: Record<string, true>) => columns.map((c) => (rename[c] ? renamed(c, k) : c)).join(', ');
  db.exec('create temp table base_tickets as select id from tickets');
  const original = (column: string) => `${column} in (select id from base_tickets)`;
  for (let k = 1; k < n / SEED; k++) {
    db.transaction(() => {
      db.exec(`insert into tickets (${ticketColumns.join(', ')}) select ${select(ticketColumns, k, { id: true })} from tickets where ${original('id')}`);
      db.exec(`insert into ticket_tags (ticket_id, tag) select ${renamed('ticket_id', k)}, tag from ticket_tags where ${original('ticket_id')}`);
      db.exec(
        `insert into messages (${messageColumns.join(', ')}) select ${select(messageColumns, k, { id: true, ticket_id: true })} from messages where ${original('ticket_id')}`,
      );
      db.exec(
        `insert into audit_entries (${auditColumns.join(', ')}) select ${select(auditColumns, k, { id: true, ticket_id: true })} from audit_entries where ${original('ticket_id')}`,
      );
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  const count = (db.prepare('select count(*) as n from tickets').get() as { n: number }).n;
  db.close();
  if (count !== n) throw new Error(`amplified to ${count} tickets, expected ${n}`);
  return dir;
}

interface Measured {
  seconds: number;
  peakMb: number;
}

/** Runs a process to its end, sampling its peak resident memory every 20 ms while it lives. */
async function measured(args: string[], env: Record<string, string>): Promise<Measured> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NEXUS_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  const timer = setInterval(() => {
    try {
      // An exiting process (a zombie) has no VmHWM line any more: NaN, not a reading.
      const hwm = memory(child.pid!).hwmMb;
      if (Number.isFinite(hwm)) peak = Math.max(peak, hwm);
    } catch {
      /* exited */
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  return { seconds: (performance.now() - started) / 1000, peakMb: peak };
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The server on `dataDir`, its peak RSS once idle, and after streaming the whole export over HTTP. */
async function httpExport(dataDir: string, expected: number): Promise<{ idleMb: number; peakMb: number; seconds: number; lines: number }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NEXUS_DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      NEXUS_LOG_LEVEL: 'info',
      NEXUS_RATE_LIMIT: 'off',
      NEXUS_ADMIN_TOKEN: ADMIN_TOKEN,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The search indexes load in the background after start and take memory of their own: the idle
  // reading is taken once they have, so that the difference is the export's.
  let log = '';
  const warmed = new Promise<void>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('search indexes warmed up') || log.includes('search warm-up failed')) resolve();
    }),
  );
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error('the server exited');
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {
        /* not listening yet */
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** i, 500)));
    }
    await Promise.race([warmed, new Promise((resolve) => setTimeout(resolve, 300_000))]);
    const token = ADMIN_TOKEN;
    // Warm up (one small request through the route), then take the idle peak.
    await (await fetch(`${base}/v1/exports/tickets.jsonl?brand_id=none`, { headers: { authorization: `Bearer ${token}` } })).text();
    const idleMb = memory(child.pid!).hwmMb;
    const started = performance.now();
    const res = await fetch(`${base}/v1/exports/tickets.jsonl`, { headers: { authorization: `Bearer ${token}` } });
    let lines = 0;
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      for (const ch of decoder.decode(chunk, { stream: true })) if (ch === '\n') lines++;
    }
    const seconds = (performance.now() - started) / 1000;
    if (lines !== expected) throw new Error(`HTTP export returned ${lines} lines, expected ${expected}`);
    return { idleMb, peakMb: memory(child.pid!).hwmMb, seconds, lines };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
}

const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
console.log(
  `bench:export at ${new Date().toISOString()}, commit ${head}, ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}`,
);

const rows: string[] = [];
let first: { cli: number; server: number } | undefined;
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-export-seed-'));
process.stderr.write(`seeding ${SEED.toLocaleString('en')} tickets through the ticket service…\n`);
execFileSync(process.execPath, ['--import', 'tsx', 'bench/http/seed-product.ts', '--tickets', String(SEED), '--out', base, '--data-dir', base], {
  cwd: ROOT,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, NEXUS_LOG_LEVEL: 'silent' },
});
for (const n of SIZES) {
  if (n % SEED !== 0) throw new Error(`--tickets ${n} is not a multiple of --seed ${SEED}`);
  process.stderr.write(`copying rows up to ${n.toLocaleString('en')} tickets…\n`);
  const dir = amplified(base, n);
  try {
    const env = { NEXUS_DATA_DIR: dir };
    const floor = await measured(['bin/nexus.js', 'db', 'migrate'], env);
    const jsonl = await measured(['bin/nexus.js', 'export', '--format', 'jsonl', '--out', path.join(dir, 'out.jsonl')], env);
    // CSV reads the same pages; measured at the smallest size only, to keep the run short on a busy machine.
    const csv =
      n === SIZES[0] || process.argv.includes('--csv-every-size')
        ? await measured(['bin/nexus.js', 'export', '--format', 'csv', '--out', path.join(dir, 'out.csv')], env)
        : undefined;
    const fileMb = fs.statSync(path.join(dir, 'out.jsonl')).size / 1024 / 1024;
    const http = await httpExport(dir, n);
    first ??= { cli: jsonl.peakMb, server: http.peakMb };
    rows.push(
      `| ${n.toLocaleString('en')} | ${fileMb.toFixed(0)} MB | ${Math.round(n / jsonl.seconds)} | ${jsonl.peakMb.toFixed(0)} MB | ${csv ? `${csv.peakMb.toFixed(0)} MB` : '–'} | ${floor.peakMb.toFixed(0)} MB | ${(jsonl.peakMb / floor.peakMb).toFixed(2)}× | ${(jsonl.peakMb / first.cli).toFixed(2)}× | ${Math.round(n / http.seconds)} | ${http.idleMb.toFixed(0)} → ${http.peakMb.toFixed(0)} MB | ${(http.peakMb / first.server).toFixed(2)}× |`,
    );
    console.log(rows.at(-1));
  } finally {
    if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

fs.rmSync(base, { recursive: true, force: true });
console.log('');
console.log(
  '| tickets | jsonl file | CLI jsonl tickets/s | CLI jsonl peak RSS | CLI csv peak RSS | CLI floor (db migrate) | jsonl ÷ floor | jsonl ÷ smallest N | HTTP tickets/s | server peak RSS idle → after | server ÷ smallest N |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
