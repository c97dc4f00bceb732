import type { DbOrTx, TicketRow } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { notFound } from '../http/problem.js';
import * as store from './store.js';

/**
 * The ticket, if it exists and the principal may see its brand (a null principal: the system sees
 * every ticket). Otherwise a 404, the same for another brand's ticket as for a missing one.
 */
export async function getVisibleRow(dbx: DbOrTx, principal: Principal | null, id: string): Promise<TicketRow> {
  return visibleOrNotFound(principal, id, await store.findTicket(dbx, id));
}

/** The ticket's row when the principal may see it; otherwise the 404 above. */
export function visibleOrNotFound<T extends { brand_id: string }>(principal: Principal | null, id: string, row: T | undefined): T {
  if (!row || (principal && !canSeeBrand(principal, row.brand_id))) throw notFound('Ticket', id);
  return row;
}
