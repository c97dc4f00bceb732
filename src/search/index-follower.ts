/**
 * The in-process indexes (keyword postings, vectors) are caches of the search tables. Each follows
 * its table by the `seq` change counter: the first search loads it from empty, later ones read
 * only the rows changed since, so another process's writes are seen at the next search too.
 */
import type { Db } from '../db/schema.js';
import type { KeywordIndex, KeywordTextRow } from './keyword-index.js';
import { InvertedIndex } from './keyword-memory.js';
import { type VectorRow, vectorsSince } from './store.js';
import { VectorIndex, decodeVector, encodeVector } from './vector-index.js';
import { removeCommonComponent } from './embedding/embedder.js';
import type { EmbedderFit } from './embedder-provider.js';
import { EventLoopSlices } from '../shared/event-loop-slices.js';

/**
 * Rows read per query while an in-process index loads or catches up: a read is one synchronous
 * call (better-sqlite3), so it is kept short too (~5 ms of 600-byte tickets).
 */
const LOAD_BATCH = 500;
/**
 * How long a load works before it lets the event loop run, in ms (EventLoopSlices). A bulk load
 * (the warm-up after a start, a refit's new index) shares the loop with the requests:
 * better-sqlite3 is synchronous and the postings are built in JS. The warm-up runs the keyword,
 * filter and vector loads one after another, so a turn of the loop carries one slice and at most
 * one batch read; a search during it starts the others beside, up to three slices a turn. (Slices of
 * 2,000 rows and reads of 5,000 held the loop 100-380 ms at a time: GET's p99 was 0.9-1.3 s in
 * the first 10 s after a start at 100k tickets.)
 */
const LOAD_SLICE_MS = 4;
/** A load this large (first search, large reindex) leaves growth slack in the postings worth trimming. */
const COMPACT_AFTER = 50_000;

interface FollowedRow {
  seq: number;
  doc_id: number;
}

interface FollowedTable<Row extends FollowedRow> {
  /** Rows changed after (afterSeq, afterDocId), in (seq, doc_id) order, at most `limit`. */
  rowsSince(afterSeq: number, afterDocId: number, limit: number): Promise<Row[]>;
  apply(row: Row): void;
  /**
   * After a load or catch-up that read `rows` rows (`fromEmpty`: a load into an empty index), inside
   * it: a search meanwhile awaits this too. Long work here awaits `pace()` every so often: it lets
   * the event loop run when the load's current slice is spent.
   */
  loaded?(rows: number, pace: () => Promise<void>, fromEmpty: boolean): void | Promise<void>;
}

/** Follows one table into an index; `restart` starts over from empty (the caller empties its index). */
export function followTable<Row extends FollowedRow>(table: FollowedTable<Row>) {
  let watermark = { seq: -1, docId: 0 };
  let loading: Promise<void> | null = null;
  /** Bumped by `restart`: a load started before it stops at its next read or yield. */
  let generation = 0;
  let loads = 0;
  let lastLoadMs: number | undefined;

  async function load(seq: number): Promise<void> {
    const started = generation;
    const fromEmpty = watermark.seq < 0;
    if (fromEmpty) loads++;
    const startedAt = performance.now();
    let read = 0;
    const slices = new EventLoopSlices(LOAD_SLICE_MS);
    for (;;) {
      const rows = await table.rowsSince(watermark.seq, watermark.docId, LOAD_BATCH);
      if (generation !== started) return;
      read += rows.length;
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        table.apply(r);
        watermark = { seq: r.seq, docId: r.doc_id };
        if (slices.due) {
          await slices.turn();
          // Restarted meanwhile: the rest of these rows belong to the index that was dropped.
          if (generation !== started) return;
        }
      }
      if (rows.length < LOAD_BATCH) break;
      await slices.pace();
    }
    await table.loaded?.(read, () => slices.pace(), fromEmpty);
    if (fromEmpty) lastLoadMs = performance.now() - startedAt;
    // Nothing newer exists up to `seq`: mark it seen.
    if (watermark.seq < seq) watermark = { seq, docId: 0 };
  }

  return {
    /** Brings the index up to `seq`. A load in flight is always awaited: a search never reads a half-loaded index. */
    async catchUp(seq: number): Promise<void> {
      while (loading || watermark.seq < seq) {
        loading ??= load(seq).finally(() => (loading = null));
        await loading;
      }
    },
    restart(): void {
      generation++;
      watermark = { seq: -1, docId: 0 };
    },
    /** Loads from empty so far. */
    get loads(): number {
      return loads;
    },
    /** How long the last completed load from empty took; undefined before one. */
    get lastLoadMs(): number | undefined {
      return lastLoadMs;
    },
    /** The change counter the index has caught up to; -1 before it is loaded. */
    get seq(): number {
      return watermark.seq;
    },
  };
}

/** The in-process keyword index, following the dialect's keyword table. */
export function followKeywordIndex(db: Db, keyword: KeywordIndex, options: { rebuildAfterDead?: number } = {}) {
  const index = new InvertedIndex({ ...options, rebuildInSteps: true });
  /**
   * The rebuild that updates and removals make due (half the pool dead postings), in steps beside
   * the searches and catch-ups that go on meanwhile: rare, but ~2 s of work at a million tickets,
   * which used to run inside the change that crossed the line, in one turn of the event loop.
   * Called only when `rebuildDue`, which is false while one is under way: the first step, taken
   * before anything is awaited, marks it so.
   */
  const rebuildInBackground = (): void => {
    const slices = new EventLoopSlices(LOAD_SLICE_MS);
    void (async () => {
      try {
        // Again when the changes replayed at the swap leave half the pool dead once more: no
        // catch-up may follow to start it.
        do {
          for (const _ of index.compactSteps()) await slices.pace();
        } while (index.rebuildDue);
        // The swap dropped every high tier (they held the old slot numbers): built again here
        // rather than by the searches that read their lists first (see `loaded`).
        for (const _ of index.tierSteps()) await slices.pace();
      } catch (err) {
        process.emitWarning(`keyword index: the rebuild in steps failed: ${(err as Error).message}`, 'NexusSearchWarning');
      }
    })();
  };
  const follower = followTable<KeywordTextRow>({
    rowsSince: (afterSeq, afterDocId, limit) => keyword.textsSince(db, afterSeq, afterDocId, limit),
    apply: (r) => {
      if (r.fields) index.upsert(r.doc_id, r.brand_id, r.fields);
      else index.remove(r.doc_id);
      // As soon as it is due, beside the rest of the catch-up (whose changes it keeps).
      if (index.rebuildDue) rebuildInBackground();
    },
    loaded: async (rows, pace, fromEmpty) => {
      // ~170 ms at 100k tickets, ~2 s at a million: in steps, like the load.
      if (rows >= COMPACT_AFTER) for (const _ of index.compactSteps()) await pace();
      // The high tiers of the long lists, which the first search reading each list would build
      // otherwise: after a start, the first minute of searches at a million tickets ran at ~75 %
      // of the later rate while they did. Inside the load (a search arriving meanwhile waits, as
      // for the compaction), so a warm-up ends with them built. On 200,000 tickets of ~40 words
      // from a 2,000-word vocabulary in 20 brands: ~80 ms in ~75 steps (~1 ms each), 3 MB, where
      // filling the index alone takes ~5 s.
      if (fromEmpty || rows >= COMPACT_AFTER) for (const _ of index.tierSteps()) await pace();
    },
  });
  return Object.assign(followedIndex(follower, index), {
    /** Memory of the index's typed arrays, and of them the high tiers', in bytes (for the warm-up log). */
    memory: (): { bytes: number; tierBytes: number } => ({ bytes: index.bytes, tierBytes: index.tierBytes }),
  });
}

/**
 * What the search reads of an in-process index and the follower that keeps it: the index, caught
 * up to a `seq`, and the follower's figures (for metrics and the warm-up).
 */
export function followedIndex<Index extends { readonly size: number }>(
  follower: Pick<ReturnType<typeof followTable>, 'catchUp' | 'loads' | 'lastLoadMs' | 'seq'>,
  index: Index,
) {
  return {
    async catchUp(seq: number): Promise<Index> {
      await follower.catchUp(seq);
      return index;
    },
    /** The index as it is, caught up or not. */
    get current(): Index {
      return index;
    },
    get loads(): number {
      return follower.loads;
    },
    get size(): number {
      return index.size;
    },
    get lastLoadMs(): number | undefined {
      return follower.lastLoadMs;
    },
    get seq(): number {
      return follower.seq;
    },
  };
}

/**
 * The in-process vector index of one embedder, following search_documents. Another embedder (a
 * remote model change) starts a new index from empty; null while it has no vector.
 *
 * The built-in embedder's rows are stored raw and projected with a fit (its common components) as
 * they load. When the fit changes (a refit as the corpus grows), the index of the new fit is built
 * in the background from the table while the index of the old fit keeps serving, queries projected
 * with the old fit; the new one replaces it in one step once it has caught up. So a ranking never
 * sees vectors of two fits, and the quality never dips while a refit loads.
 */
export function followVectorIndex(db: Db) {
  interface Build {
    fit: EmbedderFit | null;
    index: VectorIndex | null;
    follower: ReturnType<typeof followTable<VectorRow>>;
  }
  let embedderId = '';
  let serving: Build | null = null;
  let pending: { build: Build; done: Promise<void> } | null = null;
  let loads = 0;

  const build = (fit: EmbedderFit | null): Build => {
    const b: Build = {
      fit,
      index: null,
      follower: followTable<VectorRow>({
        rowsSince: (afterSeq, afterDocId, limit) => vectorsSince(db, embedderId, afterSeq, afterDocId, limit),
        apply: (r) => {
          b.index ??= new VectorIndex(r.vector.byteLength - 4);
          b.index.upsert(r.doc_id, r.brand_id, fit ? projectStored(r.vector, fit.components) : r.vector);
        },
      }),
    };
    return b;
  };
  const sameFit = (a: EmbedderFit | null, b: EmbedderFit | null): boolean => (a?.id ?? null) === (b?.id ?? null);

  /** The index serving `fit` (or, while that one loads in the background, the previous fit's) caught up to `seq`. */
  async function catchUpFitted(forEmbedderId: string, seq: number, fit: EmbedderFit | null): Promise<{ index: VectorIndex | null; fit: EmbedderFit | null }> {
    if (forEmbedderId !== embedderId) {
      serving?.follower.restart();
      pending?.build.follower.restart();
      serving = null;
      pending = null;
      embedderId = forEmbedderId;
    }
    if (!serving) {
      serving = build(fit);
      loads++;
    } else if (!sameFit(serving.fit, fit) && !(pending && sameFit(pending.build.fit, fit))) {
      pending?.build.follower.restart();
      const next = build(fit);
      loads++;
      const done = next.follower.catchUp(seq).then(
        () => {
          if (pending?.build !== next) return;
          serving = next;
          pending = null;
        },
        () => {
          // A failed load is tried again by the next search that asks for this fit.
          if (pending?.build === next) pending = null;
        },
      );
      pending = { build: next, done };
    }
    const current = serving;
    await current.follower.catchUp(seq);
    return { index: current.index, fit: current.fit };
  }

  return {
    catchUpFitted,
    /** The serving index of the stored vectors `forEmbedderId` (used as stored: no fit applied). */
    async catchUp(forEmbedderId: string, seq: number): Promise<VectorIndex | null> {
      return (await catchUpFitted(forEmbedderId, seq, serving && forEmbedderId === embedderId ? serving.fit : null)).index;
    },
    /** Waits for the index of a new fit, if one is loading in the background, to take over. */
    async settled(): Promise<void> {
      while (pending) await pending.done;
    },
    /** The fit of the serving index (null before a load or for a remote embedder). */
    get fitId(): string | null {
      return serving?.fit?.id ?? null;
    },
    get loads(): number {
      return loads;
    },
    get size(): number {
      return serving?.index?.size ?? 0;
    },
    get lastLoadMs(): number | undefined {
      return serving?.follower.lastLoadMs;
    },
    get seq(): number {
      return serving?.follower.seq ?? -1;
    },
  };
}

/** A stored raw vector with the fit's components removed, re-encoded for the index. */
function projectStored(stored: Uint8Array, components: Float32Array): Uint8Array {
  return encodeVector(removeCommonComponent(decodeVector(stored), components));
}

export type KeywordFollower = ReturnType<typeof followKeywordIndex>;
export type VectorFollower = ReturnType<typeof followVectorIndex>;
