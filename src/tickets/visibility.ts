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

/** `found` (a ticket's row, or a read that carries it) when the principal may see the ticket; otherwise the 404 above. */
export function visibleOrNotFound<T extends { brand_id: string } | { row: { brand_id: string } }>(
  principal: Principal | null,
  id: string,
  found: T | undefined,
): T {
  const brandId = found && ('row' in found ? found.row.brand_id : found.brand_id);
  if (brandId === undefined || (principal && !canSeeBrand(principal, brandId))) throw notFound('Ticket', id);
  return found!;
}
