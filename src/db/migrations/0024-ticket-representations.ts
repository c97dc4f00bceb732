import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * `ticket_representations`: a ticket's fields and its conversation as the retrieve route writes
 * them (UTF-8 JSON), stored for one version of the ticket and one `shape` of the schemas and
 * views that wrote them (src/tickets/stored-representations.ts). A retrieve whose ticket is at
 * that version reads one row instead of the messages, attachments and audit trail, and serializes
 * nothing but the queue place. A derived table: dropping every row loses no data.
 *
 * A trigger keeps out any row that is not of the ticket's version as it stands when the row is
 * written: bytes made from an earlier version (read before a customer's erasure, stored after it)
 * never land, whichever process or release writes them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('ticket_representations')
    .ifNotExists()
    .addColumn('ticket_id', 'text', (c) => c.primaryKey())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('shape', 'text', (c) => c.notNull())
    .addColumn('fields', postgres ? 'bytea' : 'blob', (c) => c.notNull())
    .addColumn('conversation', postgres ? 'bytea' : 'blob', (c) => c.notNull())
    .execute();
  if (postgres) {
    // FOR SHARE waits for a transaction changing the ticket and then reads its version as committed.
    await sql`create function ticket_representations_current() returns trigger language plpgsql as $$
      begin
        perform 1 from tickets where id = new.ticket_id and version = new.version for share;
        if not found then return null; end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger ticket_representations_current before insert on ticket_representations
      for each row execute function ticket_representations_current()`.execute(db);
  } else {
    await sql`create trigger ticket_representations_current before insert on ticket_representations
      when not exists (select 1 from tickets where id = new.ticket_id and version = new.version)
      begin select raise(ignore); end`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ticket_representations').ifExists().execute();
  if (db.getExecutor().adapter instanceof PostgresAdapter) await sql`drop function if exists ticket_representations_current()`.execute(db);
}
