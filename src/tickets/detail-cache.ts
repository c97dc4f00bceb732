/**
 * Serialized JSON of recently read tickets, by ticket id and version: the retrieve route keeps
 * each ticket's conversation (messages, participants, audit trail) in one, the list route each
 * ticket's list item in another.
 *
 * A ticket's `version` changes with everything in its representation (a message, an attachment
 * linked with it, an update: see `etagOf`), so an entry is good exactly while the version read
 * from the database matches: a write made by any process (or directly in the database through
 * the services) bumps it. A read then costs the ticket's version (and, for the retrieve route, its
 * row and queue place), not the rest of its rows nor their serialization. Entries are never
 * served for another version, only replaced; the least recently used go first once the budget (in
 * bytes) is spent.
 *
 * Kept as UTF-8 bytes, not strings: a response is then the kept bytes copied together once. A
 * serializer's output is a string built by appending (a tree of pieces), which joining walks piece
 * by piece on every use, and the joined text would be encoded to UTF-8 again for every response:
 * measured on 20 list items, 35 µs a page as strings against 5 µs as bytes.
 *
 * Conversations with attachments are not kept: their download URLs are signed per read.
 */
export class VersionedJsonCache {
  readonly #entries = new Map<string, { version: number; json: Buffer }>();
  #size = 0;

  constructor(readonly budget = 16 * 1024 * 1024) {}

  get(ticketId: string, version: number): Buffer | undefined {
    const entry = this.#entries.get(ticketId);
    if (!entry || entry.version !== version) return undefined;
    // Re-inserted: the Map's order is least recently used first.
    this.#entries.delete(ticketId);
    this.#entries.set(ticketId, entry);
    return entry.json;
  }

  /** Keeps the JSON text of this version (unless it is over a sixteenth of the budget) and returns its bytes. */
  set(ticketId: string, version: number, text: string): Buffer {
    const json = Buffer.from(text);
    if (json.length > this.budget / 16) return json;
    this.#drop(ticketId);
    this.#entries.set(ticketId, { version, json });
    this.#size += json.length;
    while (this.#size > this.budget) this.#drop(this.#entries.keys().next().value!);
    return json;
  }

  #drop(ticketId: string): void {
    const entry = this.#entries.get(ticketId);
    if (!entry) return;
    this.#entries.delete(ticketId);
    this.#size -= entry.json.length;
  }
}
