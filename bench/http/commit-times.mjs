/**
 * Times every SQLite COMMIT the process it is preloaded into runs (better-sqlite3: the statement's
 * run/all/get, or `exec`), and prints their distribution to stderr on SIGUSR2 (then starts
 * counting again) and at exit:
 *
 *   node --import ./bench/http/commit-times.mjs dist/main.js     (NEXUS_* settings as for npm start)
 *   kill -USR2 <pid>   # before a run: forget what came before
 *   kill -USR2 <pid>   # after it: `COMMITS n=… p50=… p90=… p99=… max=… total=…ms`
 *
 * better-sqlite3 runs a commit on the calling thread, so on the API's writer each commit (its WAL
 * writes and, with synchronous=FULL, its fsync) is time the event loop stands still: this shows
 * how much of a write path's tail that is. docs/benchmarks.md ("create's tail at a million") used it.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
const COMMIT = /^\s*commit\b/i;
let times = [];

const timed = (fn) =>
  function (...args) {
    const started = performance.now();
    try {
      return fn.apply(this, args);
    } finally {
      times.push(performance.now() - started);
    }
  };

const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (sql) {
  const statement = prepare.call(this, sql);
  if (COMMIT.test(sql)) for (const method of ['run', 'all', 'get']) statement[method] = timed(statement[method]);
  return statement;
};
const exec = Database.prototype.exec;
const timedExec = timed(exec);
Database.prototype.exec = function (sql) {
  return COMMIT.test(sql) ? timedExec.call(this, sql) : exec.call(this, sql);
};

function report() {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]?.toFixed(1);
  const total = sorted.reduce((sum, t) => sum + t, 0);
  process.stderr.write(
    `COMMITS n=${sorted.length} p50=${at(0.5)} p90=${at(0.9)} p99=${at(0.99)} max=${sorted.at(-1)?.toFixed(1)} total=${total.toFixed(0)}ms\n`,
  );
}
process.on('SIGUSR2', () => {
  report();
  times = [];
});
process.on('exit', report);
