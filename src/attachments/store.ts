import type { Insertable } from 'kysely';
import { prepareQuery } from '../db/prepared.js';
import type { AttachmentRow, AttachmentTable, DbOrTx } from '../db/schema.js';

export async function insertAttachment(db: DbOrTx, row: Insertable<AttachmentTable>): Promise<void> {
  await db.insertInto('attachments').values(row).execute();
}

export async function findAttachment(db: DbOrTx, id: string): Promise<AttachmentRow | undefined> {
  return db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findAttachments(db: DbOrTx, ids: string[]): Promise<AttachmentRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('attachments').selectAll().where('id', 'in', ids).execute();
}

/**
 * Takes the upload slot for one attempt, naming it by the blob key the attempt writes: true when
 * the row was pending, or uploading under a lease that has lapsed (the process running that
 * attempt died; rows from before leases have none). Conditional, so of two racing PUTs one wins.
 */
export async function claimUpload(db: DbOrTx, id: string, attempt: { storage_key: string; now: string; lease_expires_at: string }): Promise<boolean> {
  const result = await db
    .updateTable('attachments')
    .set({ status: 'uploading', storage_key: attempt.storage_key, upload_lease_expires_at: attempt.lease_expires_at })
    .where('id', '=', id)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'pending'),
        eb.and([eb('status', '=', 'uploading'), eb.or([eb('upload_lease_expires_at', 'is', null), eb('upload_lease_expires_at', '<=', attempt.now)])]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Keeps a running attempt's lease alive; false when the attempt no longer holds the slot. */
export async function extendUploadLease(db: DbOrTx, id: string, storageKey: string, leaseExpiresAt: string): Promise<boolean> {
  const result = await db
    .updateTable('attachments')
    .set({ upload_lease_expires_at: leaseExpiresAt })
    .where('id', '=', id)
    .where('status', '=', 'uploading')
    .where('storage_key', '=', storageKey)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives the slot back after a failed attempt, so the URL may be tried again until it expires. */
export async function releaseUpload(db: DbOrTx, id: string, storageKey: string): Promise<void> {
  await db
    .updateTable('attachments')
    .set({ status: 'pending', storage_key: null, upload_lease_expires_at: null })
    .where('id', '=', id)
    .where('status', '=', 'uploading')
    .where('storage_key', '=', storageKey)
    .execute();
}

/** Marks the attempt's blob as the attachment's bytes; false when the attempt lost the slot meanwhile. */
export async function completeUpload(
  db: DbOrTx,
  id: string,
  storageKey: string,
  fields: { size: number; sha256: string; uploaded_at: string },
): Promise<boolean> {
  const result = await db
    .updateTable('attachments')
    .set({ status: 'ready', upload_lease_expires_at: null, ...fields })
    .where('id', '=', id)
    .where('status', '=', 'uploading')
    .where('storage_key', '=', storageKey)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Links a ready, unlinked attachment of the ticket's brand (or of no brand yet) to a message.
 * Conditional, so two replies racing for one attachment cannot both get it.
 */
export async function linkAttachment(
  db: DbOrTx,
  id: string,
  to: { brand_id: string; ticket_id: string; message_id: string; linked_at: string },
): Promise<boolean> {
  const result = await db
    .updateTable('attachments')
    .set(to)
    .where('id', '=', id)
    .where('status', '=', 'ready')
    .where('message_id', 'is', null)
    .where((eb) => eb.or([eb('brand_id', '=', to.brand_id), eb('brand_id', 'is', null)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function listForMessages(db: DbOrTx, messageIds: string[]): Promise<AttachmentRow[]> {
  const out: AttachmentRow[] = [];
  // Bounded batches keep the statement under every dialect's parameter limit.
  for (let i = 0; i < messageIds.length; i += 500) {
    const batch = messageIds.slice(i, i + 500);
    out.push(...(await db.selectFrom('attachments').selectAll().where('message_id', 'in', batch).orderBy('id').execute()));
  }
  return out;
}

const linkedToTicket = prepareQuery((db, p: { ticketId: string }) =>
  db
    .selectFrom('attachments')
    .selectAll('attachments')
    .innerJoin('messages', 'messages.id', 'attachments.message_id')
    .where('messages.ticket_id', '=', p.ticketId)
    .orderBy('attachments.id'),
);

/** The attachments linked to any message of the ticket, by id (as `listForMessages` orders them). */
export async function listForTicket(db: DbOrTx, ticketId: string): Promise<AttachmentRow[]> {
  return linkedToTicket.all(db, { ticketId });
}

export async function listUnlinkedBefore(db: DbOrTx, before: string, limit: number): Promise<Pick<AttachmentRow, 'id' | 'storage_key'>[]> {
  return db
    .selectFrom('attachments')
    .select(['id', 'storage_key'])
    .where('message_id', 'is', null)
    .where('created_at', '<', before)
    .orderBy('created_at')
    .limit(limit)
    .execute();
}

/** Deletes the row only if it is still unlinked: a reply that linked it meanwhile wins. */
export async function deleteUnlinked(db: DbOrTx, id: string): Promise<boolean> {
  const result = await db.deleteFrom('attachments').where('id', '=', id).where('message_id', 'is', null).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
