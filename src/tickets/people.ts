import type { DbOrTx, TicketRow } from '../db/schema.js';

/**
 * What the ticket service asks of the people modules (agents, customers), which `src/services.ts`
 * hands it: tickets never import them. Every method runs inside the ticket write's transaction, so
 * the customer counts commit with the change that moved them.
 */
export interface TicketPeople {
  /** Throws a 422 at `pointer` unless `email` may be assigned a ticket of `brandId`. */
  checkAssignee(db: DbOrTx, brandId: string, email: string, pointer: string): Promise<void>;
  /** New tickets: their customers are created or counted (one statement per customer of the batch). */
  ticketsCreated(db: DbOrTx, tickets: readonly TicketRow[]): Promise<void>;
  /** A ticket's status changed: its customer's open count follows. */
  ticketStatusChanged(db: DbOrTx, ticket: TicketRow, from: string, to: string): Promise<void>;
  /** A message was added: its customer's last activity moves, and a customer author is created if new. */
  messageAdded(
    db: DbOrTx,
    ticket: TicketRow,
    message: { author_type: string; author_email: string | null; author_name: string | null; created_at: string },
  ): Promise<void>;
}

/** For a service wired without them: any assignee is accepted and no customer is kept. */
export const noPeople: TicketPeople = {
  async checkAssignee() {},
  async ticketsCreated() {},
  async ticketStatusChanged() {},
  async messageAdded() {},
};
