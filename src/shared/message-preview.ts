import { htmlToPreviewText } from './html-text.js';

/** The longest preview, in code points (what JSON Schema's `maxLength` counts). */
export const PREVIEW_MAX_CHARS = 200;

// A closing tag, or one of the elements that end a line: enough to tell an HTML body from text
// that merely holds a `<` (`a<b`, `<3`, `<tick_…>`).
const HTML_HINT = /<\/[a-z][a-z0-9]*\s*>|<(?:br|hr|p|div|html|body|table|img)\b[^<>]*>/i;
const LINE_BREAK = /\r\n|[\n\r\u2028\u2029\v\f]/;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The text cut to at most `max` code points at a grapheme boundary (an emoji or an accented letter is never split). */
export function clipPreview(text: string, max = PREVIEW_MAX_CHARS): string {
  let length = 0;
  let cut = 0;
  for (const c of text) {
    if (++length > max) break;
    cut += c.length;
  }
  if (length <= max) return text;
  // Between two ASCII characters other than CR LF there is always a grapheme boundary (no ASCII
  // character extends or prepends to a cluster). Iterating the segmenter costs about 1.5 µs a
  // grapheme: a third of a millisecond per message otherwise.
  const before = text.charCodeAt(cut - 1);
  const after = text.charCodeAt(cut);
  if (before < 0x80 && after < 0x80 && !(before === 13 && after === 10)) return text.slice(0, cut).trimEnd();
  return clipAtGraphemes(text, max);
}

/** {@link clipPreview} by the segmenter alone, whatever the text: the slow path, and what the fast one must agree with. */
export function clipAtGraphemes(text: string, max: number): string {
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const size = [...segment].length;
    if (used + size > max) break;
    out += segment;
    used += size;
  }
  return out.trimEnd();
}

/**
 * A ticket's `last_message_preview` for a message body: its first line that is not blank, with
 * runs of whitespace made one space and the ends trimmed, cut to {@link PREVIEW_MAX_CHARS} code
 * points at a grapheme boundary, with no ellipsis added (a client shortens it further to fit and
 * adds its own). A body that looks like HTML is read as text first (tags dropped, entities
 * decoded, blocks and `<br>` as line breaks). Null when no line holds anything but whitespace.
 */
export function messagePreview(body: string): string | null {
  const text = HTML_HINT.test(body) ? htmlToPreviewText(body) : body;
  for (const line of text.split(LINE_BREAK)) {
    const collapsed = line.replace(/\s+/gu, ' ').trim();
    if (collapsed) return clipPreview(collapsed);
  }
  return null;
}
