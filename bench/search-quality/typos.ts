import { type LabelledText, seededRandom } from './dataset.js';

/** One edit in one word of 5+ letters of each query (seeded), like a hurried typist. */
export function withTypos(queries: readonly LabelledText[], seed: number): { queries: LabelledText[]; changed: number } {
  const rand = seededRandom(seed * 7919 + 17);
  const pick = (n: number) => Math.floor(rand() * n);
  let changed = 0;
  const out = queries.map((q) => {
    const words = [...q.text.matchAll(/[A-Za-z]{5,}/g)];
    if (words.length === 0) return q;
    const m = words[pick(words.length)]!;
    const w = m[0];
    const i = 1 + pick(w.length - 2);
    const letter = 'abcdefghijklmnopqrstuvwxyz'[pick(26)]!;
    const kinds = [
      () => w.slice(0, i) + w.slice(i + 1),
      () => w.slice(0, i) + w[i] + w.slice(i),
      () => w.slice(0, i) + letter + w.slice(i + 1),
      () => w.slice(0, i - 1) + w[i] + w[i - 1] + w.slice(i + 1),
    ];
    const typo = kinds[pick(kinds.length)]!();
    if (typo === w) return q;
    changed++;
    return { ...q, text: q.text.slice(0, m.index) + typo + q.text.slice(m.index! + w.length) };
  });
  return { queries: out, changed };
}
