/**
 * Creates tickets through a running server from concurrent clients and prints creates/s and the
 * p50/p99 latency: what PostgreSQL's write path was measured with (docs/benchmarks.md, "HTTP on
 * PostgreSQL: writes batched, statements named"). The server is yours to start (e.g. `npm start`
 * with DATABASE_URL and NEXUS_ADMIN_TOKEN set, NEXUS_RATE_LIMIT_PER_TOKEN raised).
 *
 *   node bench/http/concurrent-creates.mjs --base http://127.0.0.1:3000 --token $NEXUS_ADMIN_TOKEN [--tickets 600] [--concurrency 24] [--warmup 100]
 *
 * It makes a brand of its own and sends `--warmup` creates from 4 clients before the timed ones.
 */
function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

const base = option('base');
const headers = { authorization: `Bearer ${option('token')}`, 'content-type': 'application/json' };
const tickets = Number(option('tickets', '600'));
const concurrency = Number(option('concurrency', '24'));
const warmup = Number(option('warmup', '100'));

const brandRes = await fetch(`${base}/v1/brands`, { method: 'POST', headers, body: JSON.stringify({ name: `Bench ${Date.now()}` }) });
if (brandRes.status !== 201) throw new Error(`creating the brand: ${brandRes.status} ${await brandRes.text()}`);
const brand = await brandRes.json();

/** Sends `n` creates from `clients` concurrent clients; resolves to each one's latency in ms. */
async function creates(n, clients) {
  let next = 0;
  const latencies = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        const i = next++;
        const started = performance.now();
        const res = await fetch(`${base}/v1/tickets`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            brand_id: brand.id,
            subject: `Printer ${i} is broken`,
            description: `The printer on floor ${i} is jammed and nothing prints at all today`,
            customer: { email: `bench${i}@example.com` },
          }),
        });
        const body = await res.text();
        if (res.status !== 201) throw new Error(`create ${i}: ${res.status} ${body}`);
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies;
}

await creates(warmup, 4);
const started = performance.now();
const latencies = (await creates(tickets, concurrency)).sort((a, b) => a - b);
const seconds = (performance.now() - started) / 1000;
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(0);
console.log(`${tickets} creates from ${concurrency} clients: ${(tickets / seconds).toFixed(0)}/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
