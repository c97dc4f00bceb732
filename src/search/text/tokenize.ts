/**
 * Text normalisation shared by the keyword (FTS5) and the semantic (embedding) side,
 * so both see the same words: Unicode NFKD with combining marks removed (diacritic
 * folding, as FTS5 `remove_diacritics 2` does), lower-case, typographic apostrophes
 * unified, and English contractions split into the words they stand for.
 */
import { porterStem } from './stemmer.js';
import { ENGLISH_STOPWORDS } from './stopwords.js';

const COMBINING_MARKS = /\p{M}+/gu;
const APOSTROPHES = /[\u2018\u2019\u02bc\u0060\u00b4]/g;
// A word: letters/digits, optionally joined by inner apostrophes (don't, o'neil).
const WORD = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;

/** Contraction suffixes worth keeping as words (negation matters for intents). */
const CONTRACTION_SUFFIX: Record<string, string | null> = {
  "n't": 'not',
  "'m": 'am',
  "'re": 'are',
  "'ve": 'have',
  "'ll": 'will',
  "'d": 'would',
  "'s": null,
};
const IRREGULAR_NEGATION: Record<string, string> = { "can't": 'can', "won't": 'will', "shan't": 'shall', "ain't": 'is' };

/** Diacritics folded, lower-cased, apostrophes unified. */
export function normalizeText(text: string): string {
  return text.normalize('NFKD').replace(COMBINING_MARKS, '').toLowerCase().replace(APOSTROPHES, "'");
}

/**
 * Word tokens of `text` after normalisation. Contractions are split (`hasn't` -> `has not`,
 * `i'm` -> `i am`, possessive `'s` dropped) because neither FTS5 (which would index
 * `hasn` + `t`) nor GloVe (which has no `hasn't`) handles the joined form well.
 */
export function tokenizeWords(text: string): string[] {
  const out: string[] = [];
  for (const match of normalizeText(text).matchAll(WORD)) {
    const tok = match[0];
    if (!tok.includes("'")) {
      out.push(tok);
      continue;
    }
    const irregular = IRREGULAR_NEGATION[tok];
    if (irregular) {
      out.push(irregular, 'not');
      continue;
    }
    let handled = false;
    for (const suffix in CONTRACTION_SUFFIX) {
      if (tok.endsWith(suffix) && tok.length > suffix.length) {
        out.push(...tok.slice(0, -suffix.length).split("'"));
        const expansion = CONTRACTION_SUFFIX[suffix];
        if (expansion) out.push(expansion);
        handled = true;
        break;
      }
    }
    // Other inner apostrophes (o'neil): split like FTS5 unicode61 would.
    if (!handled) out.push(...tok.split("'"));
  }
  return out;
}

export interface KeywordAnalyzerOptions {
  /** Apply the Porter stemmer (default true). */
  readonly stem?: boolean | undefined;
  /** Drop ENGLISH_STOPWORDS (default true). */
  readonly removeStopwords?: boolean | undefined;
}

/** Terms for the keyword index and keyword queries: tokenised, stopwords removed, stemmed. */
export function analyzeKeywordTerms(text: string, options: KeywordAnalyzerOptions = {}): string[] {
  const stem = options.stem ?? true;
  const removeStopwords = options.removeStopwords ?? true;
  const out: string[] = [];
  for (const tok of tokenizeWords(text)) {
    if (removeStopwords && ENGLISH_STOPWORDS.has(tok)) continue;
    out.push(stem ? porterStem(tok) : tok);
  }
  return out;
}

/**
 * Value to store in an FTS5 column whose tokenizer is `unicode61 remove_diacritics 2`
 * (no `porter`: the stemming already happened here). Call at index time; build the query
 * with `buildFtsMatchQuery(text)` which applies the same analysis.
 */
export function toKeywordIndexText(text: string, options: KeywordAnalyzerOptions = {}): string {
  return analyzeKeywordTerms(text, options).join(' ');
}
