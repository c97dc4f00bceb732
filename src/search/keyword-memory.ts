/**
 * In-process keyword index: an inverted index over the analysed text stored by the dialect's
 * keyword table (FTS5 `search_fts` / PostgreSQL `search_keyword`), ranked with the same BM25 as
 * SQLite FTS5's `bm25(search_fts, 2, 1, 1)` (k1 = 1.2, b = 0.75, column weights folded into the
 * term frequency, document length = tokens of all columns).
 *
 * Like the vector index, the table stays the durable source and this structure is a cache of it,
 * loaded lazily and caught up by the `seq` change counter (see index-follower.ts), so both dialects rank
 * the same way and a query never pays for a SQL join or for scoring rows one by one in SQL.
 *
 * Layout (memory matters at 1M tickets with ~1M distinct order numbers as terms):
 * - documents live in append-only *slots* (length, brand, text hash); an update that changes the
 *   text kills the old slot and appends a new one; an update with the same text is a no-op;
 * - each term's postings are a chain of chunks (doubling sizes, at most 4,096 entries) in one
 *   shared pool: `Int32Array` slot numbers and `Uint8Array` weighted term frequencies (capped at
 *   255, where BM25 has long saturated);
 * - dead postings are dropped lazily: a term is compacted the first time it is read after any
 *   slot died (which also makes its document frequency exact again), and the whole pool is
 *   rebuilt (slots renumbered) once more than half of it holds no live posting: at once, or, with
 *   `rebuildInSteps`, by the owner in steps (`compactSteps`) while the index keeps serving and
 *   taking changes.
 *
 * Scoring is term-at-a-time into a reused `Float32Array` accumulator, then a bounded heap keeps
 * the k best among the allowed brands / documents. docs/search.md explains why this (with the
 * common-term cut in ranking.ts) beat SQL scoring and why MaxScore-style skipping was not needed.
 */
import { COLUMN_WEIGHTS, type KeywordFields } from './keyword-index.js';
import type { ScoredHit } from './text/fusion.js';
import { TopK } from './top-k.js';
import { ShardedStringMap } from '../shared/sharded-string-map.js';

export const BM25 = { k1: 1.2, b: 0.75 } as const;

const MAX_CHUNK = 4096;
const MIN_CHUNK = 4;
/**
 * A rebuild in steps copies at most this many postings (or slots) in a step, and stops a step at
 * the end of an old chunk once it has run `REBUILD_STEP_MS`: the first steps run before V8 has
 * optimized the copy (~40× slower than later ones).
 */
const REBUILD_STEP = 1 << 16;
const REBUILD_STEP_MS = 2;

/** The length an array of `length` grows to so that it holds `min`. */
function grownLength(length: number, min: number): number {
  let cap = Math.max(16, length);
  // Doubling while small; a quarter more at a time once large (the pool reaches 100s of MB).
  while (cap < min) cap = cap < 1 << 22 ? cap * 2 : Math.ceil(cap * 1.25);
  return cap;
}

function grow<T extends Int32Array | Uint8Array | Float32Array>(a: T, min: number): T {
  if (a.length >= min) return a;
  const cap = grownLength(a.length, min);
  const out = new (a.constructor as new (n: number) => T)(cap);
  out.set(a);
  return out;
}

/**
 * The postings pool's two arrays live on resizable buffers: growing the pool resizes them in place
 * instead of allocating a larger pair and copying the whole pool over in one turn of the event
 * loop (~280 ms at a million tickets' 40 million postings; the copy grew with the data). Only
 * address space is reserved up front (5 GiB: Node's largest resizable buffer is 4 GiB, here 2³⁰
 * postings, ~25 million tickets' worth); memory is committed as the pool grows. Past it, or where
 * the reservation is refused (a capped address space), the pool grows by copying, as before.
 */
const POOL_MAX_POSTINGS = 2 ** 30;

/** ES2024's `new ArrayBuffer(bytes, { maxByteLength })`, which the ES2022 typings do not know. */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => ArrayBuffer;

/** A resizable buffer of `bytes` that may grow to `maxBytes`, or undefined where the reservation is refused. */
function reserve(bytes: number, maxBytes: number): ArrayBuffer | undefined {
  if (bytes > maxBytes) return undefined;
  try {
    return new ResizableArrayBuffer(bytes, { maxByteLength: maxBytes });
  } catch {
    return undefined;
  }
}

// Length-tracking views (no length given): they follow their buffer as it is resized.
function poolSlots(length: number): Int32Array {
  const buffer = reserve(length * 4, POOL_MAX_POSTINGS * 4);
  return buffer ? new Int32Array(buffer) : new Int32Array(length);
}

function poolTfs(length: number): Uint8Array {
  const buffer = reserve(length, POOL_MAX_POSTINGS);
  return buffer ? new Uint8Array(buffer) : new Uint8Array(length);
}

/** `grow` for a pool array: in place while its buffer's reservation allows, else by copying. */
function growPool<T extends Int32Array | Uint8Array>(a: T, min: number): T {
  if (a.length >= min) return a;
  const cap = grownLength(a.length, min);
  const buffer = a.buffer as ArrayBuffer & { resizable?: boolean; maxByteLength: number; resize(bytes: number): void };
  if (buffer.resizable && cap * a.BYTES_PER_ELEMENT <= buffer.maxByteLength) {
    buffer.resize(cap * a.BYTES_PER_ELEMENT);
    return a;
  }
  const out = (a instanceof Int32Array ? poolSlots(cap) : poolTfs(cap)) as T;
  out.set(a);
  return out;
}

/** 32-bit FNV-1a of the three fields: detects re-indexing with unchanged text. */
function hashFields(f: KeywordFields): number {
  let h = 0x811c9dc5;
  for (const s of [f.subject, '\u0001', f.body, '\u0001', f.meta]) {
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  return h | 0;
}

export interface KeywordFilter {
  /** Brands allowed (null: every brand). */
  brandIds: readonly string[] | null;
  /** Only these documents (null: no restriction beyond brands). */
  docIds?: ReadonlySet<number> | null | undefined;
  /** Only documents passing this test (the search's other filters), asked only of hits that would enter the top k. */
  accept?: ((docId: number) => boolean) | null | undefined;
}

export class InvertedIndex {
  // ---- terms ----
  /** Term -> id; sharded so that its growth never rehashes every term at once (a million at a million tickets). */
  private readonly termIds = new ShardedStringMap<number>();
  private termHead = new Int32Array(1024);
  private termTail = new Int32Array(1024);
  /** Postings in the chain, dead ones included until the term is compacted. */
  private termLen = new Int32Array(1024);
  /** Value of `deaths` when the term was last compacted. */
  private termStamp = new Int32Array(1024);
  private termCount = 0;
  // ---- chunks of the postings pool ----
  private chunkStart = new Int32Array(1024);
  private chunkCap = new Int32Array(1024);
  private chunkFill = new Int32Array(1024);
  private chunkNext = new Int32Array(1024);
  private chunkCount = 0;
  private poolSlot = poolSlots(1 << 16);
  private poolTf = poolTfs(1 << 16);
  private poolUsed = 0;
  // ---- slots (document versions) ----
  private slotDoc = new Int32Array(1024);
  private slotLen = new Int32Array(1024);
  private slotBrand = new Int32Array(1024);
  private slotTerms = new Int32Array(1024);
  private slotHash = new Int32Array(1024);
  private slotCount = 0;
  /** doc_id -> slot + 1 (0: absent). */
  private docSlot = new Int32Array(1024);
  private readonly brandIndex = new Map<string, number>();
  // ---- statistics ----
  /** Live documents. */
  size = 0;
  private totalTokens = 0;
  private deaths = 0;
  private deadPostings = 0;
  private livePostings = 0;
  // ---- query scratch ----
  private acc = new Float32Array(1024);
  private touched = new Int32Array(1024);
  /** Pool rebuilds done (for tests and diagnostics). */
  rebuilds = 0;
  /**
   * A rebuild in steps is under way: it reads the postings chains between its steps, so a search
   * meanwhile counts a term's live postings without compacting its chain in place (liveDf).
   */
  private rebuilding = false;
  /**
   * The changes made while a rebuild in steps runs. They go to the serving arrays at once (so
   * searches between two steps see them) and are replayed onto the rebuilt arrays when those are
   * swapped in: the copy holds the documents as they were when it reached them.
   */
  private journal: { docId: number; brandId: string; fields: KeywordFields | null }[] | null = null;
  /** Half the pool is waste and `rebuildInSteps` leaves the rebuild to the owner (`compactSteps`). */
  private rebuildWanted = false;

  /**
   * `rebuildAfterDead`: dead postings tolerated before a rebuild is considered; `rebuildStep`:
   * postings or slots a rebuild in steps copies between two (tests lower both); `rebuildInSteps`:
   * when half the pool is waste, flag it (`rebuildDue`) for the owner to run `compactSteps()`
   * instead of rebuilding inside the change that crossed the line (~2 s at a million tickets), with
   * a synchronous rebuild only as a backstop at three quarters.
   */
  constructor(private readonly options: { rebuildAfterDead?: number; rebuildStep?: number; rebuildInSteps?: boolean } = {}) {}

  /** Whether the owner should run `compactSteps()` (only with `rebuildInSteps`). */
  get rebuildDue(): boolean {
    return this.rebuildWanted && !this.rebuilding;
  }

  /** A rebuild in steps has begun and not ended. */
  get rebuildUnderWay(): boolean {
    return this.rebuilding;
  }

  /** Adds or replaces the text of a document. */
  upsert(docId: number, brandId: string, fields: KeywordFields): void {
    this.journal?.push({ docId, brandId, fields });
    const hash = hashFields(fields);
    let brand = this.brandIndex.get(brandId);
    if (brand === undefined) this.brandIndex.set(brandId, (brand = this.brandIndex.size));
    const old = docId < this.docSlot.length ? this.docSlot[docId]! - 1 : -1;
    if (old >= 0) {
      if (this.slotHash[old] === hash && this.slotBrand[old] === brand) return;
      this.kill(old);
    }
    const freq = new Map<string, number>();
    let len = 0;
    const add = (text: string, w: number) => {
      for (const t of text.split(' ')) {
        if (!t) continue;
        len++;
        freq.set(t, (freq.get(t) ?? 0) + w);
      }
    };
    add(fields.subject, COLUMN_WEIGHTS.subject);
    add(fields.body, COLUMN_WEIGHTS.body);
    add(fields.meta, COLUMN_WEIGHTS.meta);
    const slot = this.slotCount++;
    if (slot >= this.slotDoc.length) {
      const n = slot + 1;
      this.slotDoc = grow(this.slotDoc, n);
      this.slotLen = grow(this.slotLen, n);
      this.slotBrand = grow(this.slotBrand, n);
      this.slotTerms = grow(this.slotTerms, n);
      this.slotHash = grow(this.slotHash, n);
    }
    this.slotDoc[slot] = docId;
    this.slotLen[slot] = len;
    this.slotBrand[slot] = brand;
    this.slotTerms[slot] = freq.size;
    this.slotHash[slot] = hash;
    this.docSlot = grow(this.docSlot, docId + 1);
    this.docSlot[docId] = slot + 1;
    this.size++;
    this.totalTokens += len;
    this.livePostings += freq.size;
    for (const [term, f] of freq) this.addPosting(this.termOf(term), slot, Math.min(f, 255));
  }

  /** Removes a document (no-op when absent). */
  remove(docId: number): void {
    this.journal?.push({ docId, brandId: '', fields: null });
    const slot = docId < this.docSlot.length ? this.docSlot[docId]! - 1 : -1;
    if (slot >= 0) this.kill(slot);
  }

  has(docId: number): boolean {
    return docId < this.docSlot.length && this.docSlot[docId]! > 0;
  }

  /** Live document frequency of each term (exact), and the number of live documents. */
  documentFrequencies(terms: readonly string[]): { total: number; df: Map<string, number> } {
    const df = new Map<string, number>();
    for (const t of terms) {
      const id = this.termIds.get(t);
      df.set(t, id === undefined ? 0 : this.liveDf(id));
    }
    return { total: this.size, df };
  }

  /**
   * The k best documents for the OR of `terms` (a term listed n times counts n times), BM25 as
   * FTS5 computes it; ties by doc_id.
   */
  search(terms: readonly string[], filter: KeywordFilter, k: number): ScoredHit<number>[] {
    if (k <= 0 || this.size === 0 || terms.length === 0) return [];
    if (filter.brandIds !== null && filter.brandIds.length === 0) return [];
    const counts = new Map<string, number>();
    for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
    if (this.acc.length < this.slotCount) {
      this.acc = new Float32Array(this.slotDoc.length);
      this.touched = new Int32Array(this.slotDoc.length);
    }
    const { acc, touched, poolSlot, poolTf, slotLen, chunkStart, chunkFill, chunkNext } = this;
    const n = this.size;
    const { k1, b } = BM25;
    const k1b = (k1 * b * n) / Math.max(1, this.totalTokens); // k1 * b / avgdl
    const k1nb = k1 * (1 - b);
    let nTouched = 0;
    for (const [term, qtf] of counts) {
      const id = this.termIds.get(term);
      if (id === undefined) continue;
      const df = this.liveDf(id);
      if (df === 0) continue;
      let idf = Math.log((n - df + 0.5) / (df + 0.5));
      if (idf <= 0) idf = 1e-6;
      const w = idf * qtf * (k1 + 1);
      for (let c = this.termHead[id]!; c >= 0; c = chunkNext[c]!) {
        const end = chunkStart[c]! + chunkFill[c]!;
        for (let p = chunkStart[c]!; p < end; p++) {
          const s = poolSlot[p]!;
          const f = poolTf[p]!;
          const prev = acc[s]!;
          if (prev === 0) touched[nTouched++] = s;
          acc[s] = prev + (w * f) / (f + k1nb + k1b * slotLen[s]!);
        }
      }
    }
    // Allowed brands as a lookup by brand number.
    let brandOk: Uint8Array | null = null;
    if (filter.brandIds !== null) {
      brandOk = new Uint8Array(this.brandIndex.size);
      for (const b of filter.brandIds) {
        const i = this.brandIndex.get(b);
        if (i !== undefined) brandOk[i] = 1;
      }
    }
    const docs = filter.docIds ?? null;
    const accept = filter.accept ?? null;
    const top = new TopK(k);
    const { slotDoc, slotBrand } = this;
    for (let i = 0; i < nTouched; i++) {
      const s = touched[i]!;
      const score = acc[s]!;
      acc[s] = 0;
      if (score < top.min) continue;
      if (brandOk !== null && brandOk[slotBrand[s]!] === 0) continue;
      const doc = slotDoc[s]!;
      // A dead posting (only read while a rebuild in steps keeps the chains as they are).
      if (doc < 0) continue;
      if (docs !== null && !docs.has(doc)) continue;
      if (accept !== null && !accept(doc)) continue;
      top.push(score, doc);
    }
    return top.sorted();
  }

  /**
   * Rewrites the postings pool to its exact size (one chunk per term, no dead postings): called
   * after a bulk load, whose growing chunks and doubling pool leave up to half of it unused.
   */
  compact(): void {
    for (const _ of this.compactSteps());
  }

  /**
   * `compact` in steps of about `REBUILD_STEP` postings, or the rebuild `rebuildDue` asks for: the
   * owner lets the event loop run between two (a million tickets' postings take ~2 s to rewrite).
   * Nothing when a rebuild in steps is already under way. See `rebuildSteps`.
   */
  *compactSteps(): Generator<void, void, void> {
    if (this.rebuildWanted || this.poolSlot.length > this.livePostings * 1.1 + 65_536) yield* this.rebuildSteps();
  }

  /** Memory held by the typed arrays, in bytes (terms' strings and map entries not counted). */
  get bytes(): number {
    let total = 0;
    for (const a of [
      this.termHead,
      this.termTail,
      this.termLen,
      this.termStamp,
      this.chunkStart,
      this.chunkCap,
      this.chunkFill,
      this.chunkNext,
      this.poolSlot,
      this.poolTf,
      this.slotDoc,
      this.slotLen,
      this.slotBrand,
      this.slotTerms,
      this.slotHash,
      this.docSlot,
      this.acc,
      this.touched,
    ])
      total += a.byteLength;
    return total;
  }

  get terms(): number {
    return this.termCount;
  }

  // ---- internals ----

  private termOf(term: string): number {
    let id = this.termIds.get(term);
    if (id !== undefined) return id;
    id = this.termCount++;
    this.termIds.set(term, id);
    if (id >= this.termHead.length) {
      this.termHead = grow(this.termHead, id + 1);
      this.termTail = grow(this.termTail, id + 1);
      this.termLen = grow(this.termLen, id + 1);
      this.termStamp = grow(this.termStamp, id + 1);
    }
    this.termHead[id] = -1;
    this.termTail[id] = -1;
    this.termLen[id] = 0;
    this.termStamp[id] = this.deaths;
    return id;
  }

  private newChunk(cap: number): number {
    const c = this.chunkCount++;
    if (c >= this.chunkStart.length) {
      this.chunkStart = grow(this.chunkStart, c + 1);
      this.chunkCap = grow(this.chunkCap, c + 1);
      this.chunkFill = grow(this.chunkFill, c + 1);
      this.chunkNext = grow(this.chunkNext, c + 1);
    }
    const start = this.poolUsed;
    this.poolUsed += cap;
    if (this.poolUsed > this.poolSlot.length) {
      this.poolSlot = growPool(this.poolSlot, this.poolUsed);
      this.poolTf = growPool(this.poolTf, this.poolUsed);
    }
    this.chunkStart[c] = start;
    this.chunkCap[c] = cap;
    this.chunkFill[c] = 0;
    this.chunkNext[c] = -1;
    return c;
  }

  private addPosting(term: number, slot: number, tf: number): void {
    let c = this.termTail[term]!;
    if (c < 0 || this.chunkFill[c] === this.chunkCap[c]) {
      const cap = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, this.termLen[term]!));
      const fresh = this.newChunk(cap);
      if (c < 0) this.termHead[term] = fresh;
      else this.chunkNext[c] = fresh;
      this.termTail[term] = fresh;
      c = fresh;
    }
    const p = this.chunkStart[c]! + this.chunkFill[c]!++;
    this.poolSlot[p] = slot;
    this.poolTf[p] = tf;
    this.termLen[term]!++;
  }

  private kill(slot: number): void {
    const doc = this.slotDoc[slot]!;
    this.slotDoc[slot] = -1;
    if (doc >= 0 && this.docSlot[doc] === slot + 1) this.docSlot[doc] = 0;
    this.size--;
    this.totalTokens -= this.slotLen[slot]!;
    this.deaths++;
    this.deadPostings += this.slotTerms[slot]!;
    this.livePostings -= this.slotTerms[slot]!;
    // Pool space not holding a live posting: dead postings, and chunks left out by compaction.
    const waste = this.poolUsed - this.livePostings;
    if (this.rebuilding || waste <= (this.options.rebuildAfterDead ?? 1_000_000) || waste * 2 <= this.poolUsed) return;
    if (!this.options.rebuildInSteps || waste * 4 > this.poolUsed * 3) this.rebuild();
    else this.rebuildWanted = true;
  }

  /** Live postings of a term, after dropping the dead ones if any slot died since last time. */
  private liveDf(term: number): number {
    if (this.termStamp[term] === this.deaths) return this.termLen[term]!;
    if (this.rebuilding) {
      let live = 0;
      for (let c = this.termHead[term]!; c >= 0; c = this.chunkNext[c]!) {
        for (let p = this.chunkStart[c]!, e = p + this.chunkFill[c]!; p < e; p++) if (this.slotDoc[this.poolSlot[p]!]! >= 0) live++;
      }
      return live;
    }
    const { poolSlot, poolTf, slotDoc, chunkStart, chunkFill, chunkCap, chunkNext } = this;
    let wc = this.termHead[term]!;
    let wp = wc >= 0 ? chunkStart[wc]! : 0;
    let live = 0;
    for (let c = this.termHead[term]!; c >= 0; c = chunkNext[c]!) {
      const end = chunkStart[c]! + chunkFill[c]!;
      for (let p = chunkStart[c]!; p < end; p++) {
        const s = poolSlot[p]!;
        if (slotDoc[s]! < 0) continue;
        if (wp === chunkStart[wc]! + chunkCap[wc]!) {
          chunkFill[wc] = chunkCap[wc]!;
          wc = chunkNext[wc]!;
          wp = chunkStart[wc]!;
        }
        poolSlot[wp] = s;
        poolTf[wp] = poolTf[p]!;
        wp++;
        live++;
      }
    }
    const removed = this.termLen[term]! - live;
    if (wc >= 0) {
      chunkFill[wc] = wp - chunkStart[wc]!;
      // Chunks after the write position are left out of the chain (reclaimed by `rebuild`).
      chunkNext[wc] = -1;
      this.termTail[term] = wc;
    }
    this.termLen[term] = live;
    this.deadPostings -= removed;
    this.termStamp[term] = this.deaths;
    return live;
  }

  /** Rewrites the pool with live postings only, one chunk per term, and renumbers the slots. */
  private rebuild(): void {
    for (const _ of this.rebuildSteps());
  }

  /**
   * The rebuild, in steps of about `REBUILD_STEP` postings or slots (a generator: the caller
   * decides whether to let the event loop run between two steps). It writes new arrays beside the
   * serving ones and swaps them in after the last step, so a search between two steps reads the
   * index as it was. Changes between two steps go to the serving arrays and to the journal, which
   * is replayed onto the new arrays once they are swapped in. Stopped before its end (the caller
   * leaves the generator), nothing is swapped: the serving arrays already hold every change.
   */
  private *rebuildSteps(): Generator<void, void, void> {
    if (this.rebuilding) return;
    this.rebuilding = true;
    this.journal = [];
    let swapped = false;
    try {
      swapped = yield* this.rebuildStepsWhileFlagged();
    } finally {
      const journal = this.journal;
      this.journal = null;
      this.rebuilding = false;
      if (swapped) for (const c of journal) c.fields ? this.upsert(c.docId, c.brandId, c.fields) : this.remove(c.docId);
    }
  }

  /** The copy and the swap; true once swapped. Slots made after it starts are left to the journal. */
  private *rebuildStepsWhileFlagged(): Generator<void, boolean, void> {
    const step = this.options.rebuildStep ?? REBUILD_STEP;
    // The copying loops are plain closures that the generator calls step by step (hot loops in a
    // generator body ran several times slower).
    const slotCount = this.slotCount;
    const capacity = Math.max(1024, this.size);
    const renumber = new Int32Array(slotCount).fill(-1);
    const slotDoc = new Int32Array(capacity);
    const slotLen = new Int32Array(capacity);
    const slotBrand = new Int32Array(capacity);
    const slotTerms = new Int32Array(capacity);
    const slotHash = new Int32Array(capacity);
    // From empty, not a copy: a slot that dies before the copy reaches it is left out, and its
    // document must not point at the number another slot gets.
    const docSlot = new Int32Array(this.docSlot.length);
    let live = 0;
    const copySlots = (from: number, to: number): void => {
      const old = { doc: this.slotDoc, len: this.slotLen, brand: this.slotBrand, terms: this.slotTerms, hash: this.slotHash };
      for (let s = from; s < to; s++) {
        const doc = old.doc[s]!;
        if (doc < 0) continue;
        renumber[s] = live;
        slotDoc[live] = doc;
        slotLen[live] = old.len[s]!;
        slotBrand[live] = old.brand[s]!;
        slotTerms[live] = old.terms[s]!;
        slotHash[live] = old.hash[s]!;
        docSlot[doc] = live + 1;
        live++;
      }
    };
    for (let s = 0; s < slotCount; s += Math.min(step, 8192)) {
      copySlots(s, Math.min(slotCount, s + Math.min(step, 8192)));
      yield;
    }
    const termCount = this.termCount;
    let termHead = new Int32Array(this.termHead.length);
    let termTail = new Int32Array(this.termTail.length);
    let termLen = new Int32Array(this.termLen.length);
    let termStamp = new Int32Array(this.termStamp.length);
    const chunks = Math.max(1024, termCount);
    const chunkStart = new Int32Array(chunks);
    const chunkCap = new Int32Array(chunks);
    const chunkFill = new Int32Array(chunks);
    const chunkNext = new Int32Array(chunks);
    let chunkCount = 0;
    const poolSlot = poolSlots(Math.max(1 << 16, this.livePostings));
    const poolTf = poolTfs(poolSlot.length);
    let poolUsed = 0;
    // Where the copy stands: term `t`, and within it the old chunk `c0` at position `p` (a term of
    // a common word holds a posting per document: it is copied over several steps).
    let t = 0;
    let c0 = -1;
    let p = 0;
    let termStart = 0;
    let inTerm = false;
    /** Copies about `step` live postings, in one pass: each term's go to the end of the new pool (sized for exactly the live ones). */
    const copyPostings = (): void => {
      const { poolSlot: oldSlot, poolTf: oldTf, chunkStart: oldStart, chunkFill: oldFill, chunkNext: oldNext, termHead: oldHead, deaths } = this;
      const began = performance.now();
      const spent = (work: number) => work >= step || performance.now() - began >= REBUILD_STEP_MS;
      let work = 0;
      while (t < termCount) {
        if (!inTerm) {
          c0 = oldHead[t]!;
          p = c0 >= 0 ? oldStart[c0]! : 0;
          termStart = poolUsed;
          inTerm = true;
          work++;
        }
        let w = poolUsed;
        while (c0 >= 0) {
          const e = oldStart[c0]! + oldFill[c0]!;
          work += e - p;
          for (; p < e; p++) {
            const old = oldSlot[p]!;
            // A slot made since the rebuild began: the journal adds it again.
            if (old >= slotCount) continue;
            const s = renumber[old]!;
            if (s < 0) continue;
            poolSlot[w] = s;
            poolTf[w] = oldTf[p]!;
            w++;
          }
          c0 = oldNext[c0]!;
          if (c0 >= 0) p = oldStart[c0]!;
          if (spent(work)) break;
        }
        poolUsed = w;
        if (c0 >= 0) return;
        const n = poolUsed - termStart;
        termStamp[t] = deaths;
        termHead[t] = -1;
        termTail[t] = -1;
        if (n > 0) {
          const c = chunkCount++;
          chunkStart[c] = termStart;
          chunkCap[c] = n;
          chunkFill[c] = n;
          chunkNext[c] = -1;
          termHead[t] = c;
          termTail[t] = c;
          termLen[t] = n;
        }
        t++;
        inTerm = false;
        if (spent(work)) return;
      }
    };
    while (t < termCount) {
      copyPostings();
      yield;
    }
    // Terms first seen since the copy began hold only new slots' postings: empty until the replay.
    const terms = this.termCount;
    termHead = grow(termHead, terms);
    termTail = grow(termTail, terms);
    termLen = grow(termLen, terms);
    termStamp = grow(termStamp, terms);
    for (let u = termCount; u < terms; u++) {
      termHead[u] = -1;
      termTail[u] = -1;
      termLen[u] = 0;
      termStamp[u] = this.deaths;
    }
    let totalTokens = 0;
    for (let s = 0; s < live; s++) totalTokens += slotLen[s]!;
    this.slotDoc = slotDoc;
    this.slotLen = slotLen;
    this.slotBrand = slotBrand;
    this.slotTerms = slotTerms;
    this.slotHash = slotHash;
    this.docSlot = docSlot;
    this.slotCount = live;
    this.termHead = termHead;
    this.termTail = termTail;
    this.termLen = termLen;
    this.termStamp = termStamp;
    this.chunkStart = chunkStart;
    this.chunkCap = chunkCap;
    this.chunkFill = chunkFill;
    this.chunkNext = chunkNext;
    this.chunkCount = chunkCount;
    this.poolSlot = poolSlot;
    this.poolTf = poolTf;
    this.poolUsed = poolUsed;
    // The figures of what was copied: the journal's changes count again as they are replayed.
    this.size = live;
    this.totalTokens = totalTokens;
    this.livePostings = poolUsed;
    this.deadPostings = 0;
    this.rebuildWanted = false;
    this.rebuilds++;
    return true;
  }
}
