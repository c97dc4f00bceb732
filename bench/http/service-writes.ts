/**
 * The writes of bench:http's create, reply and PATCH paths, made through the ticket service as
 * their routes make them, for the scripts that measure a write below HTTP (sql-profile.ts,
 * pg-write-cost.ts): one place for the bodies they send. The caller authenticates first, as a
 * route does, and decides what the write runs inside.
 */
import type { Principal } from '../../src/auth/scopes.js';
import type { Services } from '../../src/services.js';
import type { ticketGenerator } from './data.js';

export const WRITE_PATHS = ['create', 'reply', 'patch'] as const;
export type WritePath = (typeof WRITE_PATHS)[number];

export function isWritePath(path: string): path is WritePath {
  return (WRITE_PATHS as readonly string[]).includes(path);
}

/** The i-th write of `path`: on ticket `ticketId`, or for a create into brand `brandId`. */
export async function serviceWrite(
  services: Services,
  gen: ReturnType<typeof ticketGenerator>,
  path: WritePath,
  i: number,
  principal: Principal,
  ticketId: string,
  brandId: string,
): Promise<void> {
  if (path === 'create') await services.tickets.create(principal, { ...gen.next(i).body, brand_id: brandId });
  else if (path === 'reply') await services.tickets.addMessage(principal, ticketId, { author_type: 'agent', body: gen.sentence(25) });
  else await services.tickets.update(principal, ticketId, { priority: (['low', 'normal', 'high', 'urgent'] as const)[i % 4] });
}
