import type { Kysely } from 'kysely';
import type { DbOrTx } from '../schema.js';
import { recountView } from '../../views/count-store.js';

/**
 * Custom views' counters (issue 15): `view_counts` holds, per view and brand, how many tickets meet
 * the view's filters, moved by every ticket write in its own transaction (src/views/count-store.ts)
 * as `ticket_counts` is for the built-in views. The views that exist are counted here once each,
 * through the ticket indexes, with the same code that counts a view when it is created. And the
 * agent an audit entry's token belonged to (`actor_agent_id`, `actor_agent_name`): null on the
 * entries written before.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('view_counts')
    .addColumn('view_id', 'text', (c) => c.notNull())
    .addColumn('brand_id', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('view_counts_pk', ['view_id', 'brand_id'])
    .execute();
  // Audit entries name the agent behind the token (issue 15), beside the token they always named.
  await db.schema.alterTable('audit_entries').addColumn('actor_agent_id', 'text').execute();
  await db.schema.alterTable('audit_entries').addColumn('actor_agent_name', 'text').execute();
  const views = await db.selectFrom('views').select(['id', 'brand_id', 'filters']).execute();
  for (const view of views) await recountView(db as DbOrTx, view);
}
