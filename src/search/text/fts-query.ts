/**
 * Turns arbitrary user text into an FTS5 MATCH expression that can never be parsed as
 * query syntax: every term becomes a double-quoted string literal (embedded quotes
 * doubled), terms are joined with OR, so `*`, `^`, `NEAR(`, `AND`/`OR`/`NOT`, column
 * filters (`col:`), parentheses and SQL fragments are searched as plain words or dropped
 * as separators. Ranking (bm25) then rewards documents matching more and rarer terms,
 * which is what a helpdesk search box wants (implicit AND returns nothing too often).
 */
import { analyzeKeywordTerms, tokenizeWords } from './tokenize.js';
import type { KeywordAnalyzerOptions } from './tokenize.js';

export interface FtsQueryOptions extends KeywordAnalyzerOptions {
  /**
   * `analyzed` (default): terms go through analyzeKeywordTerms, matching an index built
   * with toKeywordIndexText. `raw`: only tokenised/lower-cased, for an index that stores
   * original text and lets the FTS5 tokenizer (e.g. `porter unicode61`) do the work.
   */
  readonly mode?: 'analyzed' | 'raw';
  /** Upper bound on OR-ed terms, to keep pathological inputs cheap (default 32). */
  readonly maxTerms?: number;
}

/** Quotes one term as an FTS5 string literal. */
export function quoteFtsTerm(term: string): string {
  return `"${term.replace(/"/g, '""')}"`;
}

/** Safe MATCH expression, or null when the text contains nothing searchable. */
export function buildFtsMatchQuery(text: string, options: FtsQueryOptions = {}): string | null {
  let terms = options.mode === 'raw' ? tokenizeWords(text) : analyzeKeywordTerms(text, options);
  // A query made only of stopwords ("where is it?") still deserves an answer: fall back
  // to its stopwords, which the index contains only if it was built without removal,
  // otherwise the result is simply empty rather than an error.
  if (terms.length === 0 && options.mode !== 'raw') terms = analyzeKeywordTerms(text, { ...options, removeStopwords: false });
  const maxTerms = options.maxTerms ?? 32;
  const unique: string[] = [];
  const seen = new Set<string>();
  for (const t of terms) {
    // Bound term length too: a 10k-char "word" is not a real search term.
    const term = t.length > 64 ? t.slice(0, 64) : t;
    if (term.length === 0 || seen.has(term)) continue;
    seen.add(term);
    unique.push(term);
    if (unique.length >= maxTerms) break;
  }
  if (unique.length === 0) return null;
  return unique.map(quoteFtsTerm).join(' OR ');
}
