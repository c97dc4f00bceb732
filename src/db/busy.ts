/**
 * Whether a database error means "busy, try again shortly" rather than a fault: SQLite's write
 * lock still held by another process when `busy_timeout` ran out (SQLITE_BUSY, SQLITE_LOCKED), or
 * PostgreSQL refusing for load (too many connections, starting up or shutting down, a lock not
 * available). Nothing of the refused statement was applied, so the client may retry as it is;
 * the API answers 503 with Retry-After instead of a 500.
 */
export function isDatabaseBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code === '53300' || code === '57P03' || code === '55P03';
}
