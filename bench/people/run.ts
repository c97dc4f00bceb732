/**
 * What keeping customers costs the bulk create (`tickets.createMany`, the seeding and import path):
 * the same batches through a ticket service wired without the people modules (the baseline, as
 * before customers existed) and through the real one, alternating, on one SQLite file. Prints
 * tickets/s of each and their ratio. Not part of npm test.
 *
 *   npm run bench:people [-- --tickets 20000 --batch 500 --customers 2000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openRuntime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { groupCommit } from '../../src/db/transactions.js';
import { cursorCodecFor } from '../../src/http/cursor-key.js';
import { systemClock } from '../../src/shared/clock.js';
import { type CreateTicketInput, createTicketService } from '../../src/tickets/service.js';

const { values } = parseArgs({ options: { tickets: { type: 'string' }, batch: { type: 'string' }, customers: { type: 'string' } } });
const TICKETS = Number(values.tickets ?? 20_000);
const BATCH = Number(values.batch ?? 500);
const CUSTOMERS = Number(values.customers ?? 2000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-bench-people-'));
const runtime = await openRuntime(loadConfig({ NEXUS_DATA_DIR: dir, NEXUS_LOG_LEVEL: 'silent' }));
try {
  const admin = { tokenId: 'tok_bench', tokenName: 'bench', scopes: ['admin' as const], brandIds: null };
  const brand = await runtime.services.brands.create({ name: 'Bench' });
  const withPeople = runtime.services.tickets;
  const baseline = createTicketService({
    db: runtime.db,
    clock: systemClock,
    cursors: cursorCodecFor({ db: runtime.db, clock: systemClock, secretBox: runtime.secretBox }),
    transactions: groupCommit(runtime.db),
    indexer: runtime.services.search.indexer,
  });
  let n = 0;
  const batch = (): CreateTicketInput[] =>
    Array.from({ length: BATCH }, () => {
      const i = n++;
      return {
        brand_id: brand.id,
        subject: `Order ${i} did not arrive`,
        description: `Customer ${i % CUSTOMERS} asks where order ${i} is`,
        customer: { email: `customer${i % CUSTOMERS}@example.com`, name: `Customer ${i % CUSTOMERS}` },
      };
    });
  const elapsed = { baseline: 0, people: 0 };
  // Alternating batches, so that both see the same growing tables and the same machine load.
  for (let done = 0; done < TICKETS; done += 2 * BATCH) {
    for (const [name, service] of [
      ['baseline', baseline],
      ['people', withPeople],
    ] as const) {
      const inputs = batch();
      const start = performance.now();
      await service.createMany(admin, inputs);
      elapsed[name] += performance.now() - start;
    }
  }
  const perVariant = TICKETS / 2;
  const rate = (ms: number) => Math.round(perVariant / (ms / 1000));
  const customers = await runtime.db
    .selectFrom('customers')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  console.log(
    `tickets per variant: ${perVariant}, batch ${BATCH}, addresses cycling over ${CUSTOMERS} (${Number(customers.n)} customers kept by the variant that keeps them)`,
  );
  console.log(`baseline (no customers kept): ${rate(elapsed.baseline)} tickets/s`);
  console.log(`with customers kept:          ${rate(elapsed.people)} tickets/s`);
  console.log(`ratio with ÷ baseline:        ${(rate(elapsed.people) / rate(elapsed.baseline)).toFixed(2)}×`);
} finally {
  await runtime.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
