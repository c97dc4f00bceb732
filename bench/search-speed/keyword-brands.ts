/**
 * The in-process keyword index alone, on the HTTP bench's tickets (bench/http/data.ts: 20 brands,
 * text drawn from 70 words, so a two-word query matches most of a brand):
 * `node --max-old-space-size=8192 --import tsx bench/search-speed/keyword-brands.ts [N ...] [--queries 400]`
 * (default N = 10000 100000 1000000).
 *
 * For each N it fills a fresh `InvertedIndex` (no database: the text is analysed as the indexer
 * analyses it) and times the `POST /v1/tickets/search` bench's query — two words, one brand, top 20
 * — and the same query over every brand, and the one-brand query under mixed load: before each
 * query, one ticket of every brand gets new text (a reply re-indexes its ticket). Printed: ms per
 * query (median and p95 of `--queries`), each N's time against the first N's (the HTTP bar: at most
 * 1.5× lost from 10k to 1M), the index's typed arrays in MB, and how many searches the lists' high
 * tiers answered (the others scored every posting).
 */
import { performance } from 'node:perf_hooks';
import { InvertedIndex } from '../../src/search/keyword-memory.js';
import { queryTerms } from '../../src/search/store.js';
import { toKeywordIndexText } from '../../src/search/text/tokenize.js';
import { BRANDS, WORDS, brandId, seededRandom, ticketGenerator } from '../http/data.js';

const args = process.argv.slice(2);
const qi = args.indexOf('--queries');
const QUERIES = qi >= 0 ? Number(args[qi + 1]) : 400;
const Ns = args.filter((a, i) => !a.startsWith('--') && (qi < 0 || i !== qi + 1)).map(Number);
if (Ns.length === 0) Ns.push(10_000, 100_000, 1_000_000);

function fill(n: number): InvertedIndex {
  const index = new InvertedIndex();
  const gen = ticketGenerator();
  for (let i = 0; i < n; i++) {
    const { body, followUp } = gen.next(i);
    const conversation = followUp ? `${body.description} ${followUp.reply}` : body.description;
    index.upsert(i + 1, body.brand_id, {
      subject: toKeywordIndexText(body.subject),
      body: toKeywordIndexText(conversation),
      meta: toKeywordIndexText(`${body.tags.join(' ')} ${body.customer.name} ${body.customer.email}`),
    });
  }
  index.compact();
  return index;
}

/** Gives one ticket of every brand new text (the generator's brand of ticket i is brand i mod BRANDS). */
function changeEveryBrand(index: InvertedIndex, n: number, q: number): void {
  for (let b = 0; b < BRANDS; b++) {
    const id = 1 + ((q * 7919 * BRANDS + b) % n);
    index.upsert(id, brandId((id - 1) % BRANDS), { subject: `reply${q}`, body: toKeywordIndexText(`${WORDS[q % WORDS.length]} thanks`), meta: '' });
  }
}

function time(index: InvertedIndex, brands: (q: number) => string[] | null, before?: (q: number) => void): { p50: number; p95: number } {
  const rand = seededRandom(7);
  const pick = () => WORDS[Math.floor(rand() * WORDS.length)]!;
  const ms: number[] = [];
  // One unmeasured pass over every (word, brand) first: a long list's high tier is built by the
  // first search that reads it (a server builds each once), and this measures the searches after.
  for (const word of WORDS) for (let b = 0; b < BRANDS; b++) index.search(queryTerms(word), { brandIds: [brandId(b)] }, 20);
  for (let q = 0; q < QUERIES + 20; q++) {
    const terms = queryTerms(`${pick()} ${pick()}`);
    before?.(q);
    const t0 = performance.now();
    index.search(terms, { brandIds: brands(q) }, 20);
    if (q >= 20) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length / 2)]!, p95: ms[Math.floor(ms.length * 0.95)]! };
}

type Times = { p50: number; p95: number };
const rows: { n: number; one: Times; all: Times; mixed: Times; loadS: number; mb: number }[] = [];
for (const n of Ns) {
  const t0 = performance.now();
  const index = fill(n);
  const loadS = (performance.now() - t0) / 1000;
  const one = time(index, (q) => [brandId(q % BRANDS)]);
  const all = time(index, () => null);
  const mixed = time(
    index,
    (q) => [brandId(q % BRANDS)],
    (q) => changeEveryBrand(index, n, q),
  );
  const mb = index.bytes / 2 ** 20;
  rows.push({ n, one, all, mixed, loadS, mb });
  console.log(
    `N=${n.toLocaleString('en')}: filled in ${loadS.toFixed(1)} s, ${mb.toFixed(0)} MB of arrays; one brand p50 ${one.p50.toFixed(2)} ms; every brand p50 ${all.p50.toFixed(2)} ms; one brand under mixed load p50 ${mixed.p50.toFixed(2)} ms; searches answered by the high tiers ${index.tieredAnswers}, scored whole after trying them ${index.tieredFallbacks}`,
  );
}

const first = rows[0]!;
console.log(
  '\n| N | one brand: p50 / p95 ms | × first N | every brand: p50 / p95 ms | × first N | one brand, mixed load: p50 / p95 ms | × first N | index arrays |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows)
  console.log(
    `| ${r.n.toLocaleString('en')} | ${r.one.p50.toFixed(2)} / ${r.one.p95.toFixed(2)} | ${(r.one.p50 / first.one.p50).toFixed(1)}× | ${r.all.p50.toFixed(2)} / ${r.all.p95.toFixed(2)} | ${(r.all.p50 / first.all.p50).toFixed(1)}× | ${r.mixed.p50.toFixed(2)} / ${r.mixed.p95.toFixed(2)} | ${(r.mixed.p50 / first.mixed.p50).toFixed(1)}× | ${r.mb.toFixed(0)} MB |`,
  );
