import { sql } from 'kysely';
import type { Dialect } from './open.js';
import type { Database, Db } from './schema.js';

/**
 * Runs `work`, statements that replace or delete secret values in `table`, so that the old bytes do
 * not stay readable in the database's files afterwards. An UPDATE leaves the old row's bytes
 * behind (SQLite: free space in the page and the WAL; PostgreSQL: a dead tuple), so a plain key
 * replaced by a sealed one could still be read from the file.
 *
 * - SQLite: `secure_delete` zeroes the freed space while `work` runs, and a TRUNCATE checkpoint
 *   copies the rewritten pages into the main file and empties the WAL (waiting up to the
 *   connection's busy timeout for readers of other processes).
 * - PostgreSQL: `VACUUM FULL` rewrites the table into a new file. Old WAL segments and backups
 *   may still hold the previous bytes until they are recycled; docs/attachments.md says so.
 *
 * Meant for rare, small rewrites (a one-time key upgrade), not the request path.
 */
export async function withSecureErase(db: Db, dialect: Dialect, table: keyof Database & string, work: () => Promise<void>): Promise<void> {
  if (dialect === 'sqlite') {
    const before = await sql<{ secure_delete: number }>`PRAGMA secure_delete`.execute(db);
    const previous = Number(before.rows[0]?.secure_delete ?? 0);
    await sql`PRAGMA secure_delete = ON`.execute(db);
    try {
      await work();
    } finally {
      await sql.raw(`PRAGMA secure_delete = ${previous === 1 ? 'ON' : previous === 2 ? 'FAST' : 'OFF'}`).execute(db);
    }
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
    return;
  }
  await work();
  await sql`VACUUM FULL ${sql.table(table)}`.execute(db);
}

/**
 * After rows were redacted or deleted (with `secure_delete` on, as every connection of
 * src/db/open.ts has it), makes the files hold only the new bytes. SQLite: a TRUNCATE checkpoint
 * copies the rewritten pages into the main file and empties the WAL, whose older frames still hold
 * the old rows; readers of other processes can hold it up, so it is retried until `deadlineMs`.
 * Returns false when the WAL could not be emptied by then (the next checkpoint overwrites it).
 * PostgreSQL: nothing is done here; old row versions stay in the table files until VACUUM
 * reclaims them and later writes reuse the space (VACUUM FULL rewrites the tables at once, under
 * an exclusive lock), and in WAL segments until they are recycled: docs/api.md says so.
 */
export async function flushErased(db: Db, dialect: Dialect, deadlineMs = 15_000): Promise<boolean> {
  if (dialect !== 'sqlite') return true;
  const until = Date.now() + deadlineMs;
  for (;;) {
    const { rows } = await sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
    if (Number(rows[0]?.busy ?? 0) === 0) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
