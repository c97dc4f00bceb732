import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  componentFromBuffer,
  componentToBuffer,
  computeCommonComponents,
  dot,
  isCorpusFittedEmbedder,
  removeCommonComponent,
} from '../../src/search/embedding/embedder.js';
import { rocchioExpand } from '../../src/search/embedding/feedback.js';
import { loopTurnsDuring } from '../helpers/event-loop.js';
import { buildGloveCache, ensureGloveCache, gloveTableInSlices, loadGloveCache, loadGloveCacheInSlices } from '../../src/search/embedding/glove-cache.js';
import { EmbeddingEndpointError, OpenAICompatibleEmbedder, embeddingsEndpoint } from '../../src/search/embedding/openai-compatible.js';
import { distinctiveness, softMatcher, weightedMean } from '../../src/search/embedding/soft-match.js';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { WordNet, shareConcept, wordnetDictionary } from '../../src/search/embedding/wordnet.js';
import { analyzeKeywordTerms } from '../../src/search/text/tokenize.js';

// Shared, git-ignored cache: built once (~4 s) on the first run, loaded in ~0.2 s after.
const CACHE_DIR = resolve('.cache/embeddings');

describe('GloVe binary cache', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'glove-cache-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips a wink-format file, including escapes and tokens split across reads', async () => {
    const words = ['the', 'say "hi"', 'back\\slash', 'café', 'n\u00e4he', 'x'];
    const vectors: Record<string, number[]> = {};
    const expected: number[][] = [];
    words.forEach((w, rank) => {
      const v = Array.from({ length: 4 }, (_, j) => Number(((rank + 1) * (j % 2 ? -1 : 1) * (0.123456 + j) * (j === 3 ? 1e-5 : 1)).toPrecision(6)));
      expected.push(v);
      vectors[w] = [...v, Math.hypot(...v), rank];
    });
    // Key order differs from rank order on purpose: the rank stored in the row decides.
    const shuffled = Object.fromEntries(Object.entries(vectors).reverse());
    const json = JSON.stringify({
      precision: 6,
      l2NormIndex: 4,
      wordIndex: 5,
      size: words.length,
      dimensions: 4,
      words,
      vectors: shuffled,
      unkVector: [0, 0, 0, 0, -1],
    })
      .replace(/,/g, ' ,\n ')
      .replace('"vectors"', '"vectors"  ');
    const source = join(dir, 'mini.json');
    writeFileSync(source, json);
    const target = join(dir, 'mini.bin');
    for (const chunk of [3, 7, 64, 1 << 20]) {
      await buildGloveCache(source, target, chunk);
      const table = loadGloveCache(target);
      assert.equal(table.dimensions, 4);
      assert.equal(table.count, words.length);
      words.forEach((w, rank) => {
        assert.equal(table.index.get(w), rank, `rank of ${w} with chunk ${chunk}`);
        const maxAbs = Math.max(...expected[rank]!.map(Math.abs));
        for (let j = 0; j < 4; j++) {
          const got = table.data[rank * 4 + j]! * table.scales[rank]!;
          assert.ok(Math.abs(got - expected[rank]![j]!) <= maxAbs / 254 + 1e-9, `${w}[${j}] ${got} vs ${expected[rank]![j]}`);
        }
      });
    }
  });

  it('rejects a file that is not a cache, and one whose vocabulary does not hold its word count', async () => {
    const bogus = join(dir, 'bogus.bin');
    writeFileSync(bogus, 'not a cache at all, definitely');
    assert.throws(() => loadGloveCache(bogus), /not a GloVe cache/);
    await assert.rejects(loadGloveCacheInSlices(bogus), /not a GloVe cache/);
    const source = join(dir, 'two.json');
    writeFileSync(
      source,
      JSON.stringify({ precision: 6, l2NormIndex: 2, wordIndex: 3, size: 2, dimensions: 2, words: ['a', 'b'], vectors: { a: [1, 0, 1, 0], b: [0, 1, 1, 1] } }),
    );
    const cut = join(dir, 'cut.bin');
    await buildGloveCache(source, cut);
    // One word more in the vocabulary than the header counts.
    writeFileSync(cut, Buffer.concat([readFileSync(cut), Buffer.from('\nc')]));
    const bytes = readFileSync(cut);
    bytes.writeUInt32LE(bytes.readUInt32LE(20) + 2, 20);
    writeFileSync(cut, bytes);
    assert.throws(() => loadGloveCache(cut), /corrupt GloVe cache vocab/);
    await assert.rejects(loadGloveCacheInSlices(cut), /corrupt GloVe cache vocab/);
  });

  it('loads the real table in slices, letting the event loop run, to the same table as at once', async () => {
    const path = await ensureGloveCache(CACHE_DIR);
    const whole = loadGloveCache(path);
    // The bytes read beforehand: only the building of the table is counted.
    const { result: sliced, turns } = await loopTurnsDuring(() => gloveTableInSlices(readFileSync(path), path, 1));
    assert.equal(sliced.count, whole.count);
    assert.equal(sliced.index.size, whole.index.size);
    for (const word of ['the', 'refund', 'parcel', 'café']) assert.equal(sliced.index.get(word), whole.index.get(word), word);
    assert.deepEqual(sliced.data.subarray(0, 1000), whole.data.subarray(0, 1000));
    // 341k words at ~1 ms a slice: the loop ran many times while the index was built.
    assert.ok(turns >= 20, `the event loop ran ${turns} times`);
    // Every word once, with its row, across the index's maps.
    const rows = new Set<number>();
    for (const [word, row] of sliced.index) {
      assert.equal(whole.index.get(word), row, word);
      rows.add(row);
    }
    assert.equal(rows.size, sliced.index.size);
  });
});

describe('WinkGloveEmbedder', () => {
  let embedder: WinkGloveEmbedder;
  before(async () => {
    embedder = await WinkGloveEmbedder.load(CACHE_DIR);
  });

  it('loads the real vocabulary from the cache', async () => {
    const table = loadGloveCache(await ensureGloveCache(CACHE_DIR));
    assert.equal(table.dimensions, 100);
    assert.ok(table.count > 300_000);
    assert.equal(table.index.get('the'), 0);
    assert.equal(embedder.dimensions, 100);
    assert.ok(isCorpusFittedEmbedder(embedder));
    // Frequent words get small SIF weights, rare content words weights near 1.
    assert.ok(embedder.wordWeight('the') < 0.05);
    assert.ok(embedder.wordWeight('refund') > 0.9);
  });

  it('returns unit vectors, and zero vectors for unknown text', async () => {
    const [a, empty] = await embedder.embed(['Where is my new card?', 'zxqvj 💳']);
    assert.ok(a && empty);
    assert.equal(a.length, 100);
    assert.ok(Math.abs(dot(a, a) - 1) < 1e-5);
    assert.ok(empty.every((x) => x === 0));
  });

  it('scores a paraphrase with no shared keyword closer than an unrelated sentence', async () => {
    const cases: [string, string, string][] = [
      ['My card has not arrived yet', 'Still waiting for the delivery of the plastic', 'What is the exchange rate for euros?'],
      ['How do I reset my passcode?', 'I forgot the PIN code and want a new one', 'Why was I charged a fee abroad?'],
      ['I was charged twice for the same purchase', 'Duplicate payment taken from my account', 'How can I change my address?'],
    ];
    for (const [query, paraphrase, unrelated] of cases) {
      const shared = analyzeKeywordTerms(query).filter((t) => analyzeKeywordTerms(paraphrase).includes(t));
      assert.deepEqual(shared, [], 'test premise: no shared keyword');
      const [q, p, u] = await embedder.embed([query, paraphrase, unrelated]);
      assert.ok(q && p && u);
      assert.ok(dot(q, p) > dot(q, u) + 0.05, `${query}: ${dot(q, p)} vs ${dot(q, u)}`);
    }
  });

  it('fits, persists and reloads common components; embed() then removes them', async () => {
    const texts = ['card not arrived', 'refund pending', 'exchange rate euro', 'top up failed', 'pin blocked', 'cash withdrawal fee'];
    const raw = await embedder.embedRaw(texts);
    const idBefore = embedder.id;
    const pcs = embedder.fitCommonComponent(raw);
    try {
      assert.equal(pcs.length, 2 * 100);
      const u1 = pcs.subarray(0, 100);
      const u2 = pcs.subarray(100, 200);
      assert.ok(Math.abs(dot(u1, u1) - 1) < 1e-4 && Math.abs(dot(u1, u2)) < 1e-3);
      assert.notEqual(embedder.id, idBefore);
      const restored = componentFromBuffer(componentToBuffer(pcs));
      assert.deepEqual(restored, pcs);
      embedder.setCommonComponent(null);
      embedder.setCommonComponent(restored);
      const [v] = await embedder.embed([texts[0]!]);
      assert.ok(v);
      assert.ok(Math.abs(dot(v, u1)) < 1e-5 && Math.abs(dot(v, u2)) < 1e-5);
      // Fixing up a stored raw unit vector gives the same result as re-embedding.
      const fixed = removeCommonComponent(Float32Array.from(raw[0]!), restored);
      assert.ok(dot(fixed, v) > 0.9999);
      assert.deepEqual(computeCommonComponents(raw, 2), pcs);
      assert.throws(() => embedder.setCommonComponent(new Float32Array(7)), /multiple of 100/);
    } finally {
      embedder.setCommonComponent(null);
    }
  });

  it('rocchioExpand moves the query towards the feedback centroid', async () => {
    const [q, f1, f2, other] = await embedder.embed(['card arrival', 'card delivery time', 'when will my card come', 'exchange rate']);
    assert.ok(q && f1 && f2 && other);
    const expanded = rocchioExpand(q, [f1, f2], 1);
    assert.ok(Math.abs(dot(expanded, expanded) - 1) < 1e-5);
    assert.ok(dot(expanded, f2) > dot(q, f2));
    assert.ok(dot(expanded, other) < dot(expanded, f2));
    assert.deepEqual(rocchioExpand(q, []), q);
  });
});

describe('soft word match', () => {
  it('scores a paraphrase with no word in common above an unrelated text, and stays in [-1, 1]', async () => {
    const soft = softMatcher(await WinkGloveEmbedder.load(CACHE_DIR));
    const query = soft.prepare('duplicate payment taken from my account');
    const ticket = soft.prepare('Charged twice\nMy card was billed two times for one purchase.');
    const other = soft.prepare('Parcel never arrived\nMy package was supposed to come last week.');
    const s = soft.score(query, ticket);
    assert.ok(s > soft.score(query, other), `${s} vs ${soft.score(query, other)}`);
    assert.ok(s <= 1 && s >= -1);
    // A text with only stopwords or unknown words has nothing to match.
    assert.equal(soft.score(soft.prepare('the of and'), ticket), 0);
    assert.equal(soft.score(query, soft.prepare('')), 0);
    // Identical words match fully.
    assert.ok(Math.abs(soft.score(ticket, ticket) - 1) < 1e-5);
    assert.ok(Math.abs(soft.score(query, ticket) - weightedMean(soft.wordScores(query, ticket), query.weights)) < 1e-9);
  });

  it('distinctiveness: a word every document matches alike adds nothing; one document matching a word best ranks first', () => {
    // Two query words (weights 1 and 1); the first is matched alike by all three documents.
    const perDoc = [
      [0.5, 0.9],
      [0.5, 0.2],
      [0.5, 0.1],
    ];
    const z = distinctiveness(perDoc, [1, 1]);
    assert.ok(z[0]! > 0 && z[1]! < 0 && z[2]! < z[1]!, String(z));
    assert.ok(Math.abs(z.reduce((a, b) => a + b, 0)) < 1e-9);
    // Fewer than 2 documents, or no query word: 0.
    assert.deepEqual(distinctiveness([[0.7]], [1]), [0]);
    assert.deepEqual(distinctiveness([[], []], []), [0, 0]);
  });

  it('with word senses, words sharing a WordNet synset match as the same word; without, only as near as their vectors', async () => {
    const embedder = await WinkGloveEmbedder.load(CACHE_DIR);
    const wordnet = new WordNet(wordnetDictionary(), { senses: 3, hypernyms: false });
    const plain = softMatcher(embedder);
    const senses = softMatcher(embedder, { wordnet, score: 1 });
    // "guarantee" and "warranty" share a noun synset; "parcels" is an inflection of "parcel", a
    // synonym of "package"; GloVe puts each pair well under 1.
    const query = plain.prepare('guarantee parcels');
    const ticket = plain.prepare('warranty package');
    const [g, p] = plain.wordScores(query, ticket);
    assert.ok(g! < 0.9 && p! < 0.9, `${g} ${p}`);
    assert.deepEqual(senses.wordScores(query, ticket), [1, 1]);
    // Unrelated words keep their cosine; a word WordNet does not know is matched by its vector only.
    const other = plain.prepare('zebra xbox');
    assert.deepEqual(senses.wordScores(query, other), plain.wordScores(query, other));
  });
});

describe('WordNet', () => {
  const wordnet = new WordNet(wordnetDictionary(), { senses: 3, hypernyms: false });

  it('finds a word through its inflections and shares a concept only between synonyms', () => {
    assert.ok(wordnet.concepts('package').length > 0);
    assert.deepEqual(wordnet.concepts('packages'), wordnet.concepts('package'));
    assert.ok(shareConcept(wordnet.concepts('parcel'), wordnet.concepts('package')));
    assert.ok(shareConcept(wordnet.concepts('guarantees'), wordnet.concepts('warranty')));
    assert.ok(!shareConcept(wordnet.concepts('zebra'), wordnet.concepts('parcel')));
    // Unknown words, and the first and last lemmas of the sorted index files, are found or not without error.
    assert.deepEqual(wordnet.concepts('qzxv'), []);
    assert.deepEqual(wordnet.concepts(''), []);
    assert.ok(wordnet.concepts('zyrian').length > 0, 'last noun of the index');
    assert.ok(wordnet.concepts('aah').length > 0, 'first verb of the index');
  });

  it('counts only the first senses, and direct hypernyms when asked', () => {
    const one = new WordNet(wordnetDictionary(), { senses: 1, hypernyms: false });
    assert.ok(one.concepts('present').length < wordnet.concepts('present').length);
    // "present" (a gift, its second noun sense) is a kind of "gift": a hypernym, not a synonym.
    assert.ok(!shareConcept(wordnet.concepts('present'), wordnet.concepts('gift')));
    const withHypernyms = new WordNet(wordnetDictionary(), { senses: 3, hypernyms: true });
    assert.ok(shareConcept(withHypernyms.concepts('present'), withHypernyms.concepts('gift')));
    withHypernyms.close();
  });
});

describe('OpenAICompatibleEmbedder', () => {
  let server: Server;
  let base: string;
  const requests: { auth?: string | undefined; body: { model: string; input: string[] } }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const parsed = JSON.parse(body) as { model: string; input: string[] };
        requests.push({ auth: req.headers.authorization, body: parsed });
        if (req.url !== '/v1/embeddings' || parsed.model === 'broken') {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('model overloaded');
          return;
        }
        // Reverse order with explicit indexes: the client must re-order by index.
        const data = parsed.input.map((t, index) => ({ index, embedding: [t.length, 1, 0] })).reverse();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('batches, re-orders by index, normalises and sends the key', async () => {
    const e = new OpenAICompatibleEmbedder({ url: `${base}/`, model: 'm1', apiKey: 'k-123', batchSize: 2 });
    requests.length = 0;
    const out = await e.embed(['a', 'bbb', '', 'cccc', 'dd']);
    assert.equal(requests.length, 3);
    assert.deepEqual(
      requests.map((r) => r.body.input),
      [['a', 'bbb'], ['cccc'], ['dd']],
    );
    assert.equal(requests[0]!.auth, 'Bearer k-123');
    assert.equal(e.dimensions, 3);
    assert.ok(Math.abs(out[1]![0]! - 3 / Math.hypot(3, 1)) < 1e-6);
    assert.deepEqual(Array.from(out[2]!), [0, 0, 0]);
    assert.ok(e.id.startsWith('openai-compatible:m1@127.0.0.1'));
  });

  it('throws a clear error on non-2xx and on an unreachable endpoint', async () => {
    const e = new OpenAICompatibleEmbedder({ url: base, model: 'broken' });
    await assert.rejects(
      e.embed(['x']),
      (err: unknown) => err instanceof EmbeddingEndpointError && err.status === 503 && /HTTP 503: model overloaded/.test(err.message),
    );
    const dead = new OpenAICompatibleEmbedder({ url: 'http://127.0.0.1:9', model: 'm', timeoutMs: 2000 });
    await assert.rejects(dead.embed(['x']), /failed/);
  });

  it('accepts the endpoint as a full URL, a `/v1` base or a bare base', () => {
    assert.equal(embeddingsEndpoint('http://127.0.0.1:11434'), 'http://127.0.0.1:11434/v1/embeddings');
    assert.equal(embeddingsEndpoint('http://127.0.0.1:11434/'), 'http://127.0.0.1:11434/v1/embeddings');
    assert.equal(embeddingsEndpoint('https://api.openai.com/v1'), 'https://api.openai.com/v1/embeddings');
    assert.equal(embeddingsEndpoint('https://api.openai.com/v1/'), 'https://api.openai.com/v1/embeddings');
    assert.equal(embeddingsEndpoint('https://api.openai.com/v1/embeddings'), 'https://api.openai.com/v1/embeddings');
    assert.equal(embeddingsEndpoint('https://gw.example/openai/v1'), 'https://gw.example/openai/v1/embeddings');
    assert.equal(embeddingsEndpoint('https://gw.example/team-a'), 'https://gw.example/team-a/v1/embeddings');
    assert.equal(
      embeddingsEndpoint('https://gw.example/deployments/x/embeddings?api-version=2024-02-01'),
      'https://gw.example/deployments/x/embeddings?api-version=2024-02-01',
    );
  });

  it('keeps the API key out of its error messages', async () => {
    const echo = createServer((req, res) => void req.resume().on('end', () => res.writeHead(502).end(`bad gateway for ${req.headers.authorization}`)));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    try {
      const e = new OpenAICompatibleEmbedder({ url: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`, model: 'm', apiKey: 'sk-very-secret' });
      await assert.rejects(
        e.embed(['x']),
        (err: unknown) =>
          err instanceof EmbeddingEndpointError && err.status === 502 && !err.message.includes('sk-very-secret') && err.message.includes('[redacted]'),
      );
    } finally {
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});
