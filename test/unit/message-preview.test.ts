import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clipAtGraphemes, clipPreview } from '../../src/shared/message-preview.js';

// ASCII next to what extends or joins a cluster: combining marks, ZWJ, skin tones, flags, CR LF.
const pieces = ['a', 'b', ' ', '.', '\r', '\n', 'e\u0301', '\u0301', '\u200d', '👍', '👍🏽', '🇫🇷', '👩‍💻', '한', '\u1100\u1161', 'é', '中'];

describe('clipPreview', () => {
  it('cuts where the segmenter alone would, ASCII fast path or not', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (parts, max) => {
        const text = parts.join('');
        const whole = [...text].length <= max;
        assert.equal(clipPreview(text, max), whole ? text : clipAtGraphemes(text, max));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a long ASCII line to exactly the limit', () => {
    const clipped = clipPreview('x'.repeat(500));
    assert.equal(clipped, 'x'.repeat(200));
    assert.equal(clipPreview('ab\r\ncd', 3), 'ab');
  });
});
