import fs from 'node:fs';
import readline from 'node:readline';

/** One record of an import file, where it was, or why it could not be read. */
export type FileRecord = { position: number; value: unknown } | { position: number; error: string };

/**
 * How a file holds its records: JSON Lines (one object per line, the format of Zendesk's full
 * JSON export and of our own; read a line at a time, so any size), or one JSON document: an array
 * of records or an API page such as `{ "tickets": [...], "users": [...] }` (read whole).
 */
export type FileShape = { kind: 'lines' } | { kind: 'document'; records: unknown[]; document: Record<string, unknown> | null };

async function firstLine(file: string): Promise<string | undefined> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) if (line.trim()) return line;
    return undefined;
  } finally {
    lines.close();
  }
}

/** Decides the shape by the first non-blank line: an object that parses alone means JSON Lines. */
export async function readShape(file: string, listKey: string): Promise<FileShape> {
  const first = await firstLine(file);
  if (first === undefined) return { kind: 'document', records: [], document: null };
  if (first.trimStart().startsWith('{')) {
    try {
      JSON.parse(first);
      return { kind: 'lines' };
    } catch {
      /* an object over several lines: a document */
    }
  }
  const parsed: unknown = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  if (Array.isArray(parsed)) return { kind: 'document', records: parsed, document: null };
  if (parsed && typeof parsed === 'object') {
    const document = parsed as Record<string, unknown>;
    const list = document[listKey];
    return { kind: 'document', records: Array.isArray(list) ? list : [document], document };
  }
  throw new Error(`${file} holds neither JSON Lines nor a JSON array or object`);
}

/** How many records the file holds (non-blank lines of JSON Lines), for the progress bar. */
export async function countRecords(file: string, shape: FileShape): Promise<number> {
  if (shape.kind === 'document') return shape.records.length;
  let n = 0;
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line.trim()) n++;
  return n;
}

/** The records of the file in order; `position` is the line number (JSON Lines) or the index in the array. */
export async function* readRecords(file: string, shape: FileShape): AsyncGenerator<FileRecord> {
  if (shape.kind === 'document') {
    for (const [i, value] of shape.records.entries()) yield { position: i, value };
    return;
  }
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (!line.trim()) continue;
    try {
      yield { position: lineNo, value: JSON.parse(line) as unknown };
    } catch (err) {
      yield { position: lineNo, error: `not JSON: ${(err as Error).message}` };
    }
  }
}
