import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * `queues.waiting_version` changes whenever the set of tickets waiting in the queue, or the order
 * among them, may have changed: a ticket starts or stops waiting (open and unassigned), or a waiting
 * ticket changes priority, arrival number or queue. A queue position read at one version holds for
 * as long as the queue stays at that version, so a process may keep it (src/queues/place-cache.ts)
 * and skip the tree walk while the version read with the ticket's row still matches.
 *
 * Triggers on `tickets` keep it, not the code that writes tickets: every writer, a process of the
 * previous release during a rolling upgrade included, then moves the version with the row in the
 * same transaction. One trigger run per ticket row written; the `WHEN` (SQLite) or the first test
 * (PostgreSQL) skips the writes that change nothing a position depends on.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('queues')
    .addColumn('waiting_version', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`create function queues_waiting_changed() returns trigger language plpgsql as $$
      declare
        was_waiting boolean := tg_op <> 'INSERT' and old.status = 'open' and old.assigned_to is null;
        is_waiting boolean := tg_op <> 'DELETE' and new.status = 'open' and new.assigned_to is null;
      begin
        if not (was_waiting or is_waiting) then return null; end if;
        if tg_op = 'UPDATE' and was_waiting = is_waiting and old.priority_rank = new.priority_rank
           and old.queue_seq = new.queue_seq and old.queue_id = new.queue_id then return null; end if;
        update queues set waiting_version = waiting_version + 1
          where (was_waiting and id = old.queue_id) or (is_waiting and id = new.queue_id);
        return null;
      end $$`.execute(db);
    await sql`create trigger tickets_waiting_changed after insert or update or delete on tickets
      for each row execute function queues_waiting_changed()`.execute(db);
    return;
  }
  await sql`create trigger tickets_waiting_inserted after insert on tickets
    when new.status = 'open' and new.assigned_to is null
    begin update queues set waiting_version = waiting_version + 1 where id = new.queue_id; end`.execute(db);
  await sql`create trigger tickets_waiting_updated after update on tickets
    when ((old.status = 'open' and old.assigned_to is null) or (new.status = 'open' and new.assigned_to is null))
      and (old.status is not new.status or old.assigned_to is not new.assigned_to or old.priority_rank is not new.priority_rank
        or old.queue_seq is not new.queue_seq or old.queue_id is not new.queue_id)
    begin update queues set waiting_version = waiting_version + 1 where id in (old.queue_id, new.queue_id); end`.execute(db);
  await sql`create trigger tickets_waiting_deleted after delete on tickets
    when old.status = 'open' and old.assigned_to is null
    begin update queues set waiting_version = waiting_version + 1 where id = old.queue_id; end`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`drop trigger if exists tickets_waiting_changed on tickets`.execute(db);
    await sql`drop function if exists queues_waiting_changed()`.execute(db);
  } else {
    for (const name of ['tickets_waiting_inserted', 'tickets_waiting_updated', 'tickets_waiting_deleted'])
      await sql`drop trigger if exists ${sql.id(name)}`.execute(db);
  }
  await db.schema.alterTable('queues').dropColumn('waiting_version').execute();
}
