import { createHash } from 'node:crypto';
import { AppError } from './problem.js';

/**
 * Pagination cursors are opaque to clients: base64url JSON naming the list they belong to, a
 * fingerprint of its filters, and the position (the last id seen, plus a sort key where the order
 * is not by id alone). A cursor from another list or other filters is refused instead of silently
 * returning the wrong page.
 */
interface CursorBody {
  v: 1;
  k: string;
  f: string;
  p: (string | number)[];
}

export function filterFingerprint(filters: Record<string, unknown>): string {
  const stable = Object.keys(filters)
    .filter((k) => filters[k] !== undefined && filters[k] !== null)
    .sort()
    .map((k) => [k, filters[k]]);
  return createHash('sha256').update(JSON.stringify(stable)).digest('base64url').slice(0, 12);
}

export function encodeCursor(kind: string, filters: Record<string, unknown>, position: (string | number)[]): string {
  const body: CursorBody = { v: 1, k: kind, f: filterFingerprint(filters), p: position };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeCursor(kind: string, filters: Record<string, unknown>, cursor: string): (string | number)[] {
  const invalid = (why: string) => new AppError('invalid_cursor', `The cursor ${why}; use a next_cursor value from this list`);
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw invalid('is malformed');
  let body: Partial<CursorBody>;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    throw invalid('is malformed');
  }
  if (!body || typeof body !== 'object' || body.v !== 1 || !Array.isArray(body.p)) throw invalid('is malformed');
  if (body.k !== kind) throw invalid('belongs to another list');
  if (body.f !== filterFingerprint(filters)) throw invalid('was issued for other filters');
  if (!body.p.every((x) => typeof x === 'string' || typeof x === 'number')) throw invalid('is malformed');
  return body.p;
}

/**
 * Turns `limit + 1` fetched rows into a page: the first `limit` rows, and a cursor built from the
 * last of them when the extra row shows there is more.
 */
export function pageOf<Row, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row, index: number) => Item,
  cursorOf: (last: Row, count: number) => string,
): { data: Item[]; next_cursor: string | null } {
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return {
    data: pageRows.map(toItem),
    next_cursor: rows.length > limit && last !== undefined ? cursorOf(last, pageRows.length) : null,
  };
}
