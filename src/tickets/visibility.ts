import type { DbOrTx, TicketRow } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { notFound } from '../http/problem.js';
import * as store from './store.js';

/**
 * The ticket, if it exists and the principal may see its brand (a null principal: the system sees
 * every ticket). Otherwise a 404, the same for another brand's ticket as for a missing one.
 */
export async function getVisibleRow(dbx: DbOrTx, principal: Principal | null, id: string): Promise<TicketRow> {
  const row = await store.findTicket(dbx, id);
  if (!row || (principal && !canSeeBrand(principal, row.brand_id))) throw notFound('Ticket', id);
  return row;
}
