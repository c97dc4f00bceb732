/**
 * In-process nearest-neighbour index over the int8 vectors stored in `search_documents`.
 *
 * The table is the source of truth; this structure is a cache of it, loaded lazily and kept up
 * to date by following the table's change sequence (see index-follower.ts). Vectors are partitioned by
 * brand, so a brand-scoped search never looks at another brand's rows. Up to 250,000 vectors
 * per search are scored exactly (an int32 dot product over packed int8 words, ~0.13 µs a
 * vector); above, a 2-bit code per dimension (25 bytes a vector, stored in 28) gives an approximate first pass
 * by table lookup (~30 ms per 1M vectors) whose best 8k are then scored exactly.
 * Scans restricted to a candidate list (SQL filters) touch only those rows.
 */
import type { ScoredHit } from './text/fusion.js';
import { TopK } from './top-k.js';

/** Bytes of one stored vector: f32 scale (little-endian), then `dims` int8 values. */
export const vectorBytes = (dims: number): number => 4 + dims;

/** Quantises a unit vector to int8 with a per-vector scale (cosine error ~1e-3). */
export function encodeVector(v: Float32Array): Buffer {
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (a > max) max = a;
  }
  const out = Buffer.alloc(vectorBytes(v.length));
  const scale = max > 0 ? max / 127 : 0;
  out.writeFloatLE(scale, 0);
  if (scale > 0) for (let i = 0; i < v.length; i++) out.writeInt8(Math.round(v[i]! / scale), 4 + i);
  return out;
}

export function decodeVector(buf: Uint8Array): Float32Array {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const scale = view.getFloat32(0, true);
  const out = new Float32Array(buf.byteLength - 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt8(4 + i) * scale;
  return out;
}

/** Bytes of one 2-bit code (4 dimensions per byte) used by the approximate first pass. */
const codeBytes = (dims: number): number => (dims + 3) >> 2;
/**
 * Bytes between two codes: rounded up to 4, so that the scan reads a code as 32-bit words (7 loads
 * instead of 25 for 100 dimensions; ~15 % of the scan in a micro-bench over 1M codes).
 */
const codeStride = (dims: number): number => (codeBytes(dims) + 3) & ~3;
/** The word scan takes byte b of a code from bits 8b.. of its word: true on every platform Node ships for. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** |int8 component| at or above this is coded as "large". */
const CODE_THRESHOLD = 24;
/** Values the 2-bit codes stand for (sign x small/large), in int8 units: about the bucket means. */
const CODE_VALUES = [10, 48, -10, -48];

function codeOf(x: number): number {
  const large = x >= CODE_THRESHOLD || x <= -CODE_THRESHOLD ? 1 : 0;
  return (x < 0 ? 2 : 0) | large;
}

class Partition {
  count = 0;
  data: Int8Array;
  /** The same vectors, 2 bits per dimension (sign, large): the approximate first pass reads these. */
  codes: Uint8Array;
  scales: Float32Array;
  docIds: Int32Array;
  constructor(
    readonly dims: number,
    capacity = 1024,
  ) {
    this.data = new Int8Array(capacity * dims);
    this.codes = new Uint8Array(capacity * codeStride(dims));
    this.scales = new Float32Array(capacity);
    this.docIds = new Int32Array(capacity);
  }

  add(docId: number, buf: Uint8Array): number {
    if (this.count === this.scales.length) this.grow();
    const slot = this.count++;
    this.docIds[slot] = docId;
    this.write(slot, buf);
    return slot;
  }

  write(slot: number, buf: Uint8Array): void {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.scales[slot] = view.getFloat32(0, true);
    const v = new Int8Array(buf.buffer, buf.byteOffset + 4, this.dims);
    this.data.set(v, slot * this.dims);
    const cb = codeBytes(this.dims);
    const at = slot * codeStride(this.dims);
    for (let b = 0; b < cb; b++) {
      let byte = 0;
      for (let j = 0; j < 4 && 4 * b + j < this.dims; j++) byte |= codeOf(v[4 * b + j]!) << (2 * j);
      this.codes[at + b] = byte;
    }
  }

  private grow(): void {
    const cap = this.scales.length * 2;
    const data = new Int8Array(cap * this.dims);
    data.set(this.data);
    const codes = new Uint8Array(cap * codeStride(this.dims));
    codes.set(this.codes);
    this.codes = codes;
    const scales = new Float32Array(cap);
    scales.set(this.scales);
    const docIds = new Int32Array(cap);
    docIds.set(this.docIds);
    this.data = data;
    this.scales = scales;
    this.docIds = docIds;
  }
}

export class VectorIndex {
  private readonly partitions = new Map<string, Partition>();
  private readonly partitionList: Partition[] = [];
  /** doc_id -> partition number + 1 (0 = absent), and doc_id -> slot. */
  private docPartition = new Int32Array(1024);
  private docSlot = new Int32Array(1024);
  size = 0;

  constructor(readonly dims: number) {}

  /** Adds or replaces the vector of a document. */
  upsert(docId: number, brandId: string, buf: Uint8Array): void {
    if (buf.byteLength !== vectorBytes(this.dims)) return;
    this.ensureDoc(docId);
    const p = this.docPartition[docId]!;
    if (p > 0) {
      this.partitionList[p - 1]!.write(this.docSlot[docId]!, buf);
      return;
    }
    let part = this.partitions.get(brandId);
    if (!part) {
      part = new Partition(this.dims);
      this.partitions.set(brandId, part);
      this.partitionList.push(part);
    }
    this.docSlot[docId] = part.add(docId, buf);
    this.docPartition[docId] = this.partitionList.indexOf(part) + 1;
    this.size++;
  }

  has(docId: number): boolean {
    return docId < this.docPartition.length && this.docPartition[docId]! > 0;
  }

  /** The stored (dequantised) vector of a document, for query feedback. */
  vectorOf(docId: number): Float32Array | undefined {
    if (!this.has(docId)) return undefined;
    // has(docId): the document has a partition and a slot in it.
    const part = this.partitionList[this.docPartition[docId]! - 1]!;
    const slot = this.docSlot[docId]!;
    const out = new Float32Array(this.dims);
    const s = part.scales[slot]!;
    const base = slot * this.dims;
    for (let j = 0; j < this.dims; j++) out[j] = part.data[base + j]! * s;
    return out;
  }

  /**
   * The k most similar documents of the given brands (null: every brand), by cosine. Up to
   * `approximateFrom` vectors every one is scored exactly; above, a first pass over the 2-bit
   * codes (a table lookup per 4 dimensions) keeps max(8k, 4,000) candidates, which are then
   * scored exactly (recall measured in bench/search-speed; `exact` forces the full scan).
   * With `accept`, only documents passing it are returned (a search's filters beyond brand).
   */
  search(
    query: Float32Array,
    brandIds: readonly string[] | null,
    k: number,
    options: { exact?: boolean; accept?: ((docId: number) => boolean) | null | undefined } = {},
  ): ScoredHit<number>[] {
    const top = new TopK(k);
    const parts = brandIds === null ? this.partitionList : brandIds.map((b) => this.partitions.get(b)).filter((p): p is Partition => p !== undefined);
    const total = parts.reduce((n, p) => n + p.count, 0);
    const shortlist = Math.max(8 * k, VectorIndex.minCandidates);
    // The other filters of the search, asked only of vectors that would enter the top list (or
    // the approximate pass's shortlist), so the filtered top k comes out of the same one scan.
    const accept = options.accept ?? null;
    if (options.exact || total <= VectorIndex.approximateFrom || total <= 2 * shortlist) {
      for (const part of parts) scanPartition(part, query, top, accept);
      return top.sorted();
    }
    const table = codeTable(query);
    const candidates = new TopK(shortlist);
    for (const part of parts) scanCodes(part, table, candidates, accept);
    // Exact scores for the candidates (their doc ids are in `candidates.ids`).
    for (let i = 0; i < candidates.size; i++) {
      const docId = candidates.ids[i]!;
      const part = this.partitionList[this.docPartition[docId]! - 1]!;
      const slot = this.docSlot[docId]!;
      top.push(dot(part, slot, query), docId);
    }
    return top.sorted();
  }

  /** Vectors scanned exactly up to this many (per search, over the allowed brands). */
  static approximateFrom = 250_000;
  /** Fewest candidates the approximate pass keeps for exact scoring. */
  static minCandidates = 4000;

  /** The k most similar among the given documents (those without a vector are skipped). */
  searchAmong(query: Float32Array, docIds: Iterable<number>, k: number): ScoredHit<number>[] {
    const top = new TopK(k);
    for (const docId of docIds) {
      if (!this.has(docId)) continue;
      const part = this.partitionList[this.docPartition[docId]! - 1]!;
      const slot = this.docSlot[docId]!;
      top.push(dot(part, slot, query), docId);
    }
    return top.sorted();
  }

  private ensureDoc(docId: number): void {
    if (docId < this.docPartition.length) return;
    let cap = this.docPartition.length;
    while (cap <= docId) cap *= 2;
    const p = new Int32Array(cap);
    p.set(this.docPartition);
    const s = new Int32Array(cap);
    s.set(this.docSlot);
    this.docPartition = p;
    this.docSlot = s;
  }
}

function scanPartition(part: Partition, query: Float32Array, top: TopK, accept: ((docId: number) => boolean) | null): void {
  const d = part.dims;
  const { data, scales, docIds, count } = part;
  if (d === 100 && data.byteOffset === 0) {
    // The built-in embedder's 100 dimensions, the hot loop of an exact search: the query is
    // scaled to 16-bit integers and the int8 data read 4 components per 32-bit word, so the sum
    // stays in int32 (|sum| < 100 x 127 x 32767 < 2^31). ~1.6x faster than float multiply-adds.
    let max = 0;
    for (let j = 0; j < 100; j++) max = Math.max(max, Math.abs(query[j]!));
    if (max === 0) return;
    const qi = new Int32Array(100);
    for (let j = 0; j < 100; j++) qi[j] = Math.round((query[j]! / max) * 32767);
    const unit = max / 32767;
    const words = new Int32Array(data.buffer, 0, count * 25);
    for (let slot = 0, w = 0; slot < count; slot++) {
      let s = 0;
      for (let j = 0; j < 100; j += 4, w++) {
        const x = words[w]!;
        s = (s + ((x << 24) >> 24) * qi[j]! + ((x << 16) >> 24) * qi[j + 1]! + ((x << 8) >> 24) * qi[j + 2]! + (x >> 24) * qi[j + 3]!) | 0;
      }
      const score = s * unit * scales[slot]!;
      if (score > top.min && (accept === null || accept(docIds[slot]!))) top.push(score, docIds[slot]!);
    }
    return;
  }
  for (let slot = 0, base = 0; slot < count; slot++, base += d) {
    let s = 0;
    for (let j = 0; j < d; j++) s += data[base + j]! * query[j]!;
    const score = s * scales[slot]!;
    if (score > top.min && (accept === null || accept(docIds[slot]!))) top.push(score, docIds[slot]!);
  }
}

function dot(part: Partition, slot: number, query: Float32Array): number {
  const d = part.dims;
  const data = part.data;
  const base = slot * d;
  let s = 0;
  for (let j = 0; j < d; j++) s += data[base + j]! * query[j]!;
  return s * part.scales[slot]!;
}

/** Per code byte position, the query's partial dot product for each of the 256 byte values. */
function codeTable(query: Float32Array): Float32Array {
  const cb = codeBytes(query.length);
  const table = new Float32Array(cb * 256);
  for (let b = 0; b < cb; b++) {
    for (let v = 0; v < 256; v++) {
      let s = 0;
      for (let j = 0; j < 4 && 4 * b + j < query.length; j++) s += CODE_VALUES[(v >> (2 * j)) & 3]! * query[4 * b + j]!;
      table[b * 256 + v] = s;
    }
  }
  return table;
}

function scanCodes(part: Partition, table: Float32Array, top: TopK, accept: ((docId: number) => boolean) | null): void {
  const cb = codeBytes(part.dims);
  const stride = codeStride(part.dims);
  const { codes, scales, docIds, count } = part;
  if (cb === 25 && LITTLE_ENDIAN && codes.byteOffset === 0) {
    // The built-in embedder's 100 dimensions: 25 lookups per vector, its code read as 7 words.
    const t = table;
    const words = new Uint32Array(codes.buffer, 0, count * 7);
    for (let slot = 0, w = 0; slot < count; slot++, w += 7) {
      const a = words[w]!;
      const b = words[w + 1]!;
      const c = words[w + 2]!;
      const d = words[w + 3]!;
      const e = words[w + 4]!;
      const f = words[w + 5]!;
      const g = words[w + 6]!;
      const s =
        t[a & 255]! +
        t[256 + ((a >>> 8) & 255)]! +
        t[512 + ((a >>> 16) & 255)]! +
        t[768 + (a >>> 24)]! +
        t[1024 + (b & 255)]! +
        t[1280 + ((b >>> 8) & 255)]! +
        t[1536 + ((b >>> 16) & 255)]! +
        t[1792 + (b >>> 24)]! +
        t[2048 + (c & 255)]! +
        t[2304 + ((c >>> 8) & 255)]! +
        t[2560 + ((c >>> 16) & 255)]! +
        t[2816 + (c >>> 24)]! +
        t[3072 + (d & 255)]! +
        t[3328 + ((d >>> 8) & 255)]! +
        t[3584 + ((d >>> 16) & 255)]! +
        t[3840 + (d >>> 24)]! +
        t[4096 + (e & 255)]! +
        t[4352 + ((e >>> 8) & 255)]! +
        t[4608 + ((e >>> 16) & 255)]! +
        t[4864 + (e >>> 24)]! +
        t[5120 + (f & 255)]! +
        t[5376 + ((f >>> 8) & 255)]! +
        t[5632 + ((f >>> 16) & 255)]! +
        t[5888 + (f >>> 24)]! +
        t[6144 + (g & 255)]!;
      const score = s * scales[slot]!;
      if (score > top.min && (accept === null || accept(docIds[slot]!))) top.push(score, docIds[slot]!);
    }
    return;
  }
  for (let slot = 0, c = 0; slot < count; slot++, c += stride) {
    let s = 0;
    for (let b = 0; b < cb; b++) s += table[b * 256 + codes[c + b]!]!;
    const score = s * scales[slot]!;
    if (score > top.min && (accept === null || accept(docIds[slot]!))) top.push(score, docIds[slot]!);
  }
}
