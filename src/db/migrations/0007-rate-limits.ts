import type { Kysely } from 'kysely';

// Migrations use `Kysely<any>` on purpose: they must keep compiling after the schema types move on.
export async function up(db: Kysely<any>): Promise<void> {
  // Request counts per rate-limit bucket and fixed window, merged from every server process on the
  // database (see src/http/rate-limiter.ts). Rows live two windows, then the sweep deletes them.
  await db.schema
    .createTable('rate_limit_counters')
    .addColumn('bucket', 'text', (c) => c.notNull())
    // Epoch milliseconds; bigint because they outgrow a 32-bit integer.
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_limit_counters_pk', ['bucket', 'window_start'])
    .execute();
  await db.schema.createIndex('rate_limit_counters_expires').on('rate_limit_counters').column('expires_at').execute();
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
