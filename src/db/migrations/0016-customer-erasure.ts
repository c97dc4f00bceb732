import type { Kysely } from 'kysely';

/**
 * Erasure of a customer (issue 15, POST /v1/customers/{id}/erase): the customer row stays as a
 * tombstone (address and name replaced, notes and external id cleared) with the instant it was
 * erased, so that its id still answers and a second erasure is recognised as done.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('customers').addColumn('erased_at', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
