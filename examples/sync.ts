/**
 * Mirrors every NexusCore ticket into a local file, incrementally: the first run copies them all,
 * each later run only what changed since. A warehouse loader would do the same with an UPSERT
 * instead of a JSON file. Plain fetch, no SDK; docs/sync.md explains each step.
 *
 *   NEXUS_URL=http://127.0.0.1:3000 NEXUS_TOKEN=nxc_… npx tsx examples/sync.ts mirror.json
 *
 * Prints one JSON line: {"fetched": n, "tickets": total in the mirror, "high_water": "…"}.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';

interface Ticket {
  id: string;
  updated_at: string;
  [field: string]: unknown;
}

interface Mirror {
  /** The latest `updated_at` stored: where the next run starts (one second before it). */
  high_water: string | null;
  tickets: Record<string, Ticket>;
}

const base = process.env.NEXUS_URL ?? 'http://127.0.0.1:3000';
const token = process.env.NEXUS_TOKEN;
const file = process.argv[2] ?? 'mirror.json';
if (!token) {
  console.error('usage: NEXUS_URL=… NEXUS_TOKEN=… npx tsx examples/sync.ts <mirror.json>');
  process.exit(2);
}

/** GET with the token; waits out 429 and 503 as Retry-After says, and fails loudly on anything else. */
async function get<T>(path: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(new URL(path, base), { headers: { authorization: `Bearer ${token}` } });
    if (res.ok) return (await res.json()) as T;
    if ((res.status === 429 || res.status === 503) && attempt < 10) {
      const seconds = Number(res.headers.get('retry-after') ?? '1');
      await new Promise((resolve) => setTimeout(resolve, (Number.isFinite(seconds) ? seconds : 1) * 1000));
      continue;
    }
    // A problem+json body says what was wrong (`detail`), e.g. a mistyped parameter.
    throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  }
}

async function load(): Promise<Mirror> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Mirror;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { high_water: null, tickets: {} };
    throw err;
  }
}

const mirror = await load();
// updated_after is exclusive and to the second, and a ticket written later may carry the same
// second as the high-water mark: start one second before it. What is read twice is the same
// ticket again, which an upsert absorbs.
const since = mirror.high_water ? new Date(Date.parse(mirror.high_water) - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
const query = new URLSearchParams({ sort: 'updated_at', limit: '100', ...(since ? { updated_after: since } : {}) });

let fetched = 0;
let after: string | null = null;
do {
  const page: { data: Ticket[]; next_cursor: string | null } = await get(`/v1/tickets?${query}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
  // In walk order: a ticket changed while we page comes again later, as it is now, and wins.
  for (const ticket of page.data) {
    mirror.tickets[ticket.id] = ticket;
    if (!mirror.high_water || ticket.updated_at > mirror.high_water) mirror.high_water = ticket.updated_at;
  }
  fetched += page.data.length;
  after = page.next_cursor;
} while (after);

// Written whole, then renamed: a run killed midway leaves the previous mirror, and reruns from it.
await writeFile(`${file}.tmp`, JSON.stringify(mirror));
await rename(`${file}.tmp`, file);
console.log(JSON.stringify({ fetched, tickets: Object.keys(mirror.tickets).length, high_water: mirror.high_water }));
