/**
 * Highlights: the first fragment of the subject or of a message where a query term occurs, with
 * the character ranges of the matching words. Computed on the original text (the index holds
 * analysed text), by analysing each word the way the keyword index does.
 */
import type { DbOrTx } from '../db/schema.js';
import { highlightSources } from './store.js';
import { analyzeKeywordTerms } from './text/tokenize.js';

export interface Highlight {
  field: 'subject' | 'message';
  /** A fragment of at most ~200 characters. */
  text: string;
  /** [start, end) offsets of matching words within `text` (UTF-16 code units). */
  ranges: [number, number][];
}

const WORD = /[\p{L}\p{N}]+(?:['\u2019][\p{L}\p{N}]+)*/gu;
const FRAGMENT = 200;

/** Highlights of a text, or null when no query term occurs in it. */
export function highlightText(field: Highlight['field'], text: string, terms: ReadonlySet<string>): Highlight | null {
  const matches: [number, number][] = [];
  for (const m of text.matchAll(WORD)) {
    if (analyzeKeywordTerms(m[0]).some((t) => terms.has(t))) matches.push([m.index!, m.index! + m[0].length]);
    if (matches.length && m.index! - matches[0]![0] > FRAGMENT) break;
  }
  if (matches.length === 0) return null;
  const first = matches[0]![0];
  let start = Math.max(0, first - 60);
  if (start > 0) {
    const space = text.indexOf(' ', start);
    if (space >= 0 && space < first) start = space + 1;
  }
  const end = Math.min(text.length, start + FRAGMENT);
  const ranges = matches.filter(([s, e]) => s >= start && e <= end).map(([s, e]) => [s - start, e - start] as [number, number]);
  return { field, text: text.slice(start, end), ranges };
}

/** Up to two highlights per ticket: the subject and the first matching message. */
export async function highlightsOf(db: DbOrTx, ticketIds: readonly string[], queryTerms: readonly string[]): Promise<Map<string, Highlight[]>> {
  const out = new Map<string, Highlight[]>();
  if (ticketIds.length === 0 || queryTerms.length === 0) return out;
  const terms = new Set(queryTerms);
  const { tickets, messages } = await highlightSources(db, ticketIds);
  for (const t of tickets) {
    const list: Highlight[] = [];
    const s = highlightText('subject', t.subject, terms);
    if (s) list.push(s);
    out.set(t.id, list);
  }
  for (const m of messages) {
    const list = out.get(m.ticket_id);
    if (!list || list.some((h) => h.field === 'message')) continue;
    const h = highlightText('message', m.body, terms);
    if (h) list.push(h);
  }
  return out;
}
