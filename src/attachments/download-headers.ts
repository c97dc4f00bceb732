import type { ByteRange } from './blob-store.js';

// Control characters, line and paragraph separators, and bidi overrides (which make
// "invoice\u202Efdp.exe" read as a PDF) never reach a header or a saved file name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this pattern is for
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Half of a UTF-16 surrogate pair on its own: not a character, and encodeURIComponent throws on it. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The name a browser should save the file as: the last path segment, without unsafe characters. */
export function safeFileName(fileName: string): string {
  const cleaned = (fileName.split(/[\\/]/).pop() ?? '').replace(UNSAFE, '_').replace(LONE_SURROGATE, '_').trim();
  const base = Array.from(cleaned).slice(0, 200).join('');
  return base === '' || base === '.' || base === '..' ? 'attachment' : base;
}

const encodeRfc8187 = (text: string): string => encodeURIComponent(text).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * `attachment` with an ASCII `filename` fallback (quotes, backslashes, `%` and non-ASCII replaced)
 * and, when the name is not plain ASCII, the exact name as RFC 8187 `filename*`. Whatever the
 * stored name holds, the result is one header line of printable ASCII.
 */
export function contentDisposition(fileName: string): string {
  const name = safeFileName(fileName);
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  if (fallback === name) return `attachment; filename="${name}"`;
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc8187(name)}`;
}

/**
 * One `bytes=` range of a `size`-byte blob. `undefined` means "serve the whole blob" (no header,
 * several ranges, or a malformed one, which RFC 9110 lets a server ignore); `'unsatisfiable'`
 * means a 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
