/**
 * In-process filter index: the ticket fields searches filter by (status, priority, assignee,
 * creation time, tags), per search document, in typed arrays indexed by doc_id; and on SQLite where
 * each document's ticket row lies (`TicketRowLocator`). Like the keyword
 * and vector indexes it is a cache of the tables, loaded at the first filtered search (or the
 * warm-up) and caught up by the `seq` change counter, so a filter costs a few array reads per
 * candidate instead of a SQL probe of `tickets` per hit (docs/search.md, "Filters").
 *
 * Its predicate is applied inside both indexes' scans (only to hits that would enter the top k),
 * so a filtered search is exact in one pass, whatever the filter's selectivity.
 */
import type { Db } from '../db/schema.js';
import { PRIORITIES, STATUSES } from '../shared/ticket-fields.js';
import { type FilterFieldsRow, filterFieldsSince } from './filter-store.js';
import { followTable, followedIndex } from './index-follower.js';
import type { SearchFilters, TicketRowLocator } from './store.js';

/** Whether a document passes a search's filters beyond brand. */
export type DocFilter = (docId: number) => boolean;

/** Codes of the closed value lists: 0 = no document, 255 = a value outside the list (matches no filter). */
const codeIn = (list: readonly string[], value: string | null): number => {
  if (value === null) return 0;
  const i = list.indexOf(value);
  return i < 0 ? 255 : i + 1;
};

const never: DocFilter = () => false;

export class FilterIndex implements TicketRowLocator {
  private status = new Uint8Array(1024);
  private priority = new Uint8Array(1024);
  /** Interned assignee + 1; 0 = unassigned. */
  private assignee = new Int32Array(1024);
  /** Creation instant, ms since the epoch (the stored text's order: RFC 3339 UTC to the second). */
  private created = new Float64Array(1024);
  /** The ticket row's SQLite rowid; 0 = not known (PostgreSQL, no row, no document). */
  private rowid = new Float64Array(1024);
  /** A 53-bit hash of the ticket's id, which a row read by `rowid` must match (`isTicketOf`). */
  private ticketIdHash = new Float64Array(1024);
  /** The ticket's version at which its first message was its description; 0 = not so, or not known. */
  private descriptionOpensAt = new Int32Array(1024);
  /**
   * Each document's interned tags: `tagCount[doc]` of them from `tagPool[tagStart[doc]]`. One pool
   * rather than an array per document: a million tickets' tags as small arrays were ~1.5 million
   * heap objects (~185 MB) that every full garbage collection walked.
   */
  private tagStart = new Int32Array(1024);
  private tagCount = new Uint16Array(1024);
  private tagPool = new Int32Array(1024);
  /** The pool's used length, and of it the tags that documents point at (the rest: left by changes). */
  private tagUsed = 0;
  private tagLive = 0;
  /** Assignees and tags, interned. */
  private readonly strings = new Map<string, number>();
  size = 0;

  upsert(row: FilterFieldsRow): void {
    const doc = row.doc_id;
    this.ensure(doc);
    if (row.status === null || row.created_at === null) {
      this.remove(doc);
      return;
    }
    if (this.status[doc] === 0) this.size++;
    this.status[doc] = codeIn(STATUSES, row.status);
    this.priority[doc] = codeIn(PRIORITIES, row.priority);
    this.assignee[doc] = row.assigned_to === null ? 0 : this.intern(row.assigned_to) + 1;
    this.created[doc] = Date.parse(row.created_at);
    // The hash only checks a row read by rowid: none to check without one (PostgreSQL).
    this.rowid[doc] = row.ticket_rowid ?? 0;
    this.ticketIdHash[doc] = row.ticket_rowid === null ? 0 : hashTicketId(row.ticket_id);
    this.descriptionOpensAt[doc] = row.opens_with_description === 1 && row.version !== null ? row.version : 0;
    const tags = row.tags ? (JSON.parse(row.tags) as string[]) : [];
    this.setTags(
      doc,
      tags.map((t) => this.intern(t)),
    );
  }

  remove(docId: number): void {
    if (docId >= this.status.length || this.status[docId] === 0) return;
    this.status[docId] = 0;
    this.rowid[docId] = 0;
    this.descriptionOpensAt[docId] = 0;
    this.setTags(docId, []);
    this.size--;
  }

  /**
   * The predicate of the filters other than brand (the indexes partition by brand themselves);
   * null when there are none. Same meaning as the SQL of `store.filterCondition`: equal status,
   * priority and assignee, creation strictly after / before, every tag present.
   */
  matcher(f: SearchFilters): DocFilter | null {
    const tests: DocFilter[] = [];
    const { status, priority, assignee, created } = this;
    if (f.status !== undefined) {
      const code = codeIn(STATUSES, f.status);
      tests.push((d) => status[d] === code);
    }
    if (f.priority !== undefined) {
      const code = codeIn(PRIORITIES, f.priority);
      tests.push((d) => priority[d] === code);
    }
    if (f.assigned_to !== undefined) {
      const id = this.strings.get(f.assigned_to);
      if (id === undefined) return never;
      tests.push((d) => assignee[d] === id + 1);
    }
    if (f.created_after !== undefined) {
      const after = Date.parse(f.created_after);
      tests.push((d) => created[d]! > after);
    }
    if (f.created_before !== undefined) {
      const before = Date.parse(f.created_before);
      tests.push((d) => created[d]! < before);
    }
    if (f.tags?.length) {
      const wanted: number[] = [];
      for (const tag of f.tags) {
        const id = this.strings.get(tag);
        if (id === undefined) return never;
        wanted.push(id);
      }
      tests.push((d) => {
        const { tagPool } = this;
        const from = this.tagStart[d]!;
        const to = from + this.tagCount[d]!;
        return wanted.every((t) => {
          for (let i = from; i < to; i++) if (tagPool[i] === t) return true;
          return false;
        });
      });
    }
    if (tests.length === 0) return null;
    return (d) => {
      if (d >= status.length || status[d] === 0) return false;
      for (const test of tests) if (!test(d)) return false;
      return true;
    };
  }

  rowidOf(docId: number): number {
    return docId < this.rowid.length ? this.rowid[docId]! : 0;
  }

  isTicketOf(docId: number, ticketId: string): boolean {
    return docId < this.ticketIdHash.length && this.ticketIdHash[docId] === hashTicketId(ticketId);
  }

  /**
   * Whether the document's ticket, at `version` (read with its row), opens with its description:
   * its first message is the description word for word. False when not known at that version (the
   * index not caught up with a change, which moved the version).
   */
  opensWithDescription(docId: number, version: number): boolean {
    return docId < this.descriptionOpensAt.length && this.descriptionOpensAt[docId] === version;
  }

  /** Gives `doc` these tags: in place when they fit where its old ones were, else at the pool's end. */
  private setTags(doc: number, ids: readonly number[]): void {
    const had = this.tagCount[doc]!;
    this.tagLive += ids.length - had;
    if (ids.length > had) {
      this.tagCount[doc] = 0;
      if (this.tagUsed + ids.length > this.tagPool.length) this.makeTagRoom(ids.length);
      this.tagStart[doc] = this.tagUsed;
      this.tagUsed += ids.length;
    }
    this.tagPool.set(ids, this.tagStart[doc]!);
    this.tagCount[doc] = ids.length;
  }

  /**
   * Room for `n` more tags at the pool's end: the live tags copied to the front of a pool sized for
   * them, `n` and as much again (so that copies stay rare: each follows as many changes as it moved).
   */
  private makeTagRoom(n: number): void {
    const pool = new Int32Array(Math.max(1024, 2 * (this.tagLive + n)));
    let used = 0;
    for (let doc = 0; doc < this.tagCount.length; doc++) {
      const count = this.tagCount[doc]!;
      if (count === 0) continue;
      const from = this.tagStart[doc]!;
      pool.set(this.tagPool.subarray(from, from + count), used);
      this.tagStart[doc] = used;
      used += count;
    }
    this.tagPool = pool;
    this.tagUsed = used;
  }

  private intern(text: string): number {
    let id = this.strings.get(text);
    if (id === undefined) this.strings.set(text, (id = this.strings.size));
    return id;
  }

  private ensure(doc: number): void {
    if (doc < this.status.length) return;
    let cap = this.status.length;
    while (cap <= doc) cap *= 2;
    const grow = <T extends Uint8Array | Uint16Array | Int32Array | Float64Array>(a: T): T => {
      const out = new (a.constructor as new (n: number) => T)(cap);
      out.set(a);
      return out;
    };
    this.status = grow(this.status);
    this.priority = grow(this.priority);
    this.assignee = grow(this.assignee);
    this.created = grow(this.created);
    this.rowid = grow(this.rowid);
    this.ticketIdHash = grow(this.ticketIdHash);
    this.descriptionOpensAt = grow(this.descriptionOpensAt);
    this.tagStart = grow(this.tagStart);
    this.tagCount = grow(this.tagCount);
  }
}

/** cyrb53: a 53-bit hash of a string (two 32-bit multiply-xorshift lanes), exact in a double. */
function hashTicketId(id: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The in-process filter index, following search_documents and the tickets' filter fields. */
export function followFilterIndex(db: Db) {
  const index = new FilterIndex();
  const follower = followTable<FilterFieldsRow>({
    rowsSince: (afterSeq, afterDocId, limit) => filterFieldsSince(db, afterSeq, afterDocId, limit),
    apply: (r) => index.upsert(r),
  });
  return followedIndex(follower, index);
}

export type FilterFollower = ReturnType<typeof followFilterIndex>;
