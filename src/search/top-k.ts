import type { ScoredHit } from './text/fusion.js';

/** The k best (score, doc) pairs, higher score first and equal scores by smaller doc; a min-heap. */
export class TopK {
  readonly scores: Float64Array;
  readonly ids: Int32Array;
  size = 0;
  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.ids = new Int32Array(k);
  }

  /** Scores below this cannot enter. */
  get min(): number {
    return this.size < this.k ? -Infinity : this.scores[0]!;
  }

  /** Whether (sa, ia) ranks below (sb, ib). */
  private static worse(sa: number, ia: number, sb: number, ib: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  push(score: number, id: number): void {
    const { scores, ids } = this;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!TopK.worse(score, id, scores[p]!, ids[p]!)) break;
        scores[i] = scores[p]!;
        ids[i] = ids[p]!;
        i = p;
      }
      scores[i] = score;
      ids[i] = id;
      return;
    }
    if (!TopK.worse(scores[0]!, ids[0]!, score, id)) return;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && TopK.worse(scores[r]!, ids[r]!, scores[l]!, ids[l]!) ? r : l;
      if (!TopK.worse(scores[c]!, ids[c]!, score, id)) break;
      scores[i] = scores[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    scores[i] = score;
    ids[i] = id;
  }

  sorted(): ScoredHit<number>[] {
    const out: ScoredHit<number>[] = [];
    for (let i = 0; i < this.size; i++) out.push({ id: this.ids[i]!, score: this.scores[i]! });
    return out.sort((a, b) => b.score - a.score || a.id - b.id);
  }
}
