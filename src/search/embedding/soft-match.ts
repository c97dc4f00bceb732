/**
 * Soft word matching of a query with a short text, with the built-in embedder's word vectors:
 * each content word of the query is matched to its most similar word of the text (cosine of the
 * GloVe vectors), and the similarities are averaged with the query words' SIF weights (the relaxed
 * word mover's distance of Kusner et al. 2015, one direction; BERTScore's greedy recall). Where a
 * pooled sentence vector blurs "can't sign on, the program quits" into the average of its words,
 * this keeps "sign"~"log" and "quits"~"closes". Used on small corpora only (ranking.ts).
 */
import { ENGLISH_STOPWORDS } from '../text/stopwords.js';
import { tokenizeWords } from '../text/tokenize.js';
import { dot } from './embedder.js';
import type { WinkGloveEmbedder } from './wink-glove.js';

/** A text's content words as vocabulary rows, with their SIF weights. */
export interface SoftText {
  readonly rows: readonly number[];
  readonly weights: readonly number[];
}

/** Texts and word vectors remembered (bounded): a small brand's tickets are matched at every search. */
const TEXT_CACHE = 20_000;
const ROW_CACHE = 50_000;

export type SoftMatcher = ReturnType<typeof softMatcher>;

export function softMatcher(embedder: WinkGloveEmbedder) {
  const texts = new Map<string, SoftText>();
  const vectors = new Map<number, Float32Array>();
  const vectorOf = (row: number): Float32Array => {
    let v = vectors.get(row);
    if (!v) {
      if (vectors.size >= ROW_CACHE) vectors.clear();
      vectors.set(row, (v = embedder.rowVector(row)));
    }
    return v;
  };
  return {
    prepare(text: string): SoftText {
      let out = texts.get(text);
      if (!out) {
        out = embedder.wordRows([...new Set(tokenizeWords(text))].filter((t) => !ENGLISH_STOPWORDS.has(t)));
        if (texts.size >= TEXT_CACHE) texts.clear();
        texts.set(text, out);
      }
      return out;
    },
    /** Weighted mean over `q`'s words of their best cosine with a word of `d`, in [-1, 1]; 0 when either is empty. */
    score(q: SoftText, d: SoftText): number {
      if (!q.rows.length || !d.rows.length) return 0;
      const dv = d.rows.map(vectorOf);
      let sum = 0;
      let weight = 0;
      for (let i = 0; i < q.rows.length; i++) {
        const qv = vectorOf(q.rows[i]!);
        let best = -1;
        for (const v of dv) {
          const c = dot(qv, v);
          if (c > best) best = c;
        }
        sum += q.weights[i]! * best;
        weight += q.weights[i]!;
      }
      return weight > 0 ? sum / weight : 0;
    },
  };
}
