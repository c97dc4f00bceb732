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
 * served for another version, only replaced; about the least recently used go first once the
 * budget (in bytes) is spent.
 *
 * Kept as UTF-8 bytes, not strings: a response is then the kept bytes copied together once. A
 * serializer's output is a string built by appending (a tree of pieces), which joining walks piece
 * by piece on every use, and the joined text would be encoded to UTF-8 again for every response:
 * measured on 20 list items, 35 µs a page as strings against 5 µs as bytes.
 *
 * Conversations with attachments are not kept: their download URLs are signed per read.
 */
export class VersionedJsonCache<Meta = undefined> {
  readonly #entries = new Map<string, { version: number; json: Buffer; meta: Meta; moved: number }>();
  #size = 0;
  /** Moves to the back of the order so far; each entry notes the count at its own last move. */
  #moves = 0;

  /** With `admitOnSecondSet`: the tickets set lately, of which only those set before are kept. */
  readonly #seen: SeenBefore | undefined;

  /**
   * `admitOnSecondSet` keeps a ticket's JSON only from the second time it is set (within about
   * the last 65,000 tickets set): one read once and never again, as most of a large helpdesk's are
   * in any hour, then costs no entry. An entry outlives the young generation's collections and
   * dies old when the budget pushes it out: under reads of many tickets that was every entry,
   * and the old generation's collections it called for (its bytes live outside the heap, and
   * their turnover alone starts them) were the retrieve's slowest turns.
   */
  constructor(
    readonly budget = 16 * 1024 * 1024,
    options: { admitOnSecondSet?: boolean } = {},
  ) {
    this.#seen = options.admitOnSecondSet ? new SeenBefore() : undefined;
  }

  get(ticketId: string, version: number): Buffer | undefined {
    return this.entry(ticketId, version)?.json;
  }

  /** The kept bytes of this version with what was kept beside them; undefined for any other version. */
  entry(ticketId: string, version: number): { json: Buffer; meta: Meta } | undefined {
    const entry = this.#entries.get(ticketId);
    if (!entry || entry.version !== version) return undefined;
    // The Map's order is least recently used first. A hit moves its entry to the back only when
    // more than half the entries moved since it last did: a delete and a set cost more than the
    // rest of a hit, and an entry in the newer half is dropped only after the older half.
    if (this.#moves - entry.moved > this.#entries.size / 2) {
      this.#entries.delete(ticketId);
      this.#entries.set(ticketId, entry);
      entry.moved = ++this.#moves;
    }
    return entry;
  }

  /** Keeps the JSON of this version (unless it is over a sixteenth of the budget) and returns its bytes. */
  set(ticketId: string, version: number, text: string | Buffer, ...[meta]: Meta extends undefined ? [] : [Meta]): Buffer {
    const json = typeof text === 'string' ? Buffer.from(text) : text;
    this.offer(ticketId, version, json, ...([meta] as Meta extends undefined ? [] : [Meta]));
    return json;
  }

  /** Keeps the JSON of this version, as `set`, without handing bytes back: text not kept is never encoded. */
  offer(ticketId: string, version: number, text: string | Buffer, ...[meta]: Meta extends undefined ? [] : [Meta]): void {
    if (this.#seen && !this.#entries.has(ticketId) && !this.#seen.check(ticketId)) return;
    // A string's length in UTF-16 units is at most its length in UTF-8 bytes.
    if (text.length > this.budget / 16) return;
    const json = typeof text === 'string' ? Buffer.from(text) : text;
    if (json.length > this.budget / 16) return;
    this.#drop(ticketId);
    this.#entries.set(ticketId, { version, json, meta: meta as Meta, moved: ++this.#moves });
    this.#size += json.length;
    while (this.#size > this.budget) this.#drop(this.#entries.keys().next().value!);
  }

  #drop(ticketId: string): void {
    const entry = this.#entries.get(ticketId);
    if (!entry) return;
    this.#entries.delete(ticketId);
    this.#size -= entry.json.length;
  }
}

/**
 * Whether a key was seen lately, in a fixed table of 2^16 fingerprints (a hash of the key): no
 * allocation, so the keys noted cost the collector nothing. A key noted is forgotten when another
 * one falls on its slot; two keys taken for one another need the same 32-bit hash.
 */
class SeenBefore {
  readonly #slots = new Uint32Array(1 << 16);

  /** True when the key was noted before; notes it either way. */
  check(key: string): boolean {
    // FNV-1a over the UTF-16 code units.
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    const fingerprint = (hash | 1) >>> 0;
    const slot = Math.imul(hash, 0x9e3779b1) >>> 16;
    if (this.#slots[slot] === fingerprint) return true;
    this.#slots[slot] = fingerprint;
    return false;
  }
}
