/**
 * What `secure_delete = ON` (src/db/open.ts, for erasure) costs ordinary writes: two SQLite files,
 * one with it on (as every connection now runs) and one with it turned off, the same work
 * alternating between them in rounds (bulk creates, then a reply to each ticket, which rewrites
 * its row and its search entry: the deletes that secure_delete zeroes). Prints each one's rate and
 * the ratio. Not part of npm test.
 *
 *   node --import tsx bench/erasure/secure-delete.ts [--rounds 10 --batch 200]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, batch: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 10);
const BATCH = Number(values.batch ?? 200);

const admin = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin' as const], brandIds: null };
const variants = [];
for (const secureDelete of [true, false]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-secure-delete-'));
  const runtime = await openRuntime(loadConfig({ NEXUS_DATA_DIR: dir, NEXUS_LOG_LEVEL: 'silent' }));
  if (!secureDelete) await sql`PRAGMA secure_delete = OFF`.execute(runtime.db);
  const brand = await runtime.services.brands.create({ name: 'Bench' });
  variants.push({ name: secureDelete ? 'secure_delete ON ' : 'secure_delete OFF', dir, runtime, brand: brand.id, ms: 0, writes: 0 });
}
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of round % 2 ? [...variants].reverse() : variants) {
      const start = performance.now();
      const created = await v.runtime.services.tickets.createMany(
        admin,
        Array.from({ length: BATCH }, (_, i) => ({
          brand_id: v.brand,
          subject: `Order ${round}-${i} did not arrive`,
          description: `Customer ${i} asks where order ${round}-${i} is; it was sent a week ago and tracking shows nothing since`,
          customer: { email: `customer${i}@example.com`, name: `Customer ${i}` },
        })),
      );
      for (const t of created) {
        await v.runtime.services.tickets.addMessage(admin, t.id, { author_type: 'agent', body: 'We are looking into it and will write again tomorrow.' });
      }
      v.ms += performance.now() - start;
      v.writes += 2 * BATCH;
    }
  }
  for (const v of variants) console.log(`${v.name}: ${Math.round(v.writes / (v.ms / 1000))} writes/s (${v.writes} writes)`);
  console.log(`ratio ON ÷ OFF: ${(variants[0]!.writes / variants[0]!.ms / (variants[1]!.writes / variants[1]!.ms)).toFixed(2)}×`);
} finally {
  for (const v of variants) {
    await v.runtime.close();
    fs.rmSync(v.dir, { recursive: true, force: true });
  }
}
