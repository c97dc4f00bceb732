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
