import type { DbOrTx } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { type FieldError, validationError } from '../http/problem.js';
import * as store from './store.js';

/**
 * The brands among `ids` that exist and that `principal` may see; a null principal is the operator
 * (CLI, bootstrap), who sees every brand. One query whatever the number of ids, and ids outside the
 * principal's brands are not looked up: to the caller they are the same as missing ones.
 */
export async function visibleBrandIds(db: DbOrTx, principal: Principal | null, ids: readonly string[]): Promise<Set<string>> {
  const candidates = [...new Set(ids)].filter((id) => principal === null || canSeeBrand(principal, id));
  if (candidates.length === 0) return new Set();
  return new Set(await store.listExistingBrandIds(db, candidates));
}

/** Whether `id` names a brand that `principal` may see (null: the operator, who sees them all). */
export async function isVisibleBrand(db: DbOrTx, principal: Principal | null, id: string): Promise<boolean> {
  return (await visibleBrandIds(db, principal, [id])).has(id);
}

/**
 * The field error for a brand a request names but may not use. It reads the same whether the brand
 * is missing or belongs to someone else, so an error never confirms that a hidden brand exists.
 * `shown` is the id as the message quotes it (a caller may shorten a hostile one).
 */
export const unknownBrand = (pointer: string, shown: string): FieldError => ({ pointer, message: `brand ${shown} does not exist` });

/** Throws the 422 of `unknownBrand` at `pointer` unless `id` names a brand that `principal` may see. */
export async function requireVisibleBrand(db: DbOrTx, principal: Principal | null, id: string, pointer: string, shown: string = id): Promise<void> {
  if (await isVisibleBrand(db, principal, id)) return;
  const error = unknownBrand(pointer, shown);
  throw validationError(error.pointer, error.message);
}
