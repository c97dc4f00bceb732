/**
 * Research harness for the small-corpora set (test/fixtures/search-paraphrases.ts), in memory with
 * the built-in embedder and the general fit: for each scoring rule, the share of paraphrases whose
 * ticket is in the brand's top 3 among the tickets the rule keeps, and the share of off-topic
 * queries (searched in every brand) with nothing kept. `tsx bench/search-quality/small-corpora.ts`
 */
import { DEFAULT_EMBEDDINGS_CACHE_DIR } from '../../src/search/embedder-provider.js';
import { dot, removeCommonComponent } from '../../src/search/embedding/embedder.js';
import { NOT_SUPPORT_SAMPLE, SUPPORT_SAMPLE } from '../../src/search/embedding/general-sample.js';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { type SoftText, softMatcher } from '../../src/search/embedding/soft-match.js';
import { OFF_TOPIC_QUERIES, PARAPHRASE_BRANDS } from '../../test/fixtures/search-paraphrases.js';

const embedder = await WinkGloveEmbedder.load(DEFAULT_EMBEDDINGS_CACHE_DIR);
const fit = embedder.fitGeneral();
const sentence = (t: string) => removeCommonComponent(embedder.embedRawOne(t), fit);
const mode = process.argv.find((a) => a.startsWith('--soft='))?.split('=')[1] ?? 'q';
const base = softMatcher(embedder);
const soft = {
  prepare: base.prepare,
  score: (q: SoftText, d: SoftText) =>
    mode === 'sym' ? (base.score(q, d) + base.score(d, q)) / 2 : mode === 'f1' ? f1(base.score(q, d), base.score(d, q)) : base.score(q, d),
};
function f1(a: number, b: number) {
  return a + b > 0 ? (2 * a * b) / (a + b) : 0;
}
const support = SUPPORT_SAMPLE.map(sentence);
const notSupport = NOT_SUPPORT_SAMPLE.map(sentence);
const supportSoft = SUPPORT_SAMPLE.map((t) => soft.prepare(t));
const notSupportSoft = NOT_SUPPORT_SAMPLE.map((t) => soft.prepare(t));

const top3 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => b - a).slice(0, 3);
  return s.length ? s.reduce((a, b) => a + b, 0) / s.length : -Infinity;
};

interface Doc {
  vec: Float32Array;
  soft: ReturnType<typeof soft.prepare>;
  subject: ReturnType<typeof soft.prepare>;
}
const brands = PARAPHRASE_BRANDS.map((b) => ({
  docs: b.tickets.map(
    (t): Doc => ({ vec: sentence(`${t.subject}\n${t.description}`), soft: soft.prepare(`${t.subject}\n${t.description}`), subject: soft.prepare(t.subject) }),
  ),
  tickets: b.tickets,
}));

type Rule = {
  name: string;
  score: (q: string, qv: Float32Array, qs: ReturnType<typeof soft.prepare>, d: Doc) => number;
  keep: (q: string, qv: Float32Array, qs: ReturnType<typeof soft.prepare>, docs: Doc[], scores: number[]) => boolean[];
};

const cosineAbout = (qv: Float32Array, docs: Doc[]) =>
  top3([...docs.map((d) => dot(qv, d.vec)), ...support.map((v) => dot(qv, v))]) > top3(notSupport.map((v) => dot(qv, v)));
const softAbout = (qs: ReturnType<typeof soft.prepare>, docs: Doc[], margin: number) =>
  top3([...docs.map((d) => soft.score(qs, d.soft)), ...supportSoft.map((s) => soft.score(qs, s))]) >
  top3(notSupportSoft.map((s) => soft.score(qs, s))) + margin;

const lambda = Number(process.argv.find((a) => a.startsWith('--lambda='))?.split('=')[1] ?? 1);
/** The "about the corpus" test on cosine + lambda x soft match, as `cosineAbout` is on the cosine alone. */
const blendAbout = (qv: Float32Array, qs: ReturnType<typeof soft.prepare>, docs: Doc[]) =>
  top3([
    ...docs.map((d) => dot(qv, d.vec) + lambda * soft.score(qs, d.soft)),
    ...support.map((v, i) => dot(qv, v) + lambda * soft.score(qs, supportSoft[i]!)),
  ]) > top3(notSupport.map((v, i) => dot(qv, v) + lambda * soft.score(qs, notSupportSoft[i]!)));
const rules: Rule[] = [
  {
    name: `cosine + ${lambda} max(soft, soft subject), about by (cos+soft), no floor`,
    score: (_q, qv, qs, d) => dot(qv, d.vec) + lambda * Math.max(soft.score(qs, d.soft), soft.score(qs, d.subject)),
    keep: (_q, qv, qs, docs) => {
      const about = blendAbout(qv, qs, docs);
      return docs.map(() => about);
    },
  },
  {
    name: 'cosine, about (shipped semantic side)',
    score: (_q, qv, _qs, d) => dot(qv, d.vec),
    keep: (_q, qv, _qs, docs, scores) => {
      const about = cosineAbout(qv, docs);
      return scores.map((s) => about && s >= 0.1);
    },
  },
  {
    name: 'soft only, soft about',
    score: (_q, _qv, qs, d) => soft.score(qs, d.soft),
    keep: (_q, _qv, qs, docs, scores) => {
      const about = softAbout(qs, docs, 0);
      return scores.map(() => about);
    },
  },
  {
    name: 'soft only, cosine about, floor 0.1',
    score: (_q, _qv, qs, d) => soft.score(qs, d.soft),
    keep: (_q, qv, _qs, docs) => {
      const about = cosineAbout(qv, docs);
      return docs.map((d) => about && dot(qv, d.vec) >= 0.1);
    },
  },
  {
    name: `cosine + ${lambda} soft, cosine about floor 0.1`,
    score: (_q, qv, qs, d) => dot(qv, d.vec) + lambda * soft.score(qs, d.soft),
    keep: (_q, qv, _qs, docs) => {
      const about = cosineAbout(qv, docs);
      return docs.map((d) => about && dot(qv, d.vec) >= 0.1);
    },
  },
  {
    name: `cosine + ${lambda} soft, about by either, no floor`,
    score: (_q, qv, qs, d) => dot(qv, d.vec) + lambda * soft.score(qs, d.soft),
    keep: (_q, qv, qs, docs) => {
      const about = cosineAbout(qv, docs) || softAbout(qs, docs, 0);
      return docs.map(() => about);
    },
  },
  {
    name: `cosine + ${lambda} soft, about by both, no floor`,
    score: (_q, qv, qs, d) => dot(qv, d.vec) + lambda * soft.score(qs, d.soft),
    keep: (_q, qv, qs, docs) => {
      const about = cosineAbout(qv, docs) && softAbout(qs, docs, 0);
      return docs.map(() => about);
    },
  },
  {
    name: `cosine + ${lambda} soft, about by (cos+soft), no floor`,
    score: (_q, qv, qs, d) => dot(qv, d.vec) + lambda * soft.score(qs, d.soft),
    keep: (_q, qv, qs, docs) => {
      const about = blendAbout(qv, qs, docs);
      return docs.map(() => about);
    },
  },
];

for (const rule of rules) {
  let hit = 0;
  let total = 0;
  const misses: string[] = [];
  for (const b of brands) {
    for (const [i, t] of b.tickets.entries()) {
      const qv = sentence(t.paraphrase);
      const qs = soft.prepare(t.paraphrase);
      const scores = b.docs.map((d) => rule.score(t.paraphrase, qv, qs, d));
      const kept = rule.keep(t.paraphrase, qv, qs, b.docs, scores);
      const ranked = scores
        .map((s, j) => ({ s, j }))
        .filter((x) => kept[x.j])
        .sort((a, b) => b.s - a.s)
        .map((x) => x.j);
      const pos = ranked.indexOf(i);
      total++;
      if (pos >= 0 && pos < 3) hit++;
      else misses.push(`${t.paraphrase} (${pos < 0 ? 'none' : pos + 1})`);
    }
  }
  let empty = 0;
  const noisy: string[] = [];
  for (const q of OFF_TOPIC_QUERIES) {
    const qv = sentence(q);
    const qs = soft.prepare(q);
    let n = 0;
    for (const b of brands) {
      const scores = b.docs.map((d) => rule.score(q, qv, qs, d));
      n += rule.keep(q, qv, qs, b.docs, scores).filter(Boolean).length;
    }
    if (n === 0) empty++;
    else noisy.push(`${q} (${n})`);
  }
  console.log(
    `${rule.name}: top 3 ${((100 * hit) / total).toFixed(1)} % (${hit}/${total}); off-topic empty ${((100 * empty) / OFF_TOPIC_QUERIES.length).toFixed(0)} %`,
  );
  if (process.argv.includes('--verbose')) console.log(`  misses: ${misses.join('; ')}\n  noisy: ${noisy.join('; ')}`);
}
