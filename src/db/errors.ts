/**
 * A unique-key or primary-key violation on either dialect: PostgreSQL's 23505, better-sqlite3's
 * SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY. Two requests that claim one key at once both pass a
 * check read first (PostgreSQL's READ COMMITTED sees neither's uncommitted row); the index decides,
 * and the loser is a 409, not a 500.
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
