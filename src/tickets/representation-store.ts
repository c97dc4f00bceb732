import type { DbOrTx } from '../db/schema.js';
import { prepareQuery, preparedForRows } from '../db/prepared.js';

/** A ticket's fields and conversation as UTF-8 JSON, for one version of the ticket and one shape (migration 0024). */
export type StoredRepresentation = {
  ticket_id: string;
  version: number;
  shape: string;
  fields: Buffer;
  conversation: Buffer;
};

const representationOf = prepareQuery((db, p: { id: string; version: number; shape: string }) =>
  db
    .selectFrom('ticket_representations')
    .select(['fields', 'conversation'])
    .where('ticket_id', '=', p.id)
    .where('version', '=', p.version)
    .where('shape', '=', p.shape),
);

/** The stored JSON of this version of the ticket in this shape; undefined when none is. */
export async function findRepresentation(
  db: DbOrTx,
  id: string,
  version: number,
  shape: string,
): Promise<Pick<StoredRepresentation, 'fields' | 'conversation'> | undefined> {
  return representationOf.first(db, { id, version, shape });
}

/** Stores each row, replacing whatever the ticket had stored: one representation a ticket. */
export const saveRepresentations = preparedForRows(
  ['ticket_id', 'version', 'shape', 'fields', 'conversation'],
  (db, rows: StoredRepresentation[]) =>
    db
      .insertInto('ticket_representations')
      .values(rows)
      .onConflict((oc) =>
        oc.column('ticket_id').doUpdateSet((eb) => ({
          version: eb.ref('excluded.version'),
          shape: eb.ref('excluded.shape'),
          fields: eb.ref('excluded.fields'),
          conversation: eb.ref('excluded.conversation'),
        })),
      ),
  16,
);

/** Drops the tickets' stored representations (a customer's erasure: no copy of what it redacts stays). */
export async function deleteRepresentations(db: DbOrTx, ticketIds: readonly string[]): Promise<void> {
  for (let i = 0; i < ticketIds.length; i += 500) {
    await db
      .deleteFrom('ticket_representations')
      .where('ticket_id', 'in', ticketIds.slice(i, i + 500))
      .execute();
  }
}
