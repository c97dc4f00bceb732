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
 * - a term's postings are kept apart per brand: one *list* per (term, brand), so that a search
 *   in one brand reads that brand's postings only (a brand-restricted token, the common case,
 *   pays for its brand's tickets, not the whole database's; a common word of 20 brands at a
 *   million tickets: 22,000 postings read instead of 440,000). A term's lists are chained from
 *   the term, and its document frequency (BM25 is over the whole corpus, like FTS5's) is the sum
 *   of its lists' lengths;
 * - each list's postings are a chain of chunks (doubling sizes, at most 4,096 entries) in one
 *   shared pool: `Int32Array` slot numbers and `Uint8Array` weighted term frequencies (capped at
 *   255, where BM25 has long saturated);
 * - dead postings are dropped lazily. Each brand logs the slots of it that died; a list's live
 *   length is kept exact from that log when the list is next read (a lookup of each slot that died
 *   since, by binary search: postings lie in slot order), so a search's document frequencies cost
 *   the deaths since the list was last read, not the list's length (a reply re-indexes a ticket,
 *   and under mixed load every brand has a death between two searches). A list is compacted in
 *   place once a quarter of it is dead, or when reading it is cheaper than the lookups; the whole
 *   pool is rebuilt (slots renumbered) once more than half of it holds no live posting: at once,
 *   or, with `rebuildInSteps`, by the owner in steps (`compactSteps`) while the index keeps
 *   serving and taking changes.
 *
 * Scoring is term-at-a-time into a reused `Float32Array` accumulator, then a bounded heap keeps
 * the k best among the allowed brands / documents. Where the lists are long, a search first scores
 * only their high tiers (the postings of highest impact) and settles the top k with a bound on the
 * rest (`searchTiered`); the owner builds the tiers after a load (`tierSteps`), a search those
 * missing. docs/search.md explains why this (with the common-term cut in ranking.ts)
 * beat SQL scoring, and why tiers rather than block-max skipping.
 */
import { COLUMN_WEIGHTS, type KeywordFields } from './keyword-index.js';
import type { ScoredHit } from './text/fusion.js';
import { TopK } from './top-k.js';
import { ShardedStringMap } from '../shared/sharded-string-map.js';

export const BM25 = { k1: 1.2, b: 0.75 } as const;

const MAX_CHUNK = 4096;
const MIN_CHUNK = 4;
/**
 * A list of at least this many postings gets a high tier (see `searchTiered`), built ahead by
 * `tierSteps` or else when a search first reads it; shorter lists are read whole.
 */
const TIER_MIN_POSTINGS = 1024;
/**
 * A search goes by the tiers when its lists hold at least this many postings in all: below it,
 * reading them all costs less than the tiers' bookkeeping (measured on the HTTP bench's text, one
 * brand, top 20: 4,400 postings 0.06 ms whole, 0.11 by the tiers; 44,000 postings 0.54 and 0.23).
 */
const TIERED_MIN_POSTINGS = 16_384;
/**
 * Nor for a top k deeper than this: the k-th score sinks towards the bound on the rest, and more
 * documents are looked up one by one (measured at 1M, one brand: top 20 0.23 ms by the tiers
 * against 0.54 whole; top 100 0.70 against 0.54). The page of a keyword search asks for 21 by
 * default; hybrid fuses 100 a side.
 */
const TIERED_MAX_K = 32;
/** The share of a list's postings its high tier holds, about: those of highest impact. */
const TIER_SHARE = 1 / 8;
/** A tier is rebuilt once the average document length has moved this much since it was built (its bound loosens). */
const TIER_AVGDL_DRIFT = 0.25;
/**
 * Slack on the bounds compared with accumulated scores: the accumulator is float32, so a score
 * summed in it may differ from the same sum in float64 by a few units in its 7th digit.
 */
const BOUND_SLACK = 1 + 1e-5;

/**
 * The postings of a long list whose impact, f / (f + k1·(1 − b + b·len / avgdl)) at the `avgdl`
 * it was built at, is at least `tau`: about `TIER_SHARE` of the list. Every other posting's impact
 * at that avgdl is below `tau`, which bounds it at any other (`tierBound`). In slot order, dead
 * postings included until the list is next compacted, when the tier is dropped and built again
 * by the next search that reads the list (or by `tierSteps`, its owner's warm-up).
 */
interface HighTier {
  slots: Int32Array;
  tfs: Uint8Array;
  n: number;
  tau: number;
  avgdl: number;
}

/**
 * A posting's BM25 impact, f / (f + k1·(1 − b + b·len / avgdl)): what a tier is chosen by
 * (`tierOf`'s histogram, `addToTier`'s test) and what `tierBound` bounds; one formula, so the three
 * agree. Scoring (`scatter`, `exactScore`) sums w·f / (…) in its own float order instead.
 */
function impact(tf: number, len: number, avgdl: number): number {
  const { k1, b } = BM25;
  return tf / (tf + k1 * (1 - b) + (k1 * b * len) / avgdl);
}

/**
 * The largest impact a posting below the tier can have at average length `avgdl`. Such a posting
 * had f + c + d·x/A₀ > f/τ (c = k1(1 − b), d·x = k1·b·len, A₀ the tier's avgdl). At A ≤ A₀ its
 * denominator only grows: below τ. At A > A₀, with r = A₀/A, the denominator is
 * f + c + r·d·x/A₀ > f·(1 − r + r/τ): the impact is below 1 / (1 − r + r/τ). And every impact is below 1.
 */
function tierBound(tier: HighTier, avgdl: number): number {
  if (avgdl <= tier.avgdl) return tier.tau;
  const r = tier.avgdl / avgdl;
  return Math.min(1, 1 / (1 - r + r / tier.tau));
}

/** One distinct term of a query: its weight (idf · times in the query · (k1 + 1)) and the lists searched. */
interface QueryTerm {
  w: number;
  lists: number[];
}
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
  /** A term's first list (-1: none); the others follow through `listNext`. */
  private termFirstList = new Int32Array(1024);
  private termCount = 0;
  // ---- lists: a term's postings in one brand ----
  private listHead = new Int32Array(1024);
  private listTail = new Int32Array(1024);
  /** Postings in the chain, dead ones included until the list is compacted. */
  private listLen = new Int32Array(1024);
  /** Dead postings in the chain among the deaths of its brand up to `listStamp`. */
  private listDead = new Int32Array(1024);
  /** Deaths of its brand (`brandDeaths`) that `listDead` accounts for. */
  private listStamp = new Int32Array(1024);
  private listBrand = new Int32Array(1024);
  /** The term's next list (-1: the last). */
  private listNext = new Int32Array(1024);
  private listCount = 0;
  /** The high tier of each long list a search has read or `tierSteps` has reached (`HighTier`); sparse. */
  private tiers: (HighTier | undefined)[] = [];
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
  /** Slots of each brand (by number) that died: a list's `listDead` is exact while its stamp equals its brand's count. */
  private brandDeaths = new Int32Array(64);
  /** The slots of each brand that died, in order (`brandDeaths[b]` of them); emptied by a rebuild. */
  private brandDeathLog: Int32Array[] = [];
  // ---- statistics ----
  /** Live documents. */
  size = 0;
  private totalTokens = 0;
  private livePostings = 0;
  // ---- query scratch ----
  private acc = new Float32Array(1024);
  private touched = new Int32Array(1024);
  /** Per slot, the query's terms found for it so far (bit t: the t-th term), in `searchTiered`. */
  private found = new Int32Array(1024);
  /** Per document `searchTiered` found in some tiers but not all, the most its score can be. */
  private bounds = new Float64Array(1024);
  /** Pool rebuilds done (for tests and diagnostics). */
  rebuilds = 0;
  /** Postings read by searches so far (for tests and diagnostics). */
  postingsRead = 0;
  /** Postings read to count or drop a list's dead ones (for tests and diagnostics). */
  postingsSwept = 0;
  /** High tiers built (for tests and diagnostics). */
  tiersBuilt = 0;
  /** Searches the high tiers answered (for tests and diagnostics). */
  tieredAnswers = 0;
  /** Searches the high tiers could not answer, scored whole (for tests and diagnostics). */
  tieredFallbacks = 0;
  /** Documents `searchTiered` scored one by one, its lookups (for tests and diagnostics). */
  exactScored = 0;
  /**
   * A rebuild in steps is under way: it reads the postings chains between its steps, so a search
   * meanwhile counts a term's live postings without compacting its chain in place (`liveLength`).
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
   * a synchronous rebuild only as a backstop at three quarters; `tiers: false`: every search
   * scores every posting (tests compare the two).
   */
  constructor(private readonly options: { rebuildAfterDead?: number; rebuildStep?: number; rebuildInSteps?: boolean; tiers?: boolean } = {}) {}

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
    if (brand === undefined) {
      this.brandIndex.set(brandId, (brand = this.brandIndex.size));
      this.brandDeaths = grow(this.brandDeaths, brand + 1);
      this.brandDeathLog.push(new Int32Array(16));
    }
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
    for (const [term, f] of freq) this.addPosting(this.listOf(this.termOf(term), brand), slot, Math.min(f, 255));
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
      df.set(t, id === undefined ? 0 : this.termDf(id));
    }
    return { total: this.size, df };
  }

  /**
   * The k best documents for the OR of `terms` (a term listed n times counts n times), BM25 as
   * FTS5 computes it; ties by doc_id. Where a term's list in a searched brand is long, first by
   * its high tier (`searchTiered`), which is exact whenever it answers; otherwise every posting of
   * every term is scored.
   */
  search(terms: readonly string[], filter: KeywordFilter, k: number): ScoredHit<number>[] {
    if (k <= 0 || this.size === 0 || terms.length === 0) return [];
    if (filter.brandIds !== null && filter.brandIds.length === 0) return [];
    const counts = new Map<string, number>();
    for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
    if (this.acc.length < this.slotCount) {
      this.acc = new Float32Array(this.slotDoc.length);
      this.touched = new Int32Array(this.slotDoc.length);
      this.found = new Int32Array(this.slotDoc.length);
    }
    // Allowed brands as a lookup by brand number: only their lists are read.
    let brandOk: Uint8Array | null = null;
    if (filter.brandIds !== null) {
      brandOk = new Uint8Array(this.brandIndex.size);
      for (const b of filter.brandIds) {
        const i = this.brandIndex.get(b);
        if (i !== undefined) brandOk[i] = 1;
      }
    }
    const n = this.size;
    const { k1 } = BM25;
    const query: QueryTerm[] = [];
    let longest = 0;
    let postings = 0;
    for (const [term, qtf] of counts) {
      const id = this.termIds.get(term);
      if (id === undefined) continue;
      const df = this.termDf(id);
      if (df === 0) continue;
      let idf = Math.log((n - df + 0.5) / (df + 0.5));
      if (idf <= 0) idf = 1e-6;
      const lists: number[] = [];
      for (let l = this.termFirstList[id]!; l >= 0; l = this.listNext[l]!) {
        if (brandOk !== null && brandOk[this.listBrand[l]!] !== 1) continue;
        lists.push(l);
        longest = Math.max(longest, this.listLen[l]!);
        postings += this.listLen[l]!;
      }
      if (lists.length) query.push({ w: idf * qtf * (k1 + 1), lists });
    }
    if (query.length === 0) return [];
    if (this.options.tiers !== false && k <= TIERED_MAX_K && postings >= TIERED_MIN_POSTINGS && longest >= TIER_MIN_POSTINGS && query.length <= 31) {
      const hits = this.searchTiered(query, filter, k);
      if (hits) {
        this.tieredAnswers++;
        return hits;
      }
      this.tieredFallbacks++;
    }
    return this.searchAll(query, filter, k);
  }

  /** Scores every posting of the query's lists (term at a time into the accumulator), then keeps the k best. */
  private searchAll(query: readonly QueryTerm[], filter: KeywordFilter, k: number): ScoredHit<number>[] {
    const { acc, touched, found } = this;
    const { k1nb, k1b } = this.lengthNorm();
    let nTouched = 0;
    for (const { w, lists } of query) {
      for (const l of lists) {
        nTouched = this.scatterList(l, w, 1, k1nb, k1b, nTouched);
      }
    }
    const top = new TopK(k);
    for (let i = 0; i < nTouched; i++) {
      const s = touched[i]!;
      const score = acc[s]!;
      acc[s] = 0;
      found[s] = 0;
      if (score >= top.min) this.offer(top, s, score, filter);
    }
    return top.sorted();
  }

  /** `scatter` over every posting of list `l`, dead ones included. */
  private scatterList(l: number, w: number, bit: number, k1nb: number, k1b: number, nTouched: number): number {
    const { chunkStart, chunkFill, chunkNext } = this;
    this.postingsRead += this.listLen[l]!;
    for (let c = this.listHead[l]!; c >= 0; c = chunkNext[c]!) {
      nTouched = this.scatter(this.poolSlot, this.poolTf, chunkStart[c]!, chunkStart[c]! + chunkFill[c]!, w, bit, k1nb, k1b, nTouched);
    }
    return nTouched;
  }

  /**
   * Adds each posting's BM25 term in `[from, end)` of `slots`/`tfs` (weight `w`) to its slot's
   * accumulator and marks `bit` found for it; returns the number of slots touched, which it
   * appends to. Float32 sums, added term after term: every path sums a document's score alike.
   */
  private scatter(slots: Int32Array, tfs: Uint8Array, from: number, end: number, w: number, bit: number, k1nb: number, k1b: number, nTouched: number): number {
    const { acc, touched, found, slotLen } = this;
    for (let p = from; p < end; p++) {
      const s = slots[p]!;
      const f = tfs[p]!;
      if (found[s] === 0) touched[nTouched++] = s;
      found[s]! |= bit;
      acc[s] = acc[s]! + (w * f) / (f + k1nb + k1b * slotLen[s]!);
    }
    return nTouched;
  }

  /**
   * Top-k by the lists' high tiers, exact, or null when the tiers cannot tell (then every posting
   * is scored). A common word of a large brand has tens of thousands of postings, and a top 20
   * among them is made of documents where the query's words weigh most; so:
   *
   * 1. each long list contributes only its high tier (`HighTier`, about an eighth of it), a short
   *    list all of it; a document's sum so far is exact for the terms found, and for each term
   *    whose high tier it was not found in, the rest of that term's list adds at most the term's
   *    bound (its weight × `tierBound`);
   * 2. documents found in every such term's tier have their exact score; the others are scored
   *    exactly (each missing term looked up in its list: postings lie in slot order) only when
   *    their bound can reach the k-th score so far;
   * 3. a document found in no tier scores at most the sum of the bounds: when the k-th score is
   *    above it, no such document can enter, and the k found are the k best.
   *
   * Exact scores are summed in the order `searchAll` sums them, in float32 as it does: the same
   * scores, so the same ranking and ties.
   */
  private searchTiered(query: readonly QueryTerm[], filter: KeywordFilter, k: number): ScoredHit<number>[] | null {
    const { k1nb, k1b, avgdl } = this.lengthNorm();
    /** Per term, the most the postings below its tiers can add to a document's score. */
    const rest = new Float64Array(query.length);
    let tieredTerms = 0;
    let nTouched = 0;
    for (let t = 0; t < query.length; t++) {
      const { w, lists } = query[t]!;
      const bit = 1 << t;
      for (const l of lists) {
        const tier = this.listLen[l]! >= TIER_MIN_POSTINGS ? this.tierOf(l, avgdl) : undefined;
        if (tier) {
          rest[t] = Math.max(rest[t]!, w * tierBound(tier, avgdl));
          tieredTerms |= bit;
          this.postingsRead += tier.n;
          nTouched = this.scatter(tier.slots, tier.tfs, 0, tier.n, w, bit, k1nb, k1b, nTouched);
          continue;
        }
        nTouched = this.scatterList(l, w, bit, k1nb, k1b, nTouched);
      }
    }
    let restOfAll = 0;
    for (let t = 0; t < query.length; t++) restOfAll += rest[t]!;
    const top = new TopK(k);
    const highest = new TopK(k);
    if (this.bounds.length < nTouched) this.bounds = new Float64Array(Math.max(nTouched, 2 * this.bounds.length));
    const { bounds } = this;
    // The long loops are methods of their own. V8 compiles a function while one of its loops runs
    // (on-stack replacement), and code compiled before the function was ever past that loop was
    // thrown back to the interpreter at the first site it had no feedback for, without being
    // compiled again: on one search in eleven at a million tickets (2,100 times in 24,000).
    const partial = this.settleFound(query.length, nTouched, tieredTerms, rest, top, filter);
    const candidates = this.keepCandidates(partial, top, highest);
    for (let j = 0; j < highest.size; j++) if (highest.scores[j]! >= top.min) this.scoreCandidate(query, highest.ids[j]!, top, filter, k1nb, k1b);
    for (let i = 0; i < candidates; i++) if (bounds[i]! >= top.min) this.scoreCandidate(query, i, top, filter, k1nb, k1b);
    if (restOfAll === 0 || (top.size === k && restOfAll * BOUND_SLACK < top.min)) return top.sorted();
    return null;
  }

  /**
   * `searchTiered`'s one pass over the documents found: those found in every tier they could be
   * missing from have their scores as sums and are offered; the others keep their bound (sum + the
   * rest of each term missing), packed at the front of `touched` and `bounds`, whose count it
   * returns. Each slot's accumulator is read once here (a random read in arrays over every slot,
   * the cost of this pass), and reset.
   */
  private settleFound(terms: number, nTouched: number, tieredTerms: number, rest: Float64Array, top: TopK, filter: KeywordFilter): number {
    const { acc, touched, found, bounds } = this;
    let partial = 0;
    for (let i = 0; i < nTouched; i++) {
      const s = touched[i]!;
      const sum = acc[s]!;
      const missing = tieredTerms & ~found[s]!;
      acc[s] = 0;
      found[s] = 0;
      if (missing === 0) {
        if (sum >= top.min) this.offer(top, s, sum, filter);
        continue;
      }
      let bound = sum;
      for (let t = 0; t < terms; t++) if (missing & (1 << t)) bound += rest[t]!;
      touched[partial] = s;
      bounds[partial++] = bound * BOUND_SLACK;
    }
    return partial;
  }

  /**
   * Of the `partial` documents `settleFound` left, keeps at the front those whose bounds reach the
   * k-th score so far (which only rises), to be scored exactly, and returns their count; `highest`
   * gets the k of highest bound, scored first so that the k-th score nears its final value early.
   */
  private keepCandidates(partial: number, top: TopK, highest: TopK): number {
    const { touched, bounds } = this;
    let candidates = 0;
    for (let i = 0; i < partial; i++) {
      const bound = bounds[i]!;
      if (bound < top.min) continue;
      touched[candidates] = touched[i]!;
      bounds[candidates] = bound;
      if (bound >= highest.min) highest.push(bound, candidates);
      candidates++;
    }
    return candidates;
  }

  /** Scores `searchTiered`'s i-th candidate (its slot in `touched`) exactly and offers it to `top`. */
  private scoreCandidate(query: readonly QueryTerm[], i: number, top: TopK, filter: KeywordFilter, k1nb: number, k1b: number): void {
    const s = this.touched[i]!;
    // Scored once: the second pass skips it.
    this.bounds[i] = Number.NaN;
    if (this.slotDoc[s]! < 0) return;
    this.exactScored++;
    this.offer(top, s, this.exactScore(query, s, k1nb, k1b), filter);
  }

  /** The score `searchAll` gives slot `s`: its terms' contributions summed in query order, in float32. */
  private exactScore(query: readonly QueryTerm[], s: number, k1nb: number, k1b: number): number {
    const brand = this.slotBrand[s]!;
    const len = this.slotLen[s]!;
    let score = 0;
    for (const { w, lists } of query) {
      for (const l of lists) {
        if (this.listBrand[l] !== brand) continue;
        const f = this.tfIn(l, s);
        if (f > 0) score = Math.fround(score + (w * f) / (f + k1nb + k1b * len));
      }
    }
    return score;
  }

  /** Pushes slot `s` with `score` when its document is live and passes the filter. */
  private offer(top: TopK, s: number, score: number, filter: KeywordFilter): void {
    const doc = this.slotDoc[s]!;
    // A dead posting, left in its list until a quarter of the list is dead.
    if (doc < 0) return;
    if (filter.docIds && !filter.docIds.has(doc)) return;
    if (filter.accept && !filter.accept(doc)) return;
    top.push(score, doc);
  }

  /** BM25's length normalisation at the current average document length: k1·(1 − b) + k1b·len. */
  private lengthNorm(): { k1nb: number; k1b: number; avgdl: number } {
    const { k1, b } = BM25;
    const tokens = Math.max(1, this.totalTokens);
    return { k1nb: k1 * (1 - b), k1b: (k1 * b * this.size) / tokens, avgdl: tokens / Math.max(1, this.size) };
  }

  /** The high tier of long list `l`, built now when it has none or the average length has drifted from the one it was built at. */
  private tierOf(l: number, avgdl: number): HighTier {
    const kept = this.tiers[l];
    if (kept && Math.abs(avgdl / kept.avgdl - 1) <= TIER_AVGDL_DRIFT) return kept;
    const { poolSlot, poolTf, slotLen, chunkStart, chunkFill, chunkNext } = this;
    // The impacts' distribution in 1,024 bins over [0, 1): tau is the lower edge of the bin where
    // the postings counted from the top reach the tier's share.
    const bins = new Int32Array(1024);
    for (let c = this.listHead[l]!; c >= 0; c = chunkNext[c]!) {
      for (let p = chunkStart[c]!, e = p + chunkFill[c]!; p < e; p++) {
        bins[Math.min(1023, Math.floor(1024 * impact(poolTf[p]!, slotLen[poolSlot[p]!]!, avgdl)))]!++;
      }
    }
    const want = Math.max(1, Math.ceil(this.listLen[l]! * TIER_SHARE));
    let bin = 1023;
    for (let above = bins[bin]!; above < want && bin > 0; ) above += bins[--bin]!;
    const tau = bin / 1024;
    const tier: HighTier = { slots: new Int32Array(Math.max(16, want * 2)), tfs: new Uint8Array(Math.max(16, want * 2)), n: 0, tau, avgdl };
    for (let c = this.listHead[l]!; c >= 0; c = chunkNext[c]!) {
      for (let p = chunkStart[c]!, e = p + chunkFill[c]!; p < e; p++) this.addToTier(tier, poolSlot[p]!, poolTf[p]!);
    }
    this.tiers[l] = tier;
    this.tiersBuilt++;
    return tier;
  }

  /**
   * Builds ahead of the searches the high tier of every long list that has none, or whose average
   * length has drifted (what `tierOf` would build at the next search that reads the list), in steps
   * of about `REBUILD_STEP` postings read, or of `REBUILD_STEP_MS` and one list (a generator, like
   * `compactSteps`: the owner lets the event loop run between two). Each list is first brought to
   * its live length as a search would (which may compact it, dropping its tier), so the tier built
   * is the one a search would keep.
   *
   * Searches and changes between two steps are safe: a tier is built within one step from the
   * serving arrays, a search keeps or builds tiers the same way, and a change adds to the tiers of
   * its lists. A pool rebuild renumbers the slots and drops every tier: one swapped in between two
   * steps starts the walk over; while one is under way the walk stops, as the tiers it would build
   * are dropped at the swap (the rebuild's owner runs these steps after it).
   */
  *tierSteps(): Generator<void, void, void> {
    if (this.options.tiers === false || this.rebuilding) return;
    const step = this.options.rebuildStep ?? REBUILD_STEP;
    let rebuilds = this.rebuilds;
    let { avgdl } = this.lengthNorm();
    let began = performance.now();
    let work = 0;
    for (let l = 0; l < this.listCount; l++) {
      // A list passed over costs about a posting's work; one read, its postings.
      work++;
      if (this.listLen[l]! >= TIER_MIN_POSTINGS) {
        const swept = this.postingsSwept;
        this.liveLength(l);
        work += this.postingsSwept - swept;
        const kept = this.tiers[l];
        if (this.listLen[l]! >= TIER_MIN_POSTINGS && this.tierOf(l, avgdl) !== kept) {
          // Read twice: the impacts' histogram, then the tier.
          work += 2 * this.listLen[l]!;
          // The first steps run before V8 has optimized the reads (as in `rebuildSteps`).
          if (performance.now() - began >= REBUILD_STEP_MS) work = step;
        }
      }
      if (work < step) continue;
      yield;
      if (this.rebuilding) return;
      if (this.rebuilds !== rebuilds) {
        rebuilds = this.rebuilds;
        l = -1;
      }
      // Documents added or removed between two steps move the average length.
      ({ avgdl } = this.lengthNorm());
      began = performance.now();
      work = 0;
    }
  }

  /** Adds a posting to `tier` when its impact at the tier's average length reaches the tier's threshold. */
  private addToTier(tier: HighTier, slot: number, tf: number): void {
    if (impact(tf, this.slotLen[slot]!, tier.avgdl) < tier.tau) return;
    if (tier.n === tier.slots.length) {
      tier.slots = grow(tier.slots, tier.n + 1);
      tier.tfs = grow(tier.tfs, tier.n + 1);
    }
    tier.slots[tier.n] = slot;
    tier.tfs[tier.n++] = tf;
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
      this.termFirstList,
      this.listHead,
      this.listTail,
      this.listLen,
      this.listDead,
      this.listStamp,
      this.listBrand,
      this.listNext,
      this.brandDeaths,
      ...this.brandDeathLog,
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
      this.found,
    ])
      total += a.byteLength;
    return total + this.tierBytes;
  }

  /** Of `bytes`, the memory the high tiers hold (5 bytes a posting in a tier, with room to grow). */
  get tierBytes(): number {
    let total = 0;
    for (const tier of this.tiers) if (tier) total += tier.slots.byteLength + tier.tfs.byteLength;
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
    this.termFirstList = grow(this.termFirstList, id + 1);
    this.termFirstList[id] = -1;
    return id;
  }

  /**
   * The list of `term` in `brand`, made when missing. Its cost is the number of brands that use
   * the term (a walk of the term's lists), not the corpus's size.
   */
  private listOf(term: number, brand: number): number {
    const { listBrand, listNext } = this;
    for (let l = this.termFirstList[term]!; l >= 0; l = listNext[l]!) if (listBrand[l] === brand) return l;
    const l = this.listCount++;
    if (l >= this.listHead.length) {
      this.listHead = grow(this.listHead, l + 1);
      this.listTail = grow(this.listTail, l + 1);
      this.listLen = grow(this.listLen, l + 1);
      this.listDead = grow(this.listDead, l + 1);
      this.listStamp = grow(this.listStamp, l + 1);
      this.listBrand = grow(this.listBrand, l + 1);
      this.listNext = grow(this.listNext, l + 1);
    }
    this.listHead[l] = -1;
    this.listTail[l] = -1;
    this.listLen[l] = 0;
    this.listDead[l] = 0;
    this.listStamp[l] = this.brandDeaths[brand]!;
    this.listBrand[l] = brand;
    this.listNext[l] = this.termFirstList[term]!;
    this.termFirstList[term] = l;
    return l;
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

  private addPosting(list: number, slot: number, tf: number): void {
    let c = this.listTail[list]!;
    if (c < 0 || this.chunkFill[c] === this.chunkCap[c]) {
      const cap = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, this.listLen[list]!));
      const fresh = this.newChunk(cap);
      if (c < 0) this.listHead[list] = fresh;
      else this.chunkNext[c] = fresh;
      this.listTail[list] = fresh;
      c = fresh;
    }
    const p = this.chunkStart[c]! + this.chunkFill[c]!++;
    this.poolSlot[p] = slot;
    this.poolTf[p] = tf;
    this.listLen[list]!++;
    const tier = this.tiers[list];
    if (tier) this.addToTier(tier, slot, tf);
  }

  private kill(slot: number): void {
    const doc = this.slotDoc[slot]!;
    this.slotDoc[slot] = -1;
    if (doc >= 0 && this.docSlot[doc] === slot + 1) this.docSlot[doc] = 0;
    this.size--;
    this.totalTokens -= this.slotLen[slot]!;
    const brand = this.slotBrand[slot]!;
    const deaths = this.brandDeaths[brand]!++;
    const log = (this.brandDeathLog[brand] = grow(this.brandDeathLog[brand]!, deaths + 1));
    log[deaths] = slot;
    this.livePostings -= this.slotTerms[slot]!;
    // Pool space not holding a live posting: dead postings, and chunks left out by compaction.
    const waste = this.poolUsed - this.livePostings;
    if (this.rebuilding || waste <= (this.options.rebuildAfterDead ?? 1_000_000) || waste * 2 <= this.poolUsed) return;
    if (!this.options.rebuildInSteps || waste * 4 > this.poolUsed * 3) this.rebuild();
    else this.rebuildWanted = true;
  }

  /** Live documents holding a term, in every brand. */
  private termDf(term: number): number {
    let df = 0;
    for (let l = this.termFirstList[term]!; l >= 0; l = this.listNext[l]!) df += this.liveLength(l);
    return df;
  }

  /**
   * Live postings of a list. The deaths of its brand since it was last read are looked up in it one
   * by one (binary search: a list's postings lie in slot order) when that is cheaper than reading
   * the list; otherwise, or once a quarter of the list is dead, the list is read and compacted in
   * place (only counted while a rebuild in steps reads the chains).
   */
  private liveLength(list: number): number {
    const brand = this.listBrand[list]!;
    const deaths = this.brandDeaths[brand]!;
    const stamp = this.listStamp[list]!;
    const len = this.listLen[list]!;
    if (stamp === deaths) return len - this.listDead[list]!;
    // A lookup walks the chain's chunks (doubling to 4,096 postings) and bisects one.
    const lookupCost = 16 + (len >> 12);
    if ((deaths - stamp) * lookupCost < len) {
      const log = this.brandDeathLog[brand]!;
      let dead = this.listDead[list]!;
      for (let i = stamp; i < deaths; i++) if (this.holds(list, log[i]!)) dead++;
      this.listDead[list] = dead;
      this.listStamp[list] = deaths;
      if (this.rebuilding || dead * 4 <= len) return len - dead;
    }
    this.postingsSwept += len;
    if (this.rebuilding) {
      let live = 0;
      for (let c = this.listHead[list]!; c >= 0; c = this.chunkNext[c]!) {
        for (let p = this.chunkStart[c]!, e = p + this.chunkFill[c]!; p < e; p++) if (this.slotDoc[this.poolSlot[p]!]! >= 0) live++;
      }
      this.listDead[list] = len - live;
      this.listStamp[list] = deaths;
      return live;
    }
    const { poolSlot, poolTf, slotDoc, chunkStart, chunkFill, chunkCap, chunkNext } = this;
    let wc = this.listHead[list]!;
    let wp = wc >= 0 ? chunkStart[wc]! : 0;
    let live = 0;
    for (let c = this.listHead[list]!; c >= 0; c = chunkNext[c]!) {
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
    if (wc >= 0) {
      chunkFill[wc] = wp - chunkStart[wc]!;
      // Chunks after the write position are left out of the chain (reclaimed by `rebuild`).
      chunkNext[wc] = -1;
      this.listTail[list] = wc;
    }
    this.listLen[list] = live;
    this.listDead[list] = 0;
    this.listStamp[list] = deaths;
    // Its tier holds as many dead postings as the list did: built again by the next search that reads the list.
    this.tiers[list] = undefined;
    return live;
  }

  /** Whether `slot` has a posting in `list`. */
  private holds(list: number, slot: number): boolean {
    return this.tfIn(list, slot) > 0;
  }

  /** The term frequency of `slot`'s posting in `list`, 0 if it has none (postings lie in slot order along the chain). */
  private tfIn(list: number, slot: number): number {
    const { poolSlot, chunkStart, chunkFill, chunkNext } = this;
    for (let c = this.listHead[list]!; c >= 0; c = chunkNext[c]!) {
      const fill = chunkFill[c]!;
      if (fill === 0) continue;
      let lo = chunkStart[c]!;
      let hi = lo + fill - 1;
      if (poolSlot[hi]! < slot) continue;
      if (poolSlot[lo]! > slot) return 0;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const s = poolSlot[mid]!;
        if (s === slot) return this.poolTf[mid]!;
        if (s < slot) lo = mid + 1;
        else hi = mid - 1;
      }
      return 0;
    }
    return 0;
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
    const renumber = new Int32Array(slotCount).fill(-1);
    // Slots are renumbered brand by brand (in their order within a brand): a list's postings then
    // lie in one range of slots, so that a search's scoring reads the accumulator and the slot
    // arrays in order instead of striding through all brands' slots for each list. A first pass
    // counts each brand's live slots; one that dies before the second pass reaches it leaves a
    // hole (a dead slot) at the end of its brand's range.
    const brands = this.brandIndex.size;
    const brandStart = new Int32Array(brands + 1);
    const countSlots = (from: number, to: number): void => {
      const { slotDoc: doc, slotBrand: brand } = this;
      for (let s = from; s < to; s++) if (doc[s]! >= 0) brandStart[brand[s]! + 1]!++;
    };
    const pass = Math.min(step, 8192);
    for (let s = 0; s < slotCount; s += pass) {
      countSlots(s, Math.min(slotCount, s + pass));
      yield;
    }
    for (let b = 0; b < brands; b++) brandStart[b + 1]! += brandStart[b]!;
    const next = brandStart.slice(0, brands);
    const slots = brandStart[brands]!;
    const capacity = Math.max(1024, slots);
    const slotDoc = new Int32Array(capacity).fill(-1);
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
        const brand = old.brand[s]!;
        const n = next[brand]!++;
        renumber[s] = n;
        slotDoc[n] = doc;
        slotLen[n] = old.len[s]!;
        slotBrand[n] = brand;
        slotTerms[n] = old.terms[s]!;
        slotHash[n] = old.hash[s]!;
        docSlot[doc] = n + 1;
        live++;
      }
    };
    for (let s = 0; s < slotCount; s += pass) {
      copySlots(s, Math.min(slotCount, s + pass));
      yield;
    }
    // Lists are kept (numbers, brands, their terms' chains); their postings are copied.
    const listCount = this.listCount;
    let listHead = new Int32Array(this.listHead.length);
    let listTail = new Int32Array(this.listTail.length);
    let listLen = new Int32Array(this.listLen.length);
    // Every copied posting is of a live slot of the new numbering: no list has a dead one, and the
    // death logs start empty (their slots are of the old numbering). Deaths during the copy are
    // the journal's, replayed after the swap.
    let listDead = new Int32Array(this.listDead.length);
    let listStamp = new Int32Array(this.listStamp.length);
    const chunks = Math.max(1024, listCount);
    const chunkStart = new Int32Array(chunks);
    const chunkCap = new Int32Array(chunks);
    const chunkFill = new Int32Array(chunks);
    const chunkNext = new Int32Array(chunks);
    let chunkCount = 0;
    const poolSlot = poolSlots(Math.max(1 << 16, this.livePostings));
    const poolTf = poolTfs(poolSlot.length);
    let poolUsed = 0;
    // Where the copy stands: list `t`, and within it the old chunk `c0` at position `p` (the list
    // of a common word holds a posting per document of its brand: it is copied over several steps).
    let t = 0;
    let c0 = -1;
    let p = 0;
    let listStart = 0;
    let inList = false;
    /** Copies about `step` live postings, in one pass: each list's go to the end of the new pool (sized for exactly the live ones). */
    const copyPostings = (): void => {
      const { poolSlot: oldSlot, poolTf: oldTf, chunkStart: oldStart, chunkFill: oldFill, chunkNext: oldNext, listHead: oldHead } = this;
      const began = performance.now();
      const spent = (work: number) => work >= step || performance.now() - began >= REBUILD_STEP_MS;
      let work = 0;
      while (t < listCount) {
        if (!inList) {
          c0 = oldHead[t]!;
          p = c0 >= 0 ? oldStart[c0]! : 0;
          listStart = poolUsed;
          inList = true;
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
        const n = poolUsed - listStart;
        listHead[t] = -1;
        listTail[t] = -1;
        if (n > 0) {
          const c = chunkCount++;
          chunkStart[c] = listStart;
          chunkCap[c] = n;
          chunkFill[c] = n;
          chunkNext[c] = -1;
          listHead[t] = c;
          listTail[t] = c;
          listLen[t] = n;
        }
        t++;
        inList = false;
        if (spent(work)) return;
      }
    };
    while (t < listCount) {
      copyPostings();
      yield;
    }
    // Lists made since the copy began hold only new slots' postings: empty until the replay.
    const lists = this.listCount;
    listHead = grow(listHead, lists);
    listTail = grow(listTail, lists);
    listLen = grow(listLen, lists);
    listDead = grow(listDead, lists);
    listStamp = grow(listStamp, lists);
    for (let u = listCount; u < lists; u++) {
      listHead[u] = -1;
      listTail[u] = -1;
      listLen[u] = 0;
    }
    let totalTokens = 0;
    for (let s = 0; s < slots; s++) totalTokens += slotLen[s]!;
    this.slotDoc = slotDoc;
    this.slotLen = slotLen;
    this.slotBrand = slotBrand;
    this.slotTerms = slotTerms;
    this.slotHash = slotHash;
    this.docSlot = docSlot;
    this.slotCount = slots;
    this.listHead = listHead;
    this.listTail = listTail;
    this.listLen = listLen;
    this.listDead = listDead;
    this.listStamp = listStamp;
    this.brandDeaths = new Int32Array(this.brandDeaths.length);
    this.brandDeathLog = this.brandDeathLog.map(() => new Int32Array(16));
    // Tiers hold slots of the old numbering: built again by the searches that read their lists.
    this.tiers = [];
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
    this.rebuildWanted = false;
    this.rebuilds++;
    return true;
  }
}
