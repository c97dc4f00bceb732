/**
 * In-process nearest-neighbour index over the int8 vectors stored in `search_documents`.
 *
 * The table is the source of truth; this structure is a cache of it, loaded lazily and kept up
 * to date by following the table's change sequence (see service.ts). Vectors are partitioned by
 * brand, so a brand-scoped search never looks at another brand's rows, and scored exactly: one
 * int8 x float dot product per row (100 multiply-adds), which is ~60 ms for 1M rows in V8.
 * Scans restricted to a candidate list (SQL filters) touch only those rows.
 */
import type { ScoredHit } from './text/fusion.js';

/** Bytes of one stored vector: f32 scale (little-endian), then `dims` int8 values. */
export const vectorBytes = (dims: number): number => 4 + dims;

/** Quantises a unit vector to int8 with a per-vector scale (cosine error ~1e-3). */
export function encodeVector(v: Float32Array): Buffer {
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > max) max = a;
  }
  const out = Buffer.alloc(vectorBytes(v.length));
  const scale = max > 0 ? max / 127 : 0;
  out.writeFloatLE(scale, 0);
  if (scale > 0) for (let i = 0; i < v.length; i++) out.writeInt8(Math.round(v[i] / scale), 4 + i);
  return out;
}

export function decodeVector(buf: Uint8Array): Float32Array {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const scale = view.getFloat32(0, true);
  const out = new Float32Array(buf.byteLength - 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt8(4 + i) * scale;
  return out;
}

class Partition {
  count = 0;
  data: Int8Array;
  scales: Float32Array;
  docIds: Int32Array;
  constructor(readonly dims: number, capacity = 1024) {
    this.data = new Int8Array(capacity * dims);
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
    this.data.set(new Int8Array(buf.buffer, buf.byteOffset + 4, this.dims), slot * this.dims);
  }

  private grow(): void {
    const cap = this.scales.length * 2;
    const data = new Int8Array(cap * this.dims);
    data.set(this.data);
    const scales = new Float32Array(cap);
    scales.set(this.scales);
    const docIds = new Int32Array(cap);
    docIds.set(this.docIds);
    this.data = data;
    this.scales = scales;
    this.docIds = docIds;
  }
}

/** Keeps the k best (score, docId) pairs seen; a binary min-heap on score. */
class TopK {
  readonly scores: Float32Array;
  readonly ids: Int32Array;
  size = 0;
  constructor(readonly k: number) {
    this.scores = new Float32Array(k);
    this.ids = new Int32Array(k);
  }

  get min(): number {
    return this.size < this.k ? -Infinity : this.scores[0];
  }

  push(score: number, id: number): void {
    const { scores, ids } = this;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (scores[p] <= score) break;
        scores[i] = scores[p];
        ids[i] = ids[p];
        i = p;
      }
      scores[i] = score;
      ids[i] = id;
      return;
    }
    if (score <= scores[0]) return;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && scores[r] < scores[l] ? r : l;
      if (scores[c] >= score) break;
      scores[i] = scores[c];
      ids[i] = ids[c];
      i = c;
    }
    scores[i] = score;
    ids[i] = id;
  }

  sorted(): ScoredHit<number>[] {
    const out: ScoredHit<number>[] = [];
    for (let i = 0; i < this.size; i++) out.push({ id: this.ids[i], score: this.scores[i] });
    return out.sort((a, b) => b.score - a.score || a.id - b.id);
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
    const p = this.docPartition[docId];
    if (p > 0) {
      this.partitionList[p - 1].write(this.docSlot[docId], buf);
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
    return docId < this.docPartition.length && this.docPartition[docId] > 0;
  }

  /** The stored (dequantised) vector of a document, for query feedback. */
  vectorOf(docId: number): Float32Array | undefined {
    if (!this.has(docId)) return undefined;
    const part = this.partitionList[this.docPartition[docId] - 1];
    const slot = this.docSlot[docId];
    const out = new Float32Array(this.dims);
    const s = part.scales[slot];
    const base = slot * this.dims;
    for (let j = 0; j < this.dims; j++) out[j] = part.data[base + j] * s;
    return out;
  }

  /** The k most similar documents of the given brands (null: every brand), by cosine. */
  search(query: Float32Array, brandIds: readonly string[] | null, k: number): ScoredHit<number>[] {
    const top = new TopK(k);
    const parts = brandIds === null ? this.partitionList : brandIds.map((b) => this.partitions.get(b)).filter((p): p is Partition => p !== undefined);
    for (const part of parts) scanPartition(part, query, top);
    return top.sorted();
  }

  /** The k most similar among the given documents (those without a vector are skipped). */
  searchAmong(query: Float32Array, docIds: Iterable<number>, k: number): ScoredHit<number>[] {
    const top = new TopK(k);
    const d = this.dims;
    for (const docId of docIds) {
      if (!this.has(docId)) continue;
      const part = this.partitionList[this.docPartition[docId] - 1];
      const slot = this.docSlot[docId];
      const data = part.data;
      const base = slot * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += data[base + j] * query[j];
      top.push(s * part.scales[slot], docId);
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

function scanPartition(part: Partition, query: Float32Array, top: TopK): void {
  const d = part.dims;
  const { data, scales, docIds, count } = part;
  if (d === 100) {
    // Unrolled for the built-in embedder's 100 dimensions: the hot loop of every search.
    for (let slot = 0, base = 0; slot < count; slot++, base += 100) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < 100; j += 4) {
        s0 += data[base + j] * query[j];
        s1 += data[base + j + 1] * query[j + 1];
        s2 += data[base + j + 2] * query[j + 2];
        s3 += data[base + j + 3] * query[j + 3];
      }
      const score = (s0 + s1 + s2 + s3) * scales[slot];
      if (score > top.min) top.push(score, docIds[slot]);
    }
    return;
  }
  for (let slot = 0, base = 0; slot < count; slot++, base += d) {
    let s = 0;
    for (let j = 0; j < d; j++) s += data[base + j] * query[j];
    const score = s * scales[slot];
    if (score > top.min) top.push(score, docIds[slot]);
  }
}
