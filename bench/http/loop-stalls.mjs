/**
 * Records the turns of the event loop longer than a threshold in the process it is preloaded into,
 * and prints them when the process stops, with the time its first HTTP server started listening:
 *
 *   node --import ./bench/http/loop-stalls.mjs dist/main.js     (NEXUS_* settings as for npm start)
 *
 * A 2-ms interval timer notes each gap between two of its runs longer than LOOP_STALL_MS (40):
 * the loop was busy for that long (requests, background work, garbage collection) before it
 * reached its timers again. When the process exits (NexusCore exits after SIGINT or SIGTERM once
 * its requests are done) it writes one JSON line to stderr:
 * `{"listeningAtMs":…,"t0MonotonicUs":…,"stalls":[[startMs, lengthMs], …]}`, times from the preload.
 * docs/benchmarks.md ("HTTP: what held the event loop besides requests") reads it so.
 */
import http from 'node:http';

const threshold = Number(process.env.LOOP_STALL_MS ?? 40);
const t0 = performance.now();
// The same instant on the monotonic clock, in µs: V8's CPU profiles (`--cpu-prof`) stamp their
// samples on it, so bench/http/stall-causes.ts can find each stall's samples.
const t0MonotonicUs = Number(process.hrtime.bigint() / 1000n);
const stalls = [];
let listeningAtMs = null;
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - last > threshold) stalls.push([Math.round(last - t0), Math.round(now - last)]);
  last = now;
}, 2).unref();

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    listeningAtMs ??= Math.round(performance.now() - t0);
  });
  return listen.apply(this, args);
};

process.on('exit', () => process.stderr.write(`${JSON.stringify({ listeningAtMs, t0MonotonicUs, stalls })}\n`));
