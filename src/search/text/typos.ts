/**
 * Typo tolerance shared by both sides of search: the words one edit away from a word (a letter
 * deleted, inserted, replaced, or two neighbours swapped: the optimal-string-alignment distance
 * 1). Only alphabetic words are varied, so order numbers, codes and amounts only ever match
 * exactly.
 */

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const ALPHABETIC = /^[a-z]+$/;

/** Whether `word` may be matched with one edit: alphabetic and at least `minLength` letters. */
export function typoTolerant(word: string, minLength: number): boolean {
  return word.length >= minLength && ALPHABETIC.test(word);
}

/** Every distinct word one edit away from `word` (lower-case letters), `word` itself excluded. */
export function oneEditVariants(word: string): string[] {
  const out = new Set<string>();
  const n = word.length;
  for (let i = 0; i < n; i++) out.add(word.slice(0, i) + word.slice(i + 1));
  for (let i = 0; i + 1 < n; i++) out.add(word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2));
  for (let i = 0; i < n; i++) {
    for (const c of LETTERS) if (c !== word[i]) out.add(word.slice(0, i) + c + word.slice(i + 1));
  }
  for (let i = 0; i <= n; i++) for (const c of LETTERS) out.add(word.slice(0, i) + c + word.slice(i));
  out.delete(word);
  return [...out];
}
