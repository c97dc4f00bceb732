import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { buildFtsMatchQuery, quoteFtsTerm } from '../../src/search/text/fts-query.js';
import { buildExpandedFtsMatchQuery, selectFeedbackTerms } from '../../src/search/text/feedback.js';
import { toKeywordIndexText } from '../../src/search/text/tokenize.js';

const DOCS = [
  'My card has not arrived yet',
  'How do I top up with Apple Pay?',
  'Refund for a duplicate charge',
  'NEAR the ATM my card was declined',
  'Robert); DROP TABLE docs;-- asked about OR and NOT',
  'Café payment failed',
];

describe('buildFtsMatchQuery against a real FTS5 table', () => {
  let db: Database.Database;
  let search: (q: string | null) => number[];
  before(() => {
    db = new Database(':memory:');
    db.exec("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')");
    const ins = db.prepare('INSERT INTO docs(rowid, body) VALUES (?, ?)');
    DOCS.forEach((d, i) => {
      ins.run(i + 1, toKeywordIndexText(d));
    });
    const stmt = db.prepare('SELECT rowid AS id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 1.0)');
    search = (q) => (q === null ? [] : (stmt.all(q) as { id: number }[]).map((r) => r.id));
  });
  after(() => db.close());

  it('quotes every term', () => {
    assert.equal(buildFtsMatchQuery('Cards arriving'), '"card" OR "arriv"');
    assert.equal(quoteFtsTerm('a"b'), '"a""b"');
    assert.equal(buildFtsMatchQuery('He said "hi" NOT', { mode: 'raw' }), '"he" OR "said" OR "hi" OR "not"');
  });

  it('never throws on hostile input and searches it literally', () => {
    // biome-ignore format: a list of inputs, packed by hand to read as one block
    const nasty = [
      '"', '""', "'", '*', 'card*', '^card', 'NEAR(card atm, 2)', 'card AND NOT refund', 'OR', 'AND', 'NOT',
      'body:card', '{body}: card', '(((', ')', 'card + refund -duplicate', "'; DROP TABLE docs; --",
      'Robert"); DROP TABLE docs;--', '💳🔥', 'ÄÖÜ ß', 'x'.repeat(5000), 'a "b" c', '\u0000card\u0000',
      'SELECT * FROM docs WHERE 1=1', 'café', 'CAFE', '-', ':', 'card:', 'NEAR', 'near/3',
    ];
    for (const input of nasty) {
      const q = buildFtsMatchQuery(input);
      assert.doesNotThrow(() => search(q), `input ${JSON.stringify(input)} -> ${q}`);
    }
    assert.deepEqual(search(buildFtsMatchQuery('NEAR(card atm, 2)')), [4, 1]);
    assert.deepEqual(search(buildFtsMatchQuery("'; DROP TABLE docs; --")), [5]);
    assert.deepEqual(search(buildFtsMatchQuery('CAFÉ')), [6]);
    assert.deepEqual(search(buildFtsMatchQuery('apple*')), [2]);
    assert.equal((db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n, DOCS.length);
  });

  it('returns null when nothing searchable remains', () => {
    for (const input of ['', '   ', '💳🔥', '*** ??? !!!', '"()"', '-- ;']) assert.equal(buildFtsMatchQuery(input), null, input);
  });

  it('falls back to stopwords for an all-stopword query', () => {
    assert.equal(buildFtsMatchQuery('what is this'), '"what" OR "is" OR "thi"');
  });

  it('bounds the number and length of terms', () => {
    const many = Array.from({ length: 100 }, (_, i) => `word${i}`).join(' ');
    assert.equal(buildFtsMatchQuery(many)!.split(' OR ').length, 32);
    assert.ok(buildFtsMatchQuery('z'.repeat(1000))!.length <= 66);
  });

  it('feedback expansion stays safe and repeats the original terms', () => {
    const terms = selectFeedbackTerms('card arrived', ['Card delivery is late', 'Tracking my card delivery'], {
      count: 2,
      totalDocuments: 10,
      documentFrequency: () => 1,
    });
    assert.deepEqual(terms, ['deliveri', 'late']);
    const expr = buildExpandedFtsMatchQuery('card "arrived"', [...terms, 'x"y'], 2);
    assert.equal(expr, '"card" OR "arriv" OR "card" OR "arriv" OR "deliveri" OR "late" OR "x""y"');
    assert.doesNotThrow(() => search(expr));
    assert.equal(buildExpandedFtsMatchQuery('💳', [], 2), null);
  });
});
