import { PostgresAdapter } from 'kysely';
import type { DbOrTx } from './schema.js';

/** The SQL dialects the stores speak. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * The dialect a database or transaction speaks, for the few store functions whose SQL differs
 * (locking, notifications) and that are reached through callers that hold only a transaction.
 */
export function dialectOf(db: DbOrTx): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
