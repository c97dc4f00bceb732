/**
 * The two depth checks (on raw text before parsing, on the parsed value for metadata) walk without
 * recursion and agree on where a value first nests too deep.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { findDepthProblemInText, findJsonProblem } from '../../src/http/input-guard.js';

describe('JSON depth checks', () => {
  it('handle a million levels without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1_000_000; i++) deep = i % 2 ? [deep] : { k: deep };
    const problem = findJsonProblem(deep, 32);
    assert.equal(problem?.message, 'nests objects and arrays deeper than 32 levels');
    const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    assert.equal(findDepthProblemInText(text, 32)?.pointer, '/0'.repeat(32));
  });

  it('count the value itself as level 1 and point at the first container past the limit', () => {
    const value = { a: [1, { b: {} }], c: { d: { e: [] } } };
    assert.equal(findJsonProblem(value, 4), undefined);
    assert.deepEqual(findJsonProblem(value, 3), { pointer: '/a/1/b', message: 'nests objects and arrays deeper than 3 levels' });
    assert.deepEqual(findDepthProblemInText(JSON.stringify(value), 3), { pointer: '/a/1/b', message: 'nests objects and arrays deeper than 3 levels' });
    // Brackets and quotes inside strings are text, and member names are escaped in pointers.
    const tricky = '{"x\\"[{":"[[[[{{{{","a/b~":[[["]]]"]]]}';
    assert.equal(findDepthProblemInText(tricky, 4), undefined);
    assert.deepEqual(findDepthProblemInText(tricky, 3), { pointer: '/a~1b~0/0/0', message: 'nests objects and arrays deeper than 3 levels' });
  });

  it('agree with each other on any JSON value (property, seeded)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 7 }), fc.integer({ min: 1, max: 8 }), (value, limit) => {
        fc.pre(findJsonProblem(value, Infinity) === undefined); // text problems are the parsed check's alone
        const text = JSON.stringify(value);
        assert.deepEqual(findDepthProblemInText(text, limit), findJsonProblem(JSON.parse(text), limit));
      }),
      { seed: 9, numRuns: 2000 },
    );
  });

  it('refuse NUL and lone surrogates in strings and member names, with their pointer', () => {
    assert.deepEqual(findJsonProblem({ a: ['ok', 'x\u0000'] }, 32), { pointer: '/a/1', message: 'must not contain the NUL character (U+0000)' });
    assert.equal(findJsonProblem({ 'k\ud800': 1 }, 32)?.message, 'the member name must be well-formed Unicode (a lone surrogate is not)');
    assert.equal(findJsonProblem({ emoji: '😀', pair: '\ud83d\ude00' }, 32), undefined);
  });
});
