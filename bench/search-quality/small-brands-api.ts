/**
 * Small brands through the API (the real app over a temporary SQLite file, hybrid mode): for each
 * weight of the soft match's distinctiveness term (`--distinct=0,0.1`) and each word-sense setting
 * (`--senses=none,3:1:0.8`, see below; SEARCH_TUNING is set in process), (1) the small-corpora set of test/fixtures/search-paraphrases.ts: share of paraphrases
 * with their ticket in the top 3, share of off-topic queries with no hit found by meaning alone;
 * (2) Banking77 (BANKING77_CSV): `--brands` brands of `--size` tickets drawn per seed (`--seeds=3,4,5`),
 * 25 queries per brand from other rows of an intent the brand has, nDCG@10 and same intent in the
 * top 3. `tsx bench/search-quality/small-brands-api.ts --distinct=0,0.1`
 */
import { OFF_TOPIC_QUERIES, PARAPHRASE_BRANDS } from '../../test/fixtures/search-paraphrases.js';
import { buildTestApp, type TestApp } from '../../test/helpers/app.js';
import { createBrand, createTicket } from '../../test/helpers/factories.js';
import { SEARCH_TUNING } from '../../src/search/tuning.js';
import { loadBanking77, seededRandom } from './dataset.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
// Each configuration: a distinctiveness weight, and the word senses as k:h:s (the first k senses, direct
// hypernyms when h is 1, a shared concept scoring at least s) or "none".
const configs = arg('distinct', '0,0.1')
  .split(',')
  .map(Number)
  .flatMap((distinct) =>
    arg('senses', 'none')
      .split(',')
      .map((senses) => ({ distinct, senses })),
  );
const configName = (c: (typeof configs)[number]) => `distinct ${c.distinct}${c.senses === 'none' ? '' : `, senses ${c.senses}`}`;
function apply(c: (typeof configs)[number]): void {
  SEARCH_TUNING.softMatchDistinctWeight = c.distinct;
  const [k, h, score] = c.senses === 'none' ? [3, 0, 0] : c.senses.split(':').map(Number);
  Object.assign(SEARCH_TUNING, { softMatchSenses: k, softMatchHypernyms: h === 1, softMatchSenseScore: score });
}
const seeds = arg('seeds', '3,4,5').split(',').map(Number);
const size = Number(arg('size', '25'));
const brandCount = Number(arg('brands', '8'));
const QUERIES = 25;

type Hit = { ticket: { id: string }; match: { keyword: number | null } };
const search = async (t: TestApp, query: string, brandId: string): Promise<Hit[]> => {
  const res = await t.request({ method: 'POST', url: '/v1/tickets/search', body: { query, filters: { brand_id: brandId }, limit: 10 } });
  if (res.statusCode !== 200) throw new Error(res.body);
  return res.json().data as Hit[];
};

async function paraphraseSet(): Promise<string> {
  const t = await buildTestApp();
  try {
    const cases: { brandId: string; ticketId: string; paraphrase: string }[] = [];
    const brandIds: string[] = [];
    for (const brand of PARAPHRASE_BRANDS) {
      const { id: brandId } = await createBrand(t, { name: brand.name });
      brandIds.push(brandId);
      for (const ticket of brand.tickets) {
        const created = await createTicket(t, brandId, { subject: ticket.subject, description: ticket.description });
        cases.push({ brandId, ticketId: created.id, paraphrase: ticket.paraphrase });
      }
    }
    const out: string[] = [];
    for (const c of configs) {
      apply(c);
      let top3 = 0;
      for (const c of cases) {
        const pos = (await search(t, c.paraphrase, c.brandId)).findIndex((h) => h.ticket.id === c.ticketId);
        if (pos >= 0 && pos < 3) top3++;
      }
      let empty = 0;
      for (const q of OFF_TOPIC_QUERIES) {
        let n = 0;
        for (const b of brandIds) n += (await search(t, q, b)).filter((h) => h.match.keyword === null).length;
        if (n === 0) empty++;
      }
      out.push(
        `${configName(c)}: paraphrase top 3 ${top3}/${cases.length} (${((100 * top3) / cases.length).toFixed(1)} %), off-topic empty ${empty}/${OFF_TOPIC_QUERIES.length}`,
      );
    }
    return out.join('\n');
  } finally {
    await t.close();
  }
}

async function banking(seed: number): Promise<string> {
  const rows = loadBanking77();
  const rand = seededRandom(seed);
  const t = await buildTestApp();
  try {
    const used = new Set<number>();
    const brands: { id: string; labels: Map<string, string>; counts: Map<string, number>; queries: number[] }[] = [];
    for (let b = 0; b < brandCount; b++) {
      const { id } = await createBrand(t, { name: `banking ${b}` });
      const labels = new Map<string, string>();
      const counts = new Map<string, number>();
      while (labels.size < size) {
        const d = Math.floor(rand() * rows.length);
        if (used.has(d)) continue;
        used.add(d);
        const r = rows[d]!;
        const created = await createTicket(t, id, { subject: r.text.slice(0, 120), description: r.text });
        labels.set(created.id, r.label);
        counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
      }
      brands.push({ id, labels, counts, queries: [] });
    }
    for (const b of brands)
      while (b.queries.length < QUERIES) {
        const q = Math.floor(rand() * rows.length);
        if (!used.has(q) && b.counts.has(rows[q]!.label)) {
          used.add(q);
          b.queries.push(q);
        }
      }
    const out: string[] = [];
    for (const c of configs) {
      apply(c);
      let ndcg = 0;
      let top3 = 0;
      let n = 0;
      for (const b of brands)
        for (const q of b.queries) {
          const ids = (await search(t, rows[q]!.text, b.id)).map((h) => h.ticket.id);
          const label = rows[q]!.label;
          let dcg = 0;
          let idcg = 0;
          for (let i = 0; i < 10; i++) {
            if (ids[i] && b.labels.get(ids[i]!) === label) dcg += 1 / Math.log2(i + 2);
            if (i < b.counts.get(label)!) idcg += 1 / Math.log2(i + 2);
          }
          ndcg += dcg / idcg;
          top3 += ids.slice(0, 3).some((id) => b.labels.get(id) === label) ? 1 : 0;
          n++;
        }
      out.push(
        `seed ${seed}, ${configName(c)}: Banking77 ${brandCount} brands of ${size}, nDCG@10 ${(ndcg / n).toFixed(4)}, same intent in the top 3 ${(top3 / n).toFixed(4)} (${n} queries)`,
      );
    }
    return out.join('\n');
  } finally {
    await t.close();
  }
}

console.log(await paraphraseSet());
for (const seed of seeds) console.log(await banking(seed));
