/**
 * Soft word matching of a query with a short text, with the built-in embedder's word vectors:
 * each content word of the query is matched to its most similar word of the text (cosine of the
 * GloVe vectors), and the similarities are averaged with the query words' SIF weights (the relaxed
 * word mover's distance of Kusner et al. 2015, one direction; BERTScore's greedy recall). Where a
 * pooled sentence vector blurs "can't sign on, the program quits" into the average of its words,
 * this keeps "sign"~"log" and "quits"~"closes". With word senses, two words WordNet calls
 * synonyms match at least at the senses' score, however far apart their vectors are
 * ("parcel"~"package"). Used on small corpora only (ranking.ts).
 */
import { ENGLISH_STOPWORDS } from '../text/stopwords.js';
import { tokenizeWords } from '../text/tokenize.js';
import { dot } from './embedder.js';
import type { WinkGloveEmbedder } from './wink-glove.js';
import { type WordNet, shareConcept } from './wordnet.js';

/** A text's content words as vocabulary rows, with their SIF weights. */
export interface SoftText {
  readonly rows: readonly number[];
  readonly weights: readonly number[];
}

/** Texts and word vectors remembered (bounded): a small brand's tickets are matched at every search. */
const TEXT_CACHE = 20_000;
const ROW_CACHE = 50_000;

export type SoftMatcher = ReturnType<typeof softMatcher>;

/** Word senses for the match: two words sharing a concept score at least `score`. */
export interface SenseMatch {
  readonly wordnet: WordNet;
  readonly score: number;
}

export function softMatcher(embedder: WinkGloveEmbedder, senses: SenseMatch | null = null) {
  const texts = new Map<string, SoftText>();
  // WordNet remembers each word's concepts itself.
  const conceptsOf = senses ? (row: number) => senses.wordnet.concepts(embedder.rowWord(row)) : null;
  const vectors = new Map<number, Float32Array>();
  const vectorOf = (row: number): Float32Array => {
    let v = vectors.get(row);
    if (!v) {
      if (vectors.size >= ROW_CACHE) vectors.clear();
      vectors.set(row, (v = embedder.rowVector(row)));
    }
    return v;
  };
  const wordScores = (q: SoftText, d: SoftText): number[] => {
    if (!q.rows.length || !d.rows.length) return [];
    const dv = d.rows.map(vectorOf);
    const dc = conceptsOf && d.rows.map(conceptsOf);
    return q.rows.map((row) => {
      const qv = vectorOf(row);
      const qc = conceptsOf?.(row);
      let best = -1;
      for (let i = 0; i < dv.length; i++) {
        let c = dot(qv, dv[i]!);
        if (senses && qc && dc && c < senses.score && shareConcept(qc, dc[i]!)) c = senses.score;
        if (c > best) best = c;
      }
      return best;
    });
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
    score: (q: SoftText, d: SoftText): number => weightedMean(wordScores(q, d), q.weights),
    /** Each word of `q`: its best cosine with a word of `d` (empty when either has no word). */
    wordScores,
  };
}

/** Mean of `xs` weighted by `weights` (0 when empty or weightless). */
export function weightedMean(xs: readonly number[], weights: readonly number[]): number {
  let sum = 0;
  let weight = 0;
  for (let i = 0; i < xs.length; i++) {
    sum += weights[i]! * xs[i]!;
    weight += weights[i]!;
  }
  return weight > 0 ? sum / weight : 0;
}

/**
 * How distinctively each document matches each query word, within the documents scored together:
 * per query word, the z-score of its best cosine in a document among all the documents' (`perDoc`:
 * one row per document, one column per query word), averaged with the words' weights. A word
 * every ticket matches about as well ("problem", "want") adds nothing; a word one ticket matches
 * much better than the others ("coupon"~"discount") counts. 0 for fewer than 2 documents.
 */
export function distinctiveness(perDoc: readonly (readonly number[])[], weights: readonly number[]): number[] {
  const n = perDoc.length;
  if (n < 2 || !weights.length) return perDoc.map(() => 0);
  const z = perDoc.map(() => new Array<number>(weights.length).fill(0));
  for (let w = 0; w < weights.length; w++) {
    let m = 0;
    for (const row of perDoc) m += row[w] ?? 0;
    m /= n;
    let v = 0;
    for (const row of perDoc) v += ((row[w] ?? 0) - m) ** 2;
    const sd = Math.sqrt(v / n);
    if (sd > 0) for (let d = 0; d < n; d++) z[d]![w] = ((perDoc[d]![w] ?? 0) - m) / sd;
  }
  return z.map((row) => weightedMean(row, weights));
}
