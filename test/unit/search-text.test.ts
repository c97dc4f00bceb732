import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { porterStem } from '../../src/search/text/stemmer.js';
import { analyzeKeywordTerms, normalizeText, toKeywordIndexText, tokenizeWords } from '../../src/search/text/tokenize.js';
import { isStopword } from '../../src/search/text/stopwords.js';

describe('normalizeText / tokenizeWords', () => {
  it('folds diacritics and case', () => {
    assert.equal(normalizeText('Café CRÈME Ångström'), 'cafe creme angstrom');
    assert.deepEqual(tokenizeWords('Naïve façade, São Paulo!'), ['naive', 'facade', 'sao', 'paulo']);
  });

  it('splits contractions into words, keeping negation', () => {
    assert.deepEqual(tokenizeWords("My card hasn't arrived"), ['my', 'card', 'has', 'not', 'arrived']);
    assert.deepEqual(tokenizeWords('I can’t log in, I’m locked'), ['i', 'can', 'not', 'log', 'in', 'i', 'am', 'locked']);
    assert.deepEqual(tokenizeWords("won't the bank's app"), ['will', 'not', 'the', 'bank', 'app']);
  });

  it('treats punctuation, symbols and emoji as separators', () => {
    assert.deepEqual(tokenizeWords('top-up 💳 failed?! (error #42)'), ['top', 'up', 'failed', 'error', '42']);
    assert.deepEqual(tokenizeWords('   '), []);
  });
});

describe('analyzeKeywordTerms', () => {
  it('drops stopwords, stems, keeps negation', () => {
    assert.deepEqual(analyzeKeywordTerms('Why is my card not working?'), ['why', 'card', 'not', 'work']);
    assert.equal(toKeywordIndexText('The transfers are pending'), 'transfer pend');
    assert.ok(isStopword('the'));
    assert.ok(!isStopword('not'));
  });

  it('can keep stopwords and skip stemming', () => {
    assert.deepEqual(analyzeKeywordTerms('The cards', { stem: false, removeStopwords: false }), ['the', 'cards']);
  });
});

describe('porterStem', () => {
  it('matches the reference Porter outputs', () => {
    const cases: Record<string, string> = {
      caresses: 'caress',
      ponies: 'poni',
      cats: 'cat',
      agreed: 'agre',
      plastered: 'plaster',
      motoring: 'motor',
      hopping: 'hop',
      filing: 'file',
      happy: 'happi',
      relational: 'relat',
      conditional: 'condit',
      rational: 'ration',
      generalization: 'gener',
      hopeful: 'hope',
      goodness: 'good',
      adjustment: 'adjust',
      controll: 'control',
      roll: 'roll',
      yelling: 'yell',
      arrived: 'arriv',
      verification: 'verif',
      withdrawal: 'withdraw',
      is: 'is',
    };
    for (const [word, stem] of Object.entries(cases)) assert.equal(porterStem(word), stem, word);
  });

  it('leaves non a-z words alone', () => {
    assert.equal(porterStem('über'), 'über');
    assert.equal(porterStem('42nd'), '42nd');
  });

  it('agrees with SQLite FTS5 porter tokenizer on ticket vocabulary', () => {
    const words = (
      'card cards arrived arriving delivery delivered refund refunds refunded charged charges ' +
      'declined declining transfer transferring pending verification verify identity exchange rates ' +
      'withdrawal withdrawals topping activation activate disposable virtual happily generalization ' +
      'conditional relational hopeful goodness adjustment sensitivity electrical'
    ).split(' ');
    const db = new Database(':memory:');
    db.exec("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter ascii'); CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row');");
    const insert = db.prepare('INSERT INTO t(x) VALUES (?)');
    const lookup = db.prepare('SELECT term FROM v');
    for (const w of words) {
      db.exec('DELETE FROM t');
      insert.run(w);
      const rows = lookup.all() as { term: string }[];
      assert.equal(rows.length, 1);
      assert.equal(porterStem(w), rows[0]!.term, w);
    }
    db.close();
  });
});
