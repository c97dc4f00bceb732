import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { htmlToText } from '../../src/shared/html-text.js';

describe('htmlToText (a mail or an imported message that has only HTML)', () => {
  it('decodes every entity, not a handful', () => {
    assert.equal(htmlToText('<p>Caf&eacute; &amp; cr&egrave;me &#8212; it&#8217;s &lt;fine&gt;</p>'), 'Café & crème — it’s <fine>');
  });

  it('keeps blocks and line breaks as lines, drops scripts, styles and images, keeps link targets', () => {
    const text = htmlToText(
      '<style>p{color:red}</style><div><p>First <b>line</b></p><p>Second<br>third</p><img src="x.png" alt="logo"><script>alert(1)</script><a href="https://example.com/help">help</a></div>',
    );
    assert.deepEqual(
      text.split('\n').filter((l) => l.trim()),
      ['First line', 'Second', 'third', 'help [https://example.com/help]'],
    );
  });
});
