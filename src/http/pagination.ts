import { Type } from 'typebox';
import type { Checked, CursorCodec, PositionCheck } from './cursor.js';
import { Cursor, Limit } from './types.js';

/*
 * How every list pages: the query brings `limit` and `after` (a `next_cursor` of the same list),
 * `readCursor` turns `after` into the position to continue from, the store fetches `limit + 1` rows
 * from there, and `pageOf` makes the page and the next cursor. The response schema is `pageSchema`
 * (types.ts); the cursor format is cursor.ts.
 */

/** One page of a list, as every list endpoint returns it. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** The query of a list with no filters of its own. */
export const PageQuery = Type.Object({ limit: Limit(100, 50), after: Type.Optional(Cursor) }, { additionalProperties: false });

/**
 * The position a list continues from: undefined without `after` (the first page), else the values
 * the cursor holds. A cursor that this server did not issue for the list `kind` under `filters`, or
 * whose values fail `checks`, is a 400 `invalid_cursor` problem.
 */
export async function readCursor<const T extends readonly PositionCheck<string | number>[]>(
  cursors: CursorCodec,
  kind: string,
  filters: Record<string, unknown>,
  after: string | undefined,
  checks: T,
): Promise<Checked<T> | undefined> {
  return after ? cursors.decode(kind, filters, after, checks) : undefined;
}

/**
 * Turns `limit + 1` fetched rows into a page: the first `limit` rows, and a cursor built from the
 * last of them when the extra row shows there is more.
 */
export async function pageOf<Row, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row, index: number) => Item,
  cursorOf: (last: Row, count: number) => Promise<string>,
): Promise<Page<Item>> {
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return {
    data: pageRows.map(toItem),
    next_cursor: rows.length > limit && last !== undefined ? await cursorOf(last, pageRows.length) : null,
  };
}
