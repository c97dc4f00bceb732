import type { AuditEntryView, MessageView, Participant } from './model.js';

/** What a ticket's detail holds besides its own fields and queue place: fixed for one version. */
export interface VersionedDetail {
  version: number;
  messages: MessageView[];
  participants: Participant[];
  audit_trail: AuditEntryView[];
}

/**
 * The conversation, participants and audit trail of recently read tickets, by ticket id.
 *
 * A ticket's `version` changes with everything in its representation (a message, an attachment
 * linked with it, an update: see `etagOf`), so an entry is good exactly while the version read
 * from the database matches: the ticket row is read on every request anyway, and a write made
 * by any process (or directly in the database through the services) bumps it. Reading the
 * ticket then costs its row and its queue place, not its whole history. Entries are never served
 * for another version, only replaced; the least recently used go first.
 *
 * Attachments are left out: their views carry download URLs signed with an expiry at read time.
 */
export class DetailCache {
  readonly #entries = new Map<string, VersionedDetail>();

  constructor(readonly capacity = 2000) {}

  get(ticketId: string, version: number): VersionedDetail | undefined {
    const entry = this.#entries.get(ticketId);
    if (!entry || entry.version !== version) return undefined;
    // Re-inserted: the Map's order is least recently used first.
    this.#entries.delete(ticketId);
    this.#entries.set(ticketId, entry);
    return entry;
  }

  set(ticketId: string, entry: VersionedDetail): void {
    this.#entries.delete(ticketId);
    this.#entries.set(ticketId, entry);
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
