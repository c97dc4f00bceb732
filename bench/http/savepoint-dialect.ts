import { CompiledQuery, type DatabaseConnection, type Driver, SqliteDialect, type SqliteDialectConfig, SqliteDriver } from 'kysely';

/**
 * SQLite for Kysely where every transaction the code opens is a SAVEPOINT: inside an outer
 * BEGIN…COMMIT (or ROLLBACK) issued on the better-sqlite3 handle, many service transactions share
 * one commit, each keeping its all-or-nothing behaviour. Outside one, a savepoint is a transaction
 * of its own, as before.
 */
export class SavepointDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new SavepointDriver(this.#config);
  }
}

class SavepointDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('savepoint bench_item'));
  }
  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('release bench_item'));
  }
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback to bench_item'));
    await connection.executeQuery(CompiledQuery.raw('release bench_item'));
  }
}
