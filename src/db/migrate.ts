import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely';
import { migrations as allMigrations } from './migrations/index.js';
import type { Database } from './schema.js';

export interface MigrationOutcome extends MigrationResultSet {
  /**
   * Migrations the database has that this release does not know, all named after its own last one:
   * a newer release migrated the database (docs/operations.md, "Upgrades and migrations").
   */
  newerApplied: string[];
}

/** A migration this release has never seen; being recorded as applied, it is never run. */
const appliedByNewerRelease: Migration = {
  up: async () => {
    throw new Error('a migration of a newer release cannot run here');
  },
};

/**
 * Brings the schema up to date with `migrations` (every migration of this release unless a test
 * says otherwise); safe to run on every start and from several processes.
 *
 * During a rolling upgrade, processes of the previous release keep running against the schema the
 * new one migrated, and may restart. Kysely's migrator refuses to start when the database has a
 * migration its list lacks ("corrupted migrations"); here, migrations a newer release applied
 * after every one of ours are accepted as that newer release's, and returned in `newerApplied`.
 * The expand/contract policy is what makes the old code safe on that schema. A migration we do not
 * know that sorts before one of ours is a different history, and still fails the start.
 */
export async function migrateToLatest(db: Kysely<Database>, migrations: Record<string, Migration> = allMigrations): Promise<MigrationOutcome> {
  const ours = Object.keys(migrations).sort();
  const last = ours.at(-1) ?? '';
  // Read before the migrator takes its lock: on SQLite the migrator holds the only write connection.
  // A newer process migrating at this very moment can still make this start fail once; the next succeeds.
  const newerApplied = (await appliedMigrationNames(db)).filter((name) => !(name in migrations) && name > last);
  const known = { ...migrations, ...Object.fromEntries(newerApplied.map((name) => [name, appliedByNewerRelease])) };
  const migrator = new Migrator({ db, provider: { getMigrations: async () => known } });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return { ...result, newerApplied };
}

async function appliedMigrationNames(db: Kysely<Database>): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === 'kysely_migration')) return [];
  // The table is Kysely's own, outside the schema types.
  const rows = await (db as unknown as Kysely<{ kysely_migration: { name: string } }>).selectFrom('kysely_migration').select('name').execute();
  return rows.map((r) => r.name);
}
