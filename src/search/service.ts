/**
 * Hybrid ticket search, composed of its parts: indexing inside each ticket-change transaction
 * (indexing.ts), the remote embedding queue (embedding-queue.ts), the in-process indexes that
 * follow the tables (index-follower.ts) and the ranking (ranking.ts). This file resolves a
 * request's filters and pages, and exposes the upkeep the server, workers and CLI run.
 */
import type { Static } from 'typebox';
import type { Db } from '../db/schema.js';
import type { Dialect } from '../db/open.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { type CursorCodec, cursorInteger } from '../http/cursor.js';
import { type Page, readCursor } from '../http/pagination.js';
import { validationError } from '../http/problem.js';
import type { BackgroundJob } from '../shared/background-job.js';
import { type Clock, parseInstant, toTimestamp } from '../shared/clock.js';
import { type TicketView, checkTags, normalizeEmail, toTicketView } from '../tickets/model.js';
import { type EmbedderSettings, createEmbedderProvider } from './embedder-provider.js';
import { createEmbeddingQueue } from './embedding-queue.js';
import { followFilterIndex } from './filter-index.js';
import { followKeywordIndex, followVectorIndex } from './index-follower.js';
import { createIndexing } from './indexing.js';
import type { KeywordIndex } from './keyword-index.js';
import { postgresKeywordIndex } from './keyword-postgres.js';
import { sqliteKeywordIndex } from './keyword-sqlite.js';
import { createRanker } from './ranking.js';
import { createSimilarTickets } from './similar.js';
import type { SearchBody } from './schemas.js';
import * as store from './store.js';
import { HYBRID_RECIPE } from './text/fusion.js';
import { highlightsOf, type Highlight } from './highlight.js';
import { SEARCH_TUNING } from './tuning.js';

export type { SearchMode } from './ranking.js';
export { SEARCH_TUNING } from './tuning.js';

/** The body of POST /v1/tickets/search; callers other than the route may leave out `limit` (20). */
export type SearchInput = Omit<Static<typeof SearchBody>, 'limit'> & { limit?: number | undefined };

export interface SearchResult {
  ticket: TicketView;
  score: number;
  highlights?: Highlight[];
  match: { keyword: number | null; semantic: number | null };
}

export interface SearchServiceDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  embedder?: EmbedderSettings | undefined;
  /** Signs and checks pagination cursors. */
  cursors: CursorCodec;
}

const noResults = (): Page<SearchResult> => ({ data: [], next_cursor: null });

/**
 * How often a serving process catches its search indexes up with the tables (`followJob`):
 * a search then waits for at most this long's changes, ~900 tickets at the create rate measured on
 * one core (docs/benchmarks.md), instead of for every change since the last search.
 */
export const FOLLOW_INTERVAL_MS = 1000;

export function createSearchService(deps: SearchServiceDeps) {
  const { db, clock, cursors } = deps;
  const keyword: KeywordIndex = deps.dialect === 'postgres' ? postgresKeywordIndex : sqliteKeywordIndex;
  const remote = deps.embedder?.remote !== undefined;
  const embedderProvider = createEmbedderProvider(deps.embedder ?? {});
  const keywordIndex = followKeywordIndex(db, keyword);
  const vectorIndex = followVectorIndex(db);
  const filterIndex = followFilterIndex(db);
  const ranker = createRanker({ db, keyword, embedderProvider, keywordIndex, vectorIndex, filterIndex });
  const indexing = createIndexing({ db, clock, keyword, embedderProvider, remote });
  const embeddingQueue = createEmbeddingQueue({ db, clock, embedderProvider, remote });
  const similarTickets = createSimilarTickets({ db, ranker, ticketRows: filterIndex.current });

  /**
   * Loads the in-process indexes (keyword, with the high tiers of its long lists; vectors, filter
   * fields; and the built-in model) ahead of the first search; the server starts it in the
   * background once listening. Loads are shared: a search arriving meanwhile waits for this same
   * load, and a warm-up after a search only catches up. Returns false, loading nothing, when no
   * ticket is indexed yet.
   */
  async function warmUp(): Promise<boolean> {
    if (!(await store.hasDocuments(db))) return false;
    const state = await store.readState(db);
    // One after another, not side by side: each load lets the event loop turn between slices of
    // its work, and three loads at once put three slices (and three batch reads) in every turn,
    // which requests then wait behind (turns of 30-70 ms at 100k tickets). A search meanwhile
    // waits for all three anyway, and starts the ones not yet under way.
    await keywordIndex.catchUp(state.seq);
    await filterIndex.catchUp(state.seq);
    const space = await embedderProvider.vectorSpace(db, state.componentsId);
    await vectorIndex.catchUpFitted(space.storedId, state.seq, space.fit);
    return true;
  }

  return {
    indexer: indexing.indexer,

    /**
     * Searches the tickets the principal may see. Results are sorted by `score` (in [0, 1]);
     * `next_cursor` continues the same ranking (an offset into it: a ticket changed between two
     * page requests may move by a position). Throws 422 when the query has no searchable word,
     * 400 for a cursor of another query.
     */
    async search(principal: Principal, input: SearchInput): Promise<Page<SearchResult>> {
      const queryText = input.query;
      if (!queryText.trim()) throw validationError('/query', 'must not be blank');
      const mode = input.mode ?? 'hybrid';
      const limit = input.limit ?? 20;
      const filters = resolveFilters(principal, input);
      const fingerprint = { q: queryText, f: input.filters ?? {}, m: mode };
      const offset = (await readCursor(cursors, 'search', fingerprint, input.after, [cursorInteger(1, SEARCH_TUNING.maxDepth)]))?.[0] ?? 0;
      if (offset >= SEARCH_TUNING.maxDepth) return noResults();
      // Hybrid fuses two rankings `HYBRID_RECIPE.depth` deep (a hit low on one side can rise on
      // the other). Keyword alone is one exact ranking, normalised by its best score, whose first
      // n hits are the same at any depth: it is searched only as deep as the page (and one more,
      // to tell whether a next page exists), which the keyword index's tiers answer far faster
      // than a top 100 (src/search/keyword-memory.ts, `searchTiered`).
      const wanted = offset + limit + 1;
      const depth = Math.min(SEARCH_TUNING.maxDepth, mode === 'keyword' ? wanted : Math.max(HYBRID_RECIPE.depth, wanted));
      const { fused } = await ranker.rank(queryText, filters, mode, depth);
      const page = fused.slice(offset, offset + limit);
      // The filter index as it is (not caught up): it only tells where the tickets' rows lie,
      // which does not change while they exist, and a document it does not know yet is read
      // through search_documents.
      const byDoc = await store.ticketsOfDocuments(
        db,
        page.map((h) => h.id),
        filterIndex.current,
      );
      const terms = mode === 'semantic' ? [] : store.queryTerms(queryText);
      const highlights = terms.length
        ? await highlightsOf(
            db,
            page.flatMap((h) => {
              const row = h.keyword && byDoc.get(h.id);
              if (!row) return [];
              // Most tickets open with their description, read with the row: no message to read.
              const opens = filterIndex.current.opensWithDescription(h.id, row.version);
              return [{ id: row.id, subject: row.subject, firstMessage: opens ? row.description : undefined }];
            }),
            terms,
          )
        : new Map<string, Highlight[]>();
      const data: SearchResult[] = [];
      for (const hit of page) {
        const row = byDoc.get(hit.id);
        // The filters already scope by brand; this re-check makes isolation independent of them.
        if (!row || !canSeeBrand(principal, row.brand_id)) continue;
        const hl = highlights.get(row.id);
        data.push({
          ticket: toTicketView(row),
          score: round(hit.score),
          ...(hl?.length ? { highlights: hl } : {}),
          match: { keyword: hit.keyword ? round(hit.keyword.normalized) : null, semantic: hit.semantic ? round(hit.semantic.normalized) : null },
        });
      }
      const more = fused.length > offset + limit && offset + limit < SEARCH_TUNING.maxDepth;
      return { data, next_cursor: more ? await cursors.encode('search', fingerprint, [offset + limit]) : null };
    },

    /** The tickets of the same brand most like one ticket (GET /v1/tickets/{id}/similar); see similar.ts. */
    similar: similarTickets.similar,

    reindex: indexing.reindex,
    purgeReplacedText: indexing.purgeReplacedText,

    /**
     * Background upkeep: with a remote endpoint, embeds the queued tickets; otherwise refines the
     * built-in embedder's fit as the corpus grows (see `refineFit`).
     */
    maintain(): Promise<number> {
      return remote ? embeddingQueue.drain() : indexing.refineFit();
    },

    embedPending: embeddingQueue.embedPending,

    warmUp,

    /**
     * The job that keeps the in-process indexes following the search tables between searches, run
     * by every serving process (src/server.ts, with `startJobs`): each tick catches them up on the
     * changes committed since, by this process or another, in the same slices as a warm-up. Without
     * it the first search after a burst of writes caught up on all of them before it answered, and
     * every search arriving meanwhile waited too: at 100k tickets, after 20 s of creates, 685 ms
     * against 20 ms (docs/benchmarks.md). The work is the same, done sooner: a search now finds at
     * most one interval's changes to follow.
     */
    followJob(everyMs = FOLLOW_INTERVAL_MS): BackgroundJob {
      return { name: 'search-follow', everyMs, run: warmUp };
    },

    /**
     * How many times each in-process index was loaded from empty, and what they hold: the keyword
     * index's memory in bytes (its typed arrays; the term strings not counted), and of it the
     * high tiers' (built during the warm-up).
     */
    indexStats(): { keywordLoads: number; vectorLoads: number; keywordDocuments: number; vectors: number; keywordBytes: number; keywordTierBytes: number } {
      const memory = keywordIndex.memory();
      return {
        keywordLoads: keywordIndex.loads,
        vectorLoads: vectorIndex.loads,
        keywordDocuments: keywordIndex.size,
        vectors: vectorIndex.size,
        keywordBytes: memory.bytes,
        keywordTierBytes: memory.tierBytes,
      };
    },

    /**
     * How far each in-process index is behind the search tables, in changes (the `seq` counter;
     * an index not loaded yet is behind by all of them), and its loads from empty: for metrics.
     * A serving process follows the tables every `FOLLOW_INTERVAL_MS` (`followJob`) and every
     * search catches up first, so a lag of about a second's writes is expected; one that stays is not.
     */
    async indexLag(): Promise<Record<'keyword' | 'vector' | 'filter', { behind: number; loads: number; lastLoadMs: number | undefined }>> {
      const { seq } = await store.readState(db);
      const of = (index: { seq: number; loads: number; lastLoadMs: number | undefined }) => ({
        behind: Math.max(0, seq - Math.max(index.seq, 0)),
        loads: index.loads,
        lastLoadMs: index.lastLoadMs,
      });
      return { keyword: of(keywordIndex), vector: of(vectorIndex), filter: of(filterIndex) };
    },

    /** The parts the benchmarks measure directly (bench/search-*), bypassing the request path. */
    ranker,
    embedderProvider,
    vectorIndex,
  };
}

/** The filters a search runs under: the request's, within the brands the principal may see. */
function resolveFilters(principal: Principal, input: SearchInput): store.SearchFilters {
  const f = input.filters ?? {};
  let brandIds = principal.brandIds;
  if (f.brand_id !== undefined) brandIds = canSeeBrand(principal, f.brand_id) ? [f.brand_id] : [];
  const instant = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const at = parseInstant(text);
    if (!at) throw validationError(`/filters/${name}`, 'must be a date or an RFC 3339 date-time');
    return toTimestamp(at);
  };
  return {
    brandIds,
    status: f.status,
    priority: f.priority,
    assigned_to: f.assigned_to ? normalizeEmail(f.assigned_to) : undefined,
    tags: f.tags?.length ? checkTags(f.tags, '/filters/tags') : undefined,
    created_after: instant('created_after', f.created_after),
    created_before: instant('created_before', f.created_before),
  };
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

export type SearchService = ReturnType<typeof createSearchService>;
