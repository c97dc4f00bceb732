/**
 * A second load generator for the create path, to check what wrk reports: `connections` Node
 * keep-alive clients (one socket each) POST tickets back to back for `seconds`, and every request's
 * latency is kept with the time it was sent, so the slowest can be placed in the run (start-up,
 * periodic, spread). Bodies like bench/http/lua/create.lua's without tags and metadata.
 *
 *   taskset -c 1 node bench/http/keepalive-client.mjs <port> <tokens file> [seconds 8] [connections 32]
 *
 * <tokens file>: the seeder's "<brand id> <token>" lines (DIR/n<N>/product.tokens of bench:http --seeded DIR),
 * against a server started on that seed's data (NEXUS_DATA_DIR=DIR/n<N>/nexus-data).
 */
import fs from 'node:fs';
import http from 'node:http';

const [port, tokensFile] = [Number(process.argv[2]), process.argv[3]];
const seconds = Number(process.argv[4] ?? 8);
const connections = Number(process.argv[5] ?? 32);
if (!port || !tokensFile) {
  console.error('usage: node bench/http/keepalive-client.mjs <port> <tokens file> [seconds] [connections]');
  process.exit(2);
}
const brands = fs
  .readFileSync(tokensFile, 'utf8')
  .trim()
  .split('\n')
  .map((line) => line.split(/\s+/));
const WORDS = 'order delivery refund account login password invoice billing charge card payment package tracking app error help'.split(' ');
const sentence = (n) => Array.from({ length: n }, () => WORDS[Math.floor(Math.random() * WORDS.length)]).join(' ');

const started = performance.now();
const samples = [];
async function client(c) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    while (performance.now() - started < seconds * 1000) {
      const [brand, token] = brands[Math.floor(Math.random() * brands.length)];
      const body = JSON.stringify({
        brand_id: brand,
        subject: sentence(6),
        description: sentence(40),
        priority: 'normal',
        customer: { email: `customer${Math.floor(Math.random() * 200_000)}@example.com`, name: 'Casey Jones' },
      });
      const sentAt = performance.now();
      const status = await new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v1/tickets',
            agent,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      samples.push({ c, at: sentAt - started, ms: performance.now() - sentAt, status });
    }
  } finally {
    agent.destroy();
  }
}
await Promise.all(Array.from({ length: connections }, (_, c) => client(c)));

samples.sort((a, b) => a.ms - b.ms);
const q = (p) => samples[Math.floor(p * (samples.length - 1))].ms.toFixed(1);
const statuses = [...new Set(samples.map((s) => s.status))].join(',');
console.log(
  `${samples.length} requests in ${seconds} s (${(samples.length / seconds).toFixed(0)} req/s), p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${samples.at(-1).ms.toFixed(1)} ms, statuses ${statuses}`,
);
console.log(
  `slowest (connection@sent: ms): ${samples
    .slice(-12)
    .map((s) => `c${s.c}@${(s.at / 1000).toFixed(2)}s: ${s.ms.toFixed(0)}`)
    .join(', ')}`,
);
