import { DEFAULT_MIGRATION_TABLE, sql } from 'kysely';
import type { Db } from './schema.js';
import { migrations } from './migrations/index.js';

/**
 * The migrations of this release the database has not run yet (by name, in order); empty when its
 * schema is current. Rejects when the database cannot be reached (or was never migrated).
 *
 * One read of Kysely's migration table (a row per migration), cheap enough for every readiness
 * probe: unlike the start (migrate.ts), it does not list the database's tables. A migration the
 * database ran and this release does not know (a newer release migrated it) is not pending, as
 * `migrateToLatest` accepts it too.
 */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const ran = await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(db);
  const done = new Set(ran.rows.map((r) => r.name));
  return Object.keys(migrations).filter((name) => !done.has(name));
}
