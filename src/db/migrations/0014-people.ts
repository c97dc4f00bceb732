import { type Kysely, sql } from 'kysely';
import { newId } from '../../shared/ids.js';

/**
 * People as resources (issue 15): agents, and the tokens that may belong to one; customers, one per
 * brand and e-mail address, with their ticket counts kept up to date by every ticket write; and the
 * pointer a merged ticket keeps to the ticket it was merged into. Customers are backfilled from the
 * tickets that exist, in pages, so the migration's memory does not grow with the data.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('agents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    // Stored trimmed and lower-cased: unique without regard to case.
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    // JSON array of brand ids; null: every brand.
    .addColumn('brand_ids', 'text')
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // Who works on a brand, for the assignment rule: one row per agent and brand, `*` for every brand.
  await db.schema
    .createTable('agent_brands')
    .addColumn('brand_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id'))
    .addPrimaryKeyConstraint('agent_brands_pk', ['brand_id', 'agent_id'])
    .execute();
  await db.schema.createIndex('agent_brands_agent').on('agent_brands').columns(['agent_id']).execute();

  await db.schema.alterTable('tokens').addColumn('agent_id', 'text').execute();
  await db.schema.alterTable('tickets').addColumn('merged_into', 'text').execute();

  await db.schema
    .createTable('customers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('brand_id', 'text', (c) => c.notNull().references('brands.id'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('external_id', 'text')
    .addColumn('notes', 'text')
    .addColumn('ticket_count', 'integer', (c) => c.notNull())
    .addColumn('open_ticket_count', 'integer', (c) => c.notNull())
    .addColumn('last_activity_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('customers_brand_email').unique().on('customers').columns(['brand_id', 'email']).execute();
  await db.schema.createIndex('customers_brand_id').on('customers').columns(['brand_id', 'id']).execute();
  await db.schema.createIndex('customers_email_id').on('customers').columns(['email', 'id']).execute();

  await backfillCustomers(db);
}

const PAGE = 1000;

interface CustomerTally {
  brand_id: string;
  email: string;
  name: string | null;
  ticket_count: number;
  open_ticket_count: number;
  created_at: string;
  last_activity_at: string;
}

/**
 * One customer per (brand, customer e-mail) of the existing tickets, with counts and last activity
 * (the latest ticket creation or message). Tickets are read in pages along `tickets_customer_id`
 * (customer_email, id), so each address's tickets arrive together and the work is linear.
 */
export async function backfillCustomers(db: Kysely<any>): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  let pending = new Map<string, CustomerTally>();
  const flush = async (tallies: CustomerTally[]) => {
    for (let i = 0; i < tallies.length; i += 500) {
      await db
        .insertInto('customers')
        .values(
          tallies.slice(i, i + 500).map((c) => ({
            ...c,
            id: newId('cus', Date.parse(c.created_at) || Date.now()),
            external_id: null,
            notes: null,
            updated_at: now,
          })),
        )
        .execute();
    }
  };
  let after: { email: string; id: string } | undefined;
  for (;;) {
    let q = db
      .selectFrom('tickets')
      .select(['id', 'brand_id', 'customer_email', 'customer_name', 'status', 'created_at'])
      .orderBy('customer_email')
      .orderBy('id')
      .limit(PAGE);
    if (after) {
      const { email, id } = after;
      q = q.where((eb) => eb.or([eb('customer_email', '>', email), eb.and([eb('customer_email', '=', email), eb('id', '>', id)])]));
    }
    const tickets = await q.execute();
    if (tickets.length === 0) break;
    const lastMessages = new Map<string, string>(
      (
        await db
          .selectFrom('messages')
          .select(['ticket_id', sql<string>`max(created_at)`.as('at')])
          .where(
            'ticket_id',
            'in',
            tickets.map((t) => t.id),
          )
          .groupBy('ticket_id')
          .execute()
      ).map((r) => [r.ticket_id as string, r.at]),
    );
    const last = tickets[tickets.length - 1]!;
    // Every group of an address before the page's last one is complete: write those out.
    const done = [...pending.values()].filter((c) => c.email !== last.customer_email);
    if (done.length) {
      await flush(done);
      pending = new Map([...pending].filter(([, c]) => c.email === last.customer_email));
    }
    for (const t of tickets) {
      const key = `${t.brand_id}\n${t.customer_email}`;
      const activity = [t.created_at as string, lastMessages.get(t.id) ?? ''].sort().at(-1)!;
      const c = pending.get(key);
      const open = t.status === 'resolved' ? 0 : 1;
      if (!c) {
        pending.set(key, {
          brand_id: t.brand_id,
          email: t.customer_email,
          name: t.customer_name,
          ticket_count: 1,
          open_ticket_count: open,
          created_at: t.created_at,
          last_activity_at: activity,
        });
        continue;
      }
      c.ticket_count++;
      c.open_ticket_count += open;
      c.name ??= t.customer_name;
      if (activity > c.last_activity_at) c.last_activity_at = activity;
    }
    after = { email: last.customer_email, id: last.id };
  }
  await flush([...pending.values()]);
}
