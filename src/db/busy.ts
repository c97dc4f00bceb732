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

/** PostgreSQL's codes for a connection the server ended or lost (class 08, admin and crash shutdown). */
const CONNECTION_LOST_CODES = new Set(['57P01', '57P02', '08000', '08003', '08006', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

/**
 * Whether a database error means the connection to PostgreSQL was lost: a server restart or
 * failover, an administrator ending the backend, the network. node-postgres raises some of these
 * without a code, only a message. The pool opens a fresh connection for the next statement, so the
 * API answers 503 with Retry-After, not a 500. Unlike busy, a write whose connection was lost while
 * it committed may have been applied: a client retries a POST with the same Idempotency-Key.
 */
export function isDatabaseConnectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string') return CONNECTION_LOST_CODES.has(e.code);
  return typeof e?.message === 'string' && /^(Connection terminated|Client has encountered a connection error)/.test(e.message);
}
