/**
 * Banking77 loading and the seeded document/query split used by the search-quality
 * bench. Kept separate from the metrics and from any search implementation so the same
 * split can be replayed against the real search service.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LabelledText {
  readonly id: number;
  readonly text: string;
  readonly label: string;
}

export interface SearchSplit {
  readonly seed: number;
  readonly documents: readonly LabelledText[];
  readonly queries: readonly LabelledText[];
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `BANKING77_CSV` if set, else `../shared/data/banking77/train.csv` relative to the repo. */
export function banking77Path(): string {
  return process.env.BANKING77_CSV ?? resolve(REPO_ROOT, '../shared/data/banking77/train.csv');
}

/** Minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF) — enough for this file. */
export function parseCsv(content: string): string[][] {
  const rows: string[][] = [];
  let field = '';
  let row: string[] = [];
  let inQuotes = false;
  for (let i = 0; i < content.length; i++) {
    const ch = content[i];
    if (inQuotes) {
      if (ch === '"') {
        if (content[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else field += ch;
    } else if (ch === '"') inQuotes = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && content[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export function loadBanking77(path: string = banking77Path()): LabelledText[] {
  const [header = [], ...rows] = parseCsv(readFileSync(path, 'utf8'));
  const ti = header.indexOf('text');
  const ci = header.indexOf('category');
  if (ti < 0 || ci < 0) throw new Error(`${path}: expected columns text,category`);
  return rows.map((r, id) => ({ id, text: r[ti]!, label: r[ci]! }));
}

/** mulberry32: tiny deterministic PRNG so a seed always yields the same split. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SplitOptions {
  readonly seed?: number;
  /** Share of rows indexed as documents (default 0.7). */
  readonly documentFraction?: number;
  /** Number of queries drawn from the remaining rows (default 1000). */
  readonly queryCount?: number;
}

/**
 * Seeded shuffle, then the first `documentFraction` of rows become documents and
 * `queryCount` of the rest become queries. Queries whose exact text also occurs among the
 * documents are skipped so no query can be answered by finding itself.
 */
export function splitDataset(rows: readonly LabelledText[], options: SplitOptions = {}): SearchSplit {
  const seed = options.seed ?? 1;
  const rand = seededRandom(seed);
  const shuffled = [...rows];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const nDocs = Math.round(shuffled.length * (options.documentFraction ?? 0.7));
  const documents = shuffled.slice(0, nDocs);
  const docTexts = new Set(documents.map((d) => d.text.trim().toLowerCase()));
  const queries: LabelledText[] = [];
  const want = options.queryCount ?? 1000;
  for (const row of shuffled.slice(nDocs)) {
    if (queries.length >= want) break;
    if (docTexts.has(row.text.trim().toLowerCase())) continue;
    queries.push(row);
  }
  return { seed, documents, queries };
}
