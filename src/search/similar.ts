/**
 * Similar tickets ("how was this answered before?"): the tickets of the same brand nearest to one
 * ticket, ranked by the search's own hybrid recipe (ranking.ts) with what the customer wrote as
 * the query, the ticket itself left out.
 */
import type { Db } from '../db/schema.js';
import { type Principal, canSeeBrand } from '../auth/scopes.js';
import { AppError } from '../http/problem.js';
import { type TicketView, toTicketView } from '../tickets/model.js';
import { getVisibleRow } from '../tickets/visibility.js';
import type { Ranker, SearchMode } from './ranking.js';
import { customerTextOf, docIdOfTicket } from './similar-store.js';
import * as store from './store.js';
import { HYBRID_RECIPE } from './text/fusion.js';

/** Longest query built from a ticket: its opening (subject, description, first messages) says what it is about. */
export const SIMILAR_QUERY_CHARS = 2000;

export interface SimilarTicket {
  ticket: TicketView;
  /** The hybrid score in [0, 1], as a search for this ticket's text would give it. */
  score: number;
  /** The ticket's status (also `ticket.status`): resolved neighbours are the ones with an answer. */
  status: TicketView['status'];
  match: { keyword: number | null; semantic: number | null };
}

export interface SimilarOptions {
  /** 1–50; default 10. */
  limit?: number | undefined;
  /** For the bench: one side only (the API always ranks hybrid). */
  mode?: SearchMode | undefined;
}

/** The query a ticket is compared by: subject, description and the customer's first messages, each once. */
export function similarQueryText(text: { subject: string; description: string; messages: readonly string[] }): string {
  const parts = [text.subject, text.description];
  for (const m of text.messages) if (!parts.includes(m)) parts.push(m);
  return parts
    .map((p) => p.trim())
    .filter(Boolean)
    .join('\n')
    .slice(0, SIMILAR_QUERY_CHARS);
}

/** `ticketRows`: where the neighbours' ticket rows lie (the filter index), as for a search page. */
export function createSimilarTickets(deps: { db: Db; ranker: Ranker; ticketRows?: store.TicketRowLocator }) {
  const { db, ranker, ticketRows } = deps;
  return {
    /**
     * The tickets most like `ticketId` in its own brand, best first (at most `limit`), each with
     * its score and status. 404 when the ticket does not exist or its brand is not the
     * principal's (as a retrieve). Only tickets that the search would return for this text are
     * listed (a word of it in common, or a meaning above the relevance floor), with a score above
     * 0, so a ticket unlike any other has none.
     */
    async similar(principal: Principal, ticketId: string, options: SimilarOptions = {}): Promise<{ data: SimilarTicket[] }> {
      const row = await getVisibleRow(db, principal, ticketId);
      const limit = options.limit ?? 10;
      const text = await customerTextOf(db, row.id);
      const query = text ? similarQueryText(text) : '';
      if (!query) return { data: [] };
      const self = await docIdOfTicket(db, row.id);
      let fused: Awaited<ReturnType<Ranker['rank']>>['fused'];
      try {
        ({ fused } = await ranker.rank(query, { brandIds: [row.brand_id] }, options.mode ?? 'hybrid', Math.max(HYBRID_RECIPE.depth, limit + 1)));
      } catch (err) {
        // A text with no searchable word (only symbols or stopwords) has no neighbours; it is
        // not the caller's input, so not a 422.
        if (err instanceof AppError && err.code === 'validation_failed') return { data: [] };
        throw err;
      }
      // A neighbour scored 0 (rounded) says nothing about this ticket: not listed.
      const page = fused.filter((h) => h.id !== self && round(h.score) > 0).slice(0, limit);
      const byDoc = await store.ticketsOfDocuments(
        db,
        page.map((h) => h.id),
        ticketRows,
      );
      const data: SimilarTicket[] = [];
      for (const hit of page) {
        const found = byDoc.get(hit.id);
        if (!found || found.id === row.id || !canSeeBrand(principal, found.brand_id)) continue;
        const ticket = toTicketView(found);
        data.push({
          ticket,
          score: round(hit.score),
          status: ticket.status,
          match: { keyword: hit.keyword ? round(hit.keyword.normalized) : null, semantic: hit.semantic ? round(hit.semantic.normalized) : null },
        });
      }
      return { data };
    },
  };
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;
