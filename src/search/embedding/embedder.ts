/**
 * Embedder contract used by the semantic side of ticket search, plus the corpus-fitting
 * helpers for SIF-style embedders (common-component removal).
 */

export interface Embedder {
  /** Length of every returned vector. */
  readonly dimensions: number;
  /**
   * Stable identifier of the model + configuration. Stored next to vectors so that a
   * change of model (or of the fitted component) is detectable and triggers re-embedding.
   */
  readonly id: string;
  /** One L2-normalised vector per input text (a zero vector when nothing is known). */
  embed(texts: string[]): Promise<Float32Array[]>;
}

/**
 * Optional hooks for embedders whose output depends on statistics of the indexed corpus
 * (SIF). Production flow: embed a sample of stored documents (a few thousand is plenty)
 * with `embedRaw()`, call `fitCommonComponent(vectors)`, persist the returned Float32Array
 * (e.g. as a BLOB via `componentToBuffer`), and on start pass it back with
 * `setCommonComponent`. From then on `embed()` removes the component and `id` changes.
 * Vectors stored before any component existed can be fixed up in place with
 * `removeCommonComponent` (removal commutes with L2 normalisation, so stored unit vectors
 * suffice); vectors made under an older component must be re-embedded.
 */
export interface CorpusFittedEmbedder extends Embedder {
  /**
   * Fits and installs the common component(s) of `vectors` (the embedder's output for a
   * sample of stored documents); returns them as one Float32Array of k * dimensions
   * (k orthonormal rows), ready to persist.
   */
  fitCommonComponent(vectors: readonly Float32Array[]): Float32Array;
  /** Embeddings with no component removed (unit length), the input for fitting. */
  embedRaw(texts: string[]): Promise<Float32Array[]>;
  setCommonComponent(component: Float32Array | null): void;
  getCommonComponent(): Float32Array | null;
}

export function isCorpusFittedEmbedder(e: Embedder): e is CorpusFittedEmbedder {
  return typeof (e as Partial<CorpusFittedEmbedder>).fitCommonComponent === 'function';
}

export function l2Normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i]! *= inv;
  }
  return v;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * First principal component (uncentred, as in the SIF paper's TruncatedSVD) of a set of
 * vectors, by power iteration on X^T X. Deterministic start vector so repeated fits on
 * the same sample give the same component. Returned as a unit Float32Array.
 */
export function computeFirstComponent(vectors: readonly Float32Array[], iterations = 50): Float32Array {
  if (vectors.length === 0) throw new Error('cannot fit a component on zero vectors');
  const d = vectors[0]!.length;
  let u = new Float64Array(d);
  for (const v of vectors) for (let j = 0; j < d; j++) u[j]! += v[j]!;
  let norm = Math.hypot(...u);
  if (norm === 0) {
    u.fill(1);
    norm = Math.sqrt(d);
  }
  for (let j = 0; j < d; j++) u[j]! /= norm;
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(d);
    for (const v of vectors) {
      let p = 0;
      for (let j = 0; j < d; j++) p += v[j]! * u[j]!;
      for (let j = 0; j < d; j++) next[j]! += p * v[j]!;
    }
    const n = Math.hypot(...next);
    if (n === 0) break;
    let delta = 0;
    for (let j = 0; j < d; j++) {
      next[j]! /= n;
      delta += Math.abs(next[j]! - u[j]!);
    }
    u = next;
    if (delta < 1e-9) break;
  }
  return Float32Array.from(u);
}

/**
 * The first `count` principal components by deflation: fit one, remove it from every
 * vector (re-normalising), fit the next. Rows are orthonormal, concatenated.
 */
export function computeCommonComponents(vectors: readonly Float32Array[], count: number): Float32Array {
  if (vectors.length === 0) throw new Error('cannot fit a component on zero vectors');
  const d = vectors[0]!.length;
  const out = new Float32Array(count * d);
  let work: readonly Float32Array[] = vectors;
  for (let c = 0; c < count; c++) {
    const pc = computeFirstComponent(work);
    out.set(pc, c * d);
    if (c + 1 < count) work = work.map((v) => removeCommonComponent(Float32Array.from(v), pc));
  }
  return out;
}

/**
 * v - sum_i (v.u_i) u_i over the orthonormal rows u_i of `components` (length k * v.length),
 * then L2-normalised. Mutates and returns `v`.
 */
export function removeCommonComponent(v: Float32Array, components: Float32Array): Float32Array {
  const d = v.length;
  if (components.length % d !== 0) throw new Error(`component length ${components.length} is not a multiple of ${d}`);
  for (let off = 0; off < components.length; off += d) {
    let p = 0;
    for (let i = 0; i < d; i++) p += v[i]! * components[off + i]!;
    for (let i = 0; i < d; i++) v[i]! -= p * components[off + i]!;
  }
  return l2Normalize(v);
}

/** Little-endian bytes of a component, for storing as a BLOB. */
export function componentToBuffer(component: Float32Array): Buffer {
  const out = Buffer.alloc(component.length * 4);
  for (let i = 0; i < component.length; i++) out.writeFloatLE(component[i]!, i * 4);
  return out;
}

export function componentFromBuffer(buf: Uint8Array): Float32Array {
  if (buf.byteLength % 4 !== 0) throw new Error('component blob length is not a multiple of 4');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float32Array(buf.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
