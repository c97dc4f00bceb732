import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { dot, removeCommonComponent } from '../../src/search/embedding/embedder.js';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';
import { fitDocuments, isLegacyFitId } from '../../src/search/embedder-provider.js';
import { oneEditVariants, typoTolerant } from '../../src/search/text/typos.js';

describe('one-edit variants', () => {
  it('lists deletions, swaps, replacements and insertions, never the word itself', () => {
    const v = new Set(oneEditVariants('reciev'));
    for (const w of ['receiv', 'recie', 'reciev'.slice(1), 'preciev', 'recuev']) assert.ok(v.has(w) || w === 'reciev', w);
    assert.ok(v.has('receiv'), 'swap of neighbours');
    assert.ok(!v.has('reciev'));
    assert.ok(oneEditVariants('pasword').includes('password'));
  });
  it('applies to alphabetic words of the minimum length only', () => {
    assert.equal(typoTolerant('password', 5), true);
    assert.equal(typoTolerant('plan', 5), false);
    assert.equal(typoTolerant('10021', 5), false);
    assert.equal(typoTolerant('order10021', 5), false);
  });
});

describe('fit ids', () => {
  it('reads the corpus size of a corpus fit and tells legacy ids apart', () => {
    assert.equal(fitDocuments('corpus-1234-0badf00d'), 1234);
    assert.equal(fitDocuments('general-0badf00d'), 0);
    assert.equal(fitDocuments(null), 0);
    assert.equal(isLegacyFitId('wink-glove-6b-100d/sif-a0.001+pc0badf00d'), true);
    assert.equal(isLegacyFitId('corpus-1234-0badf00d'), false);
    assert.equal(isLegacyFitId(null), false);
  });
});

describe('built-in embedder: general fit and out-of-vocabulary words', () => {
  let embedder: WinkGloveEmbedder;
  before(async () => {
    embedder = await WinkGloveEmbedder.load(resolve('.cache/embeddings'));
  });

  it('fits the general components deterministically, 2 orthonormal rows', () => {
    const a = embedder.fitGeneral();
    const b = embedder.fitGeneral();
    assert.deepEqual(a, b);
    assert.equal(a.length, 2 * embedder.dimensions);
    const row = (i: number) => a.subarray(i * embedder.dimensions, (i + 1) * embedder.dimensions);
    assert.ok(Math.abs(dot(row(0), row(0)) - 1) < 1e-4);
    assert.ok(Math.abs(dot(row(0), row(1))) < 1e-4);
  });

  it('embeds a misspelling outside the vocabulary as the word one edit away', async () => {
    const pc = embedder.fitGeneral();
    const cos = (a: string, b: string) => dot(removeCommonComponent(embedder.embedRawOne(a), pc), removeCommonComponent(embedder.embedRawOne(b), pc));
    assert.ok(cos('pasword reset', 'password reset') > 0.99);
    // A very rare row ("acount") is read as the common word it misspells.
    assert.ok(cos('acount', 'account') > 0.99);
    // A run-together word is read as its two words.
    assert.ok(cos('signin', 'sign in') > 0.6);
    // Nothing close: no vector from it (a zero vector alone).
    assert.ok(embedder.embedRawOne('qzxwvkj').every((x) => x === 0));
  });
});
