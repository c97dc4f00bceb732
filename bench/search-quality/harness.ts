/**
 * In-memory stand-in for the search service: a real better-sqlite3 FTS5 table queried
 * with bm25() for the keyword side, brute-force cosine over SIF vectors for the semantic
 * side, and the fusion / feedback steps of the recipe. The lead integration replaces
 * `SearchBackend` with calls to the real service; metrics and split stay the same.
 */
import Database from 'better-sqlite3';
import type { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { computeCommonComponents } from '../../src/search/embedding/embedder.js';
import { buildFtsMatchQuery } from '../../src/search/text/fts-query.js';
import { buildExpandedFtsMatchQuery, selectFeedbackTerms } from '../../src/search/text/feedback.js';
import { rocchioExpand } from '../../src/search/embedding/feedback.js';
import { analyzeKeywordTerms, toKeywordIndexText } from '../../src/search/text/tokenize.js';
import { fuseResults } from '../../src/search/text/fusion.js';
import type { FusionOptions, ScoredHit } from '../../src/search/text/fusion.js';
import type { LabelledText } from './dataset.js';

export interface KeywordConfig {
  /** FTS5 tokenize= argument. */
  readonly tokenizer: string;
  /** true: index/query text goes through toKeywordIndexText / analyzed MATCH. */
  readonly analyze: boolean;
  readonly stem?: boolean;
  readonly removeStopwords?: boolean;
}

export class KeywordIndex {
  private readonly db: Database.Database;
  private readonly stmt: Database.Statement;
  readonly config: KeywordConfig;
  private readonly texts: string[];
  private readonly df = new Map<string, number>();

  constructor(docs: readonly LabelledText[], config: KeywordConfig) {
    this.config = config;
    this.db = new Database(':memory:');
    this.db.exec(`CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = ${sqlString(config.tokenizer)})`);
    const insert = this.db.prepare('INSERT INTO docs(rowid, body) VALUES (?, ?)');
    const opts = { stem: config.stem, removeStopwords: config.removeStopwords };
    this.db.transaction(() => {
      docs.forEach((d, i) => {
        insert.run(i, config.analyze ? toKeywordIndexText(d.text, opts) : d.text);
      });
    })();
    // bm25() with an explicit column weight, as production will call it for subject/body.
    this.stmt = this.db.prepare('SELECT rowid AS id, -bm25(docs, 1.0) AS score FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 1.0) LIMIT ?');
    // Document frequencies of analysed terms (production: an fts5vocab 'row' table).
    this.texts = docs.map((d) => d.text);
    for (const d of docs) for (const t of new Set(analyzeKeywordTerms(d.text))) this.df.set(t, (this.df.get(t) ?? 0) + 1);
  }

  matchExpression(text: string): string | null {
    return buildFtsMatchQuery(text, {
      mode: this.config.analyze ? 'analyzed' : 'raw',
      stem: this.config.stem,
      removeStopwords: this.config.removeStopwords,
    });
  }

  searchExpression(expr: string | null, limit: number): ScoredHit<number>[] {
    if (!expr) return [];
    return this.stmt.all(expr, limit) as ScoredHit<number>[];
  }

  search(text: string, limit: number): ScoredHit<number>[] {
    return this.searchExpression(this.matchExpression(text), limit);
  }

  /** Keyword feedback via the production functions in src/search/text/feedback.ts. */
  expandedExpression(text: string, feedbackIds: readonly number[], terms: number, origRepeat: number): string | null {
    const extra = selectFeedbackTerms(
      text,
      feedbackIds.map((id) => this.texts[id]!),
      {
        count: terms,
        totalDocuments: this.texts.length,
        documentFrequency: (t) => this.df.get(t) ?? 0,
      },
    );
    return buildExpandedFtsMatchQuery(text, extra, origRepeat);
  }

  close(): void {
    this.db.close();
  }
}

export class VectorIndex {
  readonly vectors: Float32Array[];
  constructor(vectors: Float32Array[]) {
    this.vectors = vectors;
  }
  search(q: Float32Array, limit: number): ScoredHit<number>[] {
    const scores = new Float32Array(this.vectors.length);
    for (let i = 0; i < this.vectors.length; i++) {
      const v = this.vectors[i]!;
      let s = 0;
      for (let j = 0; j < v.length; j++) s += v[j]! * q[j]!;
      scores[i] = s;
    }
    return topK(scores, limit);
  }
}

export function topK(scores: Float32Array, k: number): ScoredHit<number>[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b]! - scores[a]!);
  return idx.slice(0, k).map((id) => ({ id, score: scores[id]! }));
}

export interface SemanticConfig {
  /** Common components to remove (0 = plain SIF). */
  readonly components: number;
}

/**
 * Embeds docs + queries the way production will: the component(s) are fitted on the
 * indexed documents only (never on queries), then installed in the embedder.
 */
export async function embedAll(
  embedder: WinkGloveEmbedder,
  docs: readonly LabelledText[],
  queries: readonly LabelledText[],
  config: SemanticConfig,
): Promise<{ docVecs: Float32Array[]; queryVecs: Float32Array[] }> {
  const texts = docs.map((d) => d.text);
  embedder.setCommonComponent(null);
  if (config.components > 0) {
    const pcs = computeCommonComponents(await embedder.embedRaw(texts), config.components);
    embedder.setCommonComponent(pcs);
  }
  const docVecs = await embedder.embed(texts);
  const queryVecs = await embedder.embed(queries.map((q) => q.text));
  embedder.setCommonComponent(null);
  return { docVecs, queryVecs };
}

export interface RecipeOptions {
  readonly depth: number;
  readonly fusion: FusionOptions;
  /** Semantic Rocchio PRF from the first-pass fused ranking: number of docs (0 = off). */
  readonly semPrfDocs: number;
  readonly semPrfBeta: number;
  /** Keyword RM3-lite from the first-pass fused ranking: feedback docs, added terms. */
  readonly kwPrfDocs: number;
  readonly kwPrfTerms: number;
  readonly kwPrfOrigRepeat: number;
  /** Source of feedback docs: 'fused' first pass, or each side's own first pass. */
  readonly prfSource: 'fused' | 'self';
}

export interface RecipeResult {
  readonly keyword: number[];
  readonly semantic: number[];
  readonly hybrid: number[];
}

/** One query through the whole recipe; returns the three rankings (ids) at `limit`. */
export function runRecipe(kw: KeywordIndex, vec: VectorIndex, queryText: string, queryVec: Float32Array, opts: RecipeOptions, limit = 10): RecipeResult {
  const kwHits = kw.search(queryText, opts.depth);
  const semHits = vec.search(queryVec, opts.depth);
  let fused = fuseResults(kwHits, semHits, opts.fusion);
  let finalKw = kwHits;
  let finalSem = semHits;
  if (opts.semPrfDocs > 0 || opts.kwPrfDocs > 0) {
    const fusedIds = fused.map((h) => h.id);
    if (opts.semPrfDocs > 0) {
      const ids = (opts.prfSource === 'fused' ? fusedIds : semHits.map((h) => h.id)).slice(0, opts.semPrfDocs);
      if (ids.length)
        finalSem = vec.search(
          rocchioExpand(
            queryVec,
            ids.map((id) => vec.vectors[id]!),
            opts.semPrfBeta,
          ),
          opts.depth,
        );
    }
    if (opts.kwPrfDocs > 0) {
      const ids = (opts.prfSource === 'fused' ? fusedIds : kwHits.map((h) => h.id)).slice(0, opts.kwPrfDocs);
      if (ids.length) finalKw = kw.searchExpression(kw.expandedExpression(queryText, ids, opts.kwPrfTerms, opts.kwPrfOrigRepeat), opts.depth);
    }
    fused = fuseResults(finalKw, finalSem, opts.fusion);
  }
  return {
    keyword: kwHits.slice(0, limit).map((h) => h.id),
    semantic: semHits.slice(0, limit).map((h) => h.id),
    hybrid: fused.slice(0, limit).map((h) => h.id),
  };
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
