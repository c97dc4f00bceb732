/**
 * Soft word matching (src/search/embedding/soft-match.ts) on Banking77 in memory, 5-fold: the rows
 * are shuffled into 5 folds; for each fold, brands of `size` documents drawn from the other folds
 * and up to 50 queries per brand from the held-out fold (an intent the brand has). Semantic-only
 * ranking (general fit, what a small brand has) by cosine + w x soft match, for several w.
 * Prints nDCG@10 (relevant = same intent) and the share with a same-intent ticket in the top 3,
 * mean ± sd over the folds. `tsx bench/search-quality/soft-match-banking.ts 20 50 200 1000`
 */
import { DEFAULT_EMBEDDINGS_CACHE_DIR } from '../../src/search/embedder-provider.js';
import { dot, removeCommonComponent } from '../../src/search/embedding/embedder.js';
import { type SoftMatcher, distinctiveness, softMatcher, weightedMean } from '../../src/search/embedding/soft-match.js';
import { WordNet, wordnetDictionary } from '../../src/search/embedding/wordnet.js';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { loadBanking77, seededRandom } from './dataset.js';

const sizes = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
// `--z=a,b`: the shipped weight 2 with the per-word distinctiveness term (soft-match.ts) at each weight instead.
const zArg = process.argv.find((a) => a.startsWith('--z='))?.slice(4);
// `--senses=k:h:s,...`: the shipped weight 2 with WordNet senses (wordnet.ts) in the word match instead:
// the first k senses, direct hypernyms when h is 1, shared concept scoring at least s; "none" for without.
const sensesArg = process.argv.find((a) => a.startsWith('--senses='))?.slice(9);
const embedder = await WinkGloveEmbedder.load(DEFAULT_EMBEDDINGS_CACHE_DIR);
const wordnet = (k: number, h: boolean) => new WordNet(wordnetDictionary(), { senses: k, hypernyms: h });
const configs: { w: number; z: number; senses: string; soft: SoftMatcher }[] = sensesArg
  ? sensesArg.split(',').map((c) => {
      const [k, h, score] = c.split(':').map(Number);
      return { w: 2, z: 0, senses: c, soft: softMatcher(embedder, c === 'none' ? null : { wordnet: wordnet(k!, h === 1), score: score! }) };
    })
  : (zArg ? zArg.split(',').map((z) => ({ w: 2, z: Number(z) })) : [0, 0.5, 1, 2, 4].map((w) => ({ w, z: 0 }))).map((c) => ({
      ...c,
      senses: '',
      soft: softMatcher(embedder),
    }));
const fit = embedder.fitGeneral();
const soft = configs[0]!.soft;
const rows = loadBanking77();
const rand = seededRandom(7);
const FOLDS = 5;
const foldOf = rows.map(() => Math.floor(rand() * FOLDS));
const vec = rows.map((r) => removeCommonComponent(embedder.embedRawOne(r.text), fit));
const words = rows.map((r) => soft.prepare(r.text));
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
for (const size of sizes) {
  const perFold = new Map<number, { ndcg: number[]; top3: number[] }>();
  for (let fold = 0; fold < FOLDS; fold++) {
    const sums = new Map<number, { ndcg: number; top3: number; n: number }>();
    for (let trial = 0; trial < Math.max(1, Math.round(1000 / size)); trial++) {
      const picked = new Set<number>();
      while (picked.size < size) {
        const d = Math.floor(rand() * rows.length);
        if (foldOf[d] !== fold) picked.add(d);
      }
      const docs = [...picked];
      const intents = new Map<string, number>();
      for (const d of docs) intents.set(rows[d]!.label, (intents.get(rows[d]!.label) ?? 0) + 1);
      const queries: number[] = [];
      while (queries.length < Math.min(50, size)) {
        const q = Math.floor(rand() * rows.length);
        if (foldOf[q] === fold && intents.has(rows[q]!.label)) queries.push(q);
      }
      for (const q of queries) {
        const cos = docs.map((d) => dot(vec[q]!, vec[d]!));
        const rel = intents.get(rows[q]!.label)!;
        for (const [l, c] of configs.entries()) {
          const perWord = docs.map((d) => c.soft.wordScores(words[q]!, words[d]!));
          const sm = perWord.map((b) => weightedMean(b, words[q]!.weights));
          const zs = zArg ? distinctiveness(perWord, words[q]!.weights) : sm.map(() => 0);
          const order = docs.map((d, i) => ({ d, s: cos[i]! + c.w * sm[i]! + c.z * zs[i]! })).sort((a, b) => b.s - a.s);
          let dcg = 0;
          let idcg = 0;
          for (let i = 0; i < 10; i++) {
            if (order[i] && rows[order[i]!.d]!.label === rows[q]!.label) dcg += 1 / Math.log2(i + 2);
            if (i < rel) idcg += 1 / Math.log2(i + 2);
          }
          const s = sums.get(l) ?? { ndcg: 0, top3: 0, n: 0 };
          s.ndcg += dcg / idcg;
          s.top3 += order.slice(0, 3).some((o) => rows[o.d]!.label === rows[q]!.label) ? 1 : 0;
          s.n++;
          sums.set(l, s);
        }
      }
    }
    for (const [l, s] of sums) {
      const f = perFold.get(l) ?? { ndcg: [], top3: [] };
      f.ndcg.push(s.ndcg / s.n);
      f.top3.push(s.top3 / s.n);
      perFold.set(l, f);
    }
  }
  for (const [l, f] of perFold)
    console.log(
      `size ${size}, cosine + ${configs[l]!.w} x soft${configs[l]!.z ? ` + ${configs[l]!.z} x distinctiveness` : ''}${configs[l]!.senses ? ` senses ${configs[l]!.senses}` : ''}: nDCG@10 ${mean(f.ndcg).toFixed(4)} ± ${sd(f.ndcg).toFixed(4)}, same intent in the top 3 ${mean(f.top3).toFixed(4)} ± ${sd(f.top3).toFixed(4)}`,
    );
}
