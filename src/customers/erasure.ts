import type { Static } from 'typebox';
import type { Updateable } from 'kysely';
import type { CustomerRow, Db, DbOrTx, MessageRow, MessageTable, TicketRow, TicketRowUpdate } from '../db/schema.js';
import type { Dialect } from '../db/open.js';
import type { Transactions } from '../db/transactions.js';
import { flushErased } from '../db/secure-erase.js';
import { type Actor, auditActorColumns, systemActor } from '../auth/scopes.js';
import { recordEvent } from '../events/outbox.js';
import { type Clock, toTimestamp } from '../shared/clock.js';
import { newId } from '../shared/ids.js';
import { clipPreview } from '../shared/message-preview.js';
import { fromJsonText, toJsonText } from '../shared/json.js';
import type { SecretBox } from '../shared/secret-box.js';
import { deleteRepresentations } from '../tickets/representation-store.js';
import * as tickets from '../tickets/store.js';
import * as store from './erasure-store.js';
import { findCustomer, updateCustomer } from './store.js';
import { type Redactor, createRedactor, likePatterns, tombstoneAddress } from './redaction.js';
import type { ErasureCountsSchema } from './schemas.js';

export type ErasureCounts = Static<typeof ErasureCountsSchema>;

export const zeroCounts = (): ErasureCounts => ({
  tickets: 0,
  messages: 0,
  attachments: 0,
  audit_entries: 0,
  events: 0,
  webhook_attempts: 0,
  inbound_emails: 0,
  outbox: 0,
  kept_responses: 0,
});

export interface ErasureDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  transactions: Transactions;
  secretBox: SecretBox;
  /** Re-indexes tickets for search in the caller's transaction (search/indexing.ts). */
  reindex(trx: DbOrTx, ticketIds: readonly string[]): Promise<number>;
  /** Rewrites the keyword index's storage so that no replaced text stays in it (SQLite FTS5 `optimize`). */
  purgeSearchText(): Promise<void>;
  /** Deletes blobs from the attachment store. */
  deleteBlobs(keys: readonly string[]): Promise<void>;
  /** Told when the WAL could not be emptied in time after an erasure (SQLite). */
  warn?: ((message: string) => void) | undefined;
}

/** Every row an erasure changes, with what it becomes: computed the same way for a dry run and the real one. */
interface ErasurePlan {
  redactor: Redactor;
  /** The tickets the person is part of: their names are redacted there too. */
  connected: Set<string>;
  /** Ticket id -> its new fields (may be empty: only its conversation changed). */
  tickets: Map<string, TicketRowUpdate>;
  messages: Map<string, Updateable<MessageTable>>;
  messageTickets: Map<string, string>;
  attachments: Map<string, { storage_key: string | null; ticket_id: string | null }>;
  audit: Map<string, { actor_name?: string; changes?: string }>;
  events: Map<string, string>;
  attempts: Map<string, { response_body?: string | null; error?: string | null }>;
  inbound: Map<string, { sender?: string | null; reason?: string | null; raw_storage_key?: null }>;
  /** Blobs of received mail that go with the inbound records (not attachments). */
  rawKeys: string[];
  outbox: string[];
  keptResponses: { token_id: string; key: string }[];
}

const countsOf = (p: ErasurePlan): ErasureCounts => ({
  tickets: ticketsTouched(p).length,
  messages: p.messages.size,
  attachments: p.attachments.size,
  audit_entries: p.audit.size,
  events: p.events.size,
  webhook_attempts: p.attempts.size,
  inbound_emails: p.inbound.size,
  outbox: p.outbox.length,
  kept_responses: p.keptResponses.length,
});

/** Tickets whose representation changes: their fields, a message, or an attachment. Sorted: the lock order. */
function ticketsTouched(p: ErasurePlan): string[] {
  const ids = new Set(p.tickets.keys());
  for (const ticketId of p.messageTickets.values()) ids.add(ticketId);
  for (const a of p.attachments.values()) if (a.ticket_id) ids.add(a.ticket_id);
  return [...ids].sort();
}

/** The new fields of a ticket row (`connected`: of a ticket the person is part of, so their names go too). */
function redactTicket(r: Redactor, t: TicketRow, connected: boolean): TicketRowUpdate {
  const set: TicketRowUpdate = {};
  if (r.isAddress(t.customer_email)) {
    set.customer_email = r.tombstone;
    set.customer_name = null;
  } else if (connected && r.isName(t.customer_name)) {
    set.customer_name = null;
  }
  const subject = r.text(t.subject, connected);
  if (subject !== t.subject) set.subject = subject;
  const description = r.text(t.description, connected);
  if (description !== t.description) set.description = description;
  const metadata = r.json(t.metadata, connected);
  if (metadata !== undefined) set.metadata = metadata;
  if (t.last_message_preview !== null) {
    // The replacement may be longer than what it replaces.
    const preview = clipPreview(r.text(t.last_message_preview, connected));
    if (preview !== t.last_message_preview) set.last_message_preview = preview;
  }
  return set;
}

/**
 * Erasing one customer: their address and name(s) redacted in every row of their brand that holds
 * them, their files deleted, their text re-indexed. See `erase` in service.ts for the contract.
 */
export function createCustomerErasure(deps: ErasureDeps) {
  const { db, clock } = deps;

  /**
   * What erasing `customer` changes, read through `dbx`. The names are every one the person went
   * by here (the customer's, their tickets', their messages'); found in a first pass, then looked
   * for. The address is redacted wherever it appears in the brand; the names only in the rows of
   * tickets the person is part of (theirs, ones they wrote in or were copied on, ones naming their
   * address), since elsewhere a name alone cannot be told from a namesake's.
   */
  async function plan(dbx: DbOrTx, customer: CustomerRow): Promise<ErasurePlan> {
    const email = customer.email;
    const brandId = customer.brand_id;
    let names = new Set([customer.name].filter((n): n is string => !!n));
    let ticketRows: TicketRow[] = [];
    let messageRows: MessageRow[] = [];
    // Names come from the rows found by the names known so far: two rounds suffice unless a new name appears.
    for (let round = 0; round < 4; round++) {
      const patterns = likePatterns([email, ...names]);
      ticketRows = await store.findTickets(dbx, brandId, email, patterns);
      messageRows = await store.findMessages(dbx, brandId, email, patterns);
      const more = new Set(names);
      for (const t of ticketRows) if (t.customer_email === email && t.customer_name) more.add(t.customer_name);
      for (const m of messageRows) if (m.author_email === email && m.author_name) more.add(m.author_name);
      if (more.size === names.size) break;
      names = more;
    }
    const r = createRedactor({ email, names: [...names], tombstone: tombstoneAddress(customer.id) });
    const patterns = likePatterns([email, ...r.names]);
    const auditRows = await store.findAuditEntries(dbx, brandId, patterns);
    const eventRows = await store.findEvents(dbx, brandId, patterns);
    const attemptRows = await store.findWebhookAttempts(dbx, brandId, patterns);

    // The tickets the person is part of.
    const connected = new Set<string>();
    for (const t of ticketRows) {
      if (t.customer_email === email || r.mentions(t.subject, false) || r.mentions(t.description, false) || r.mentions(t.metadata, false)) {
        connected.add(t.id);
      }
    }
    for (const m of messageRows) {
      const cc = fromJsonText<string[]>(m.cc, []);
      if (m.author_email === email || cc.some((a) => r.isAddress(a)) || r.mentions(m.body, false) || r.mentions(m.full_body, false)) {
        connected.add(m.ticket_id);
      }
    }
    for (const row of [...auditRows, ...eventRows]) {
      const text = 'changes' in row ? row.changes : row.data;
      if (row.ticket_id && r.mentions(text, false)) connected.add(row.ticket_id);
    }
    const isConnected = (ticketId: string | null | undefined) => !!ticketId && connected.has(ticketId);

    const p: ErasurePlan = {
      redactor: r,
      connected,
      tickets: new Map(),
      messages: new Map(),
      messageTickets: new Map(),
      attachments: new Map(),
      audit: new Map(),
      events: new Map(),
      attempts: new Map(),
      inbound: new Map(),
      rawKeys: [],
      outbox: [],
      keptResponses: [],
    };

    for (const t of ticketRows) {
      const set = redactTicket(r, t, isConnected(t.id));
      if (Object.keys(set).length) p.tickets.set(t.id, set);
    }
    const authored = new Set<string>();
    for (const m of messageRows) {
      const names = isConnected(m.ticket_id);
      const set: Updateable<MessageTable> = {};
      if (m.author_email === email) {
        authored.add(m.id);
        set.author_email = r.tombstone;
        set.author_name = null;
      } else if (names && r.isName(m.author_name)) {
        set.author_name = null;
      }
      const body = r.text(m.body, names);
      if (body !== m.body) set.body = body;
      if (m.full_body !== null) {
        const full = r.text(m.full_body, names);
        if (full !== m.full_body) set.full_body = full;
      }
      const cc = fromJsonText<string[]>(m.cc, []);
      const keptCc = cc.filter((a) => !r.isAddress(a));
      if (keptCc.length !== cc.length) set.cc = toJsonText(keptCc);
      if (m.delivery_last_error !== null) {
        const error = r.text(m.delivery_last_error, names);
        if (error !== m.delivery_last_error) set.delivery_last_error = error;
      }
      if (Object.keys(set).length) {
        p.messages.set(m.id, set);
        p.messageTickets.set(m.id, m.ticket_id);
      }
    }

    // Replies to them not sent yet: cancelled, as their address is gone.
    const theirs = ticketRows.filter((t) => t.customer_email === email).map((t) => t.id);
    p.outbox = await store.findOutboxOf(dbx, theirs);
    if (p.outbox.length) {
      const queued = new Map((await store.findMessagesByIds(dbx, p.outbox)).map((m) => [m.id, m]));
      for (const id of p.outbox) {
        const m = queued.get(id);
        if (!m) continue;
        p.messages.set(id, { ...p.messages.get(id), delivery_status: 'failed', delivery_last_error: 'not sent: the customer was erased' });
        p.messageTickets.set(id, m.ticket_id);
      }
    }

    // Files: everything on their messages; the raw mail (original.eml) of any message that held
    // their address or name, since it holds them too; any file named after them.
    const changedMessages = [...p.messages.keys()];
    for (const a of await store.findAttachmentsOf(dbx, changedMessages)) {
      if (authored.has(a.message_id!) || a.content_type === 'message/rfc822') p.attachments.set(a.id, { storage_key: a.storage_key, ticket_id: a.ticket_id });
    }
    for (const a of await store.findAttachmentsOf(dbx, [...authored])) p.attachments.set(a.id, { storage_key: a.storage_key, ticket_id: a.ticket_id });
    for (const a of await store.findAttachmentsNamed(dbx, brandId, patterns)) {
      if (r.mentions(a.file_name, isConnected(a.ticket_id) || a.ticket_id === null)) {
        p.attachments.set(a.id, { storage_key: a.storage_key, ticket_id: a.ticket_id });
      }
    }

    for (const a of auditRows) {
      const names = isConnected(a.ticket_id);
      const set: { actor_name?: string; changes?: string } = {};
      const actor = r.text(a.actor_name, names);
      if (actor !== a.actor_name) set.actor_name = actor;
      const changes = r.json(a.changes, names);
      if (changes !== undefined) set.changes = changes;
      if (Object.keys(set).length) p.audit.set(a.id, set);
    }
    for (const e of eventRows) {
      const data = r.json(e.data, isConnected(e.ticket_id));
      if (data !== undefined) p.events.set(e.id, data);
    }
    for (const a of attemptRows) {
      const names = isConnected(a.ticket_id);
      const set: { response_body?: string | null; error?: string | null } = {};
      if (a.response_body !== null) {
        const body = r.text(a.response_body, names);
        if (body !== a.response_body) set.response_body = body;
      }
      if (a.error !== null) {
        const error = r.text(a.error, names);
        if (error !== a.error) set.error = error;
      }
      if (Object.keys(set).length) p.attempts.set(a.id, set);
    }
    for (const m of await store.findInboundEmails(dbx, brandId, email, likePatterns([email]))) {
      const set: { sender?: string | null; reason?: string | null; raw_storage_key?: null } = {};
      if (r.isAddress(m.sender)) {
        set.sender = r.tombstone;
        if (m.raw_storage_key) {
          p.rawKeys.push(m.raw_storage_key);
          set.raw_storage_key = null;
        }
      }
      if (m.reason !== null) {
        const reason = r.text(m.reason, isConnected(m.ticket_id));
        if (reason !== m.reason) set.reason = reason;
      }
      if (Object.keys(set).length) p.inbound.set(m.id, set);
    }

    // Kept Idempotency-Key answers (24 h) are sealed, so only opening them tells which hold the person.
    let after: { token_id: string; key: string } | undefined;
    for (;;) {
      const page = await store.listKeptResponses(dbx, after, 500);
      for (const k of page) {
        if (!k.response_body) continue;
        let body: string;
        try {
          body = deps.secretBox.open(k.response_body);
        } catch {
          continue;
        }
        // Of this brand only: the same address in another brand is another customer.
        if (body.includes(JSON.stringify(brandId)) && r.mentions(body, true)) p.keptResponses.push({ token_id: k.token_id, key: k.key });
      }
      if (page.length < 500) break;
      after = page[page.length - 1]!;
    }
    return p;
  }

  /** Writes the plan, in the caller's transaction; `actor` is named in each ticket's audit entry. */
  async function apply(trx: DbOrTx, customer: CustomerRow, p: ErasurePlan, actor: Actor, now: Date): Promise<void> {
    const at = toTimestamp(now);
    const touched = ticketsTouched(p);
    for (const id of touched) await tickets.lockTicket(trx, id);
    // The tickets' stored JSON holds what is redacted here: gone with it (a read stores it again, redacted).
    await deleteRepresentations(trx, [...touched]);
    // Messages first: each ticket's preview is then made again from its redacted conversation.
    for (const [id, set] of p.messages) await store.updateMessage(trx, id, set);
    for (const id of touched) {
      // Read again under the lock: a change committed since the plan was read is kept.
      const fresh = await tickets.findTicket(trx, id);
      if (!fresh) continue;
      const connected = p.connected.has(id);
      const preview = await tickets.lastMessagePreview(trx, id);
      // Redacted as well: an HTML body's entities (`Jos&eacute;`) hide a name from the search for it until read as text.
      const set = {
        ...redactTicket(p.redactor, fresh, connected),
        last_message_preview: preview === null ? null : clipPreview(p.redactor.text(preview, connected)),
        version: fresh.version + 1,
        updated_at: at,
      };
      await tickets.updateTicket(trx, fresh, set);
      await tickets.insertAuditEntry(trx, {
        id: newId('aud', now.getTime()),
        ticket_id: id,
        ...auditActorColumns(actor),
        action: 'customer.erased',
        // Whom, not what: the customer's id only.
        changes: toJsonText({ erased_customer: { from: null, to: customer.id } }),
        created_at: at,
      });
    }
    await store.deleteOutboxEntries(trx, p.outbox);
    await store.deleteAttachments(trx, [...p.attachments.keys()]);
    for (const [id, set] of p.audit) await store.updateAuditEntry(trx, id, set);
    for (const [id, data] of p.events) await store.updateEventData(trx, id, data);
    for (const [id, set] of p.attempts) await store.updateWebhookAttempt(trx, id, set);
    for (const [id, set] of p.inbound) await store.updateInboundEmail(trx, id, set);
    for (const k of p.keptResponses) await store.deleteKeptResponse(trx, k.token_id, k.key);
    await deps.reindex(trx, touched);
  }

  const blobKeysOf = (p: ErasurePlan): string[] => [...[...p.attachments.values()].map((a) => a.storage_key).filter((k): k is string => !!k), ...p.rawKeys];

  return {
    /** The counts an erasure of `customer` would have now; nothing is changed. */
    async dryRun(customer: CustomerRow): Promise<ErasureCounts> {
      return countsOf(await plan(db, customer));
    },

    /**
     * Erases `customer` (not erased yet): blobs first (a failure after them leaves rows that a
     * second call finds and finishes), then one transaction for every row, the customer's
     * tombstone, the audit entries and the customer.erased event, then the blobs of rows that
     * appeared meanwhile, then the keyword index's storage rewritten (SQLite FTS5 keeps old
     * versions of a document's terms until its segments merge) and the files flushed (SQLite: the
     * WAL emptied). Returns the counts.
     */
    async erase(customer: CustomerRow, actor: Actor | undefined): Promise<{ counts: ErasureCounts; erased_at: string }> {
      const first = await plan(db, customer);
      const deleted = new Set(blobKeysOf(first));
      await deps.deleteBlobs([...deleted]);
      const now = clock.now();
      const erasedAt = toTimestamp(now);
      const {
        counts,
        late,
        erasedAt: at,
      } = await deps.transactions.run(async (trx) => {
        // Locked and read again: of two erasures at once, the second finds the tombstone and changes nothing.
        await store.lockCustomer(trx, customer.id);
        const current = await findCustomer(trx, customer.id);
        if (!current || current.erased_at) return { counts: zeroCounts(), late: [], erasedAt: current?.erased_at ?? erasedAt };
        const p = await plan(trx, current);
        await apply(trx, customer, p, actor ?? systemActor, now);
        const counts = countsOf(p);
        await updateCustomer(trx, customer.id, {
          email: p.redactor.tombstone,
          name: null,
          external_id: null,
          notes: null,
          erased_at: erasedAt,
          updated_at: erasedAt,
        });
        await recordEvent(trx, {
          type: 'customer.erased',
          brand_id: customer.brand_id,
          ticket_id: null,
          data: { customer_id: customer.id, brand_id: customer.brand_id, counts },
          at: now,
          created_at: erasedAt,
        });
        return { counts, late: blobKeysOf(p).filter((k) => !deleted.has(k)), erasedAt };
      });
      await deps.deleteBlobs(late);
      if (counts.tickets > 0) await deps.purgeSearchText();
      if (!(await flushErased(db, deps.dialect))) {
        deps.warn?.(`customer ${customer.id} erased; the WAL could not be emptied yet (readers held it): the next checkpoint overwrites it`);
      }
      return { counts, erased_at: at };
    },
  };
}

export type CustomerErasure = ReturnType<typeof createCustomerErasure>;
