/**
 * Highlights: the first fragment of the subject or of a message where a query term occurs, with
 * the character ranges of the matching words. Computed on the original text (the index holds
 * analysed text), by analysing each word the way the keyword index does.
 */
import type { DbOrTx } from '../db/schema.js';
import { highlightMessages } from './store.js';
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

/**
 * Words already analysed (word -> its index terms): a page of results analyses a few thousand
 * words, most of them the same few hundred, and the analysis (normalising, stopwords, stemming) was
 * a fifth of a keyword search's time. Emptied when full, so it never holds more than `WORDS_KEPT`.
 */
const analysedWords = new Map<string, readonly string[]>();
const WORDS_KEPT = 50_000;
/** Longer words (codes, encoded blobs pasted into a message) are analysed each time, not kept. */
const WORD_KEPT_CHARS = 64;

function termsOfWord(word: string): readonly string[] {
  if (word.length > WORD_KEPT_CHARS) return analyzeKeywordTerms(word);
  let terms = analysedWords.get(word);
  if (terms === undefined) {
    if (analysedWords.size >= WORDS_KEPT) analysedWords.clear();
    terms = analyzeKeywordTerms(word);
    analysedWords.set(word, terms);
  }
  return terms;
}

/** Highlights of a text, or null when no query term occurs in it. */
export function highlightText(field: Highlight['field'], text: string, terms: ReadonlySet<string>): Highlight | null {
  const matches: [number, number][] = [];
  for (const m of text.matchAll(WORD)) {
    if (termsOfWord(m[0]).some((t) => terms.has(t))) matches.push([m.index!, m.index! + m[0].length]);
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

/** A ticket whose highlights are wanted, from its row. */
export interface HighlightedTicket {
  id: string;
  subject: string;
  /**
   * Its first message, when the caller knows it without reading messages (the description, when
   * the ticket opens with it: `FilterIndex.opensWithDescription`).
   */
  firstMessage?: string | undefined;
}

/**
 * Up to two highlights per ticket: the subject and the first matching message. The subjects come
 * with the tickets (the caller has read their rows already), and so may the first messages; the
 * messages are read here only for the tickets whose first message is not known or does not match.
 */
export async function highlightsOf(db: DbOrTx, tickets: readonly HighlightedTicket[], queryTerms: readonly string[]): Promise<Map<string, Highlight[]>> {
  const out = new Map<string, Highlight[]>();
  if (tickets.length === 0 || queryTerms.length === 0) return out;
  const terms = new Set(queryTerms);
  const unread: string[] = [];
  for (const t of tickets) {
    const list: Highlight[] = [];
    const s = highlightText('subject', t.subject, terms);
    if (s) list.push(s);
    const m = t.firstMessage === undefined ? null : highlightText('message', t.firstMessage, terms);
    if (m) list.push(m);
    else unread.push(t.id);
    out.set(t.id, list);
  }
  const messages = await highlightMessages(db, unread);
  for (const m of messages) {
    const list = out.get(m.ticket_id);
    if (!list || list.some((h) => h.field === 'message')) continue;
    const h = highlightText('message', m.body, terms);
    if (h) list.push(h);
  }
  return out;
}
