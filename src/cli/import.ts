import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { openRuntime } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { type ImportSummary, isImportSource } from '../imports/service.js';
import { progressBar } from './progress-bar.js';

export const IMPORT_USAGE = `  import --from zendesk|freshdesk|jsonl <file> [--users <file>] [--brand brand_x] [--emit-events] [--json]
                                      import tickets with their history; safe to rerun (resumes,
                                      never duplicates); prints what was skipped and why`;

function describe(s: ImportSummary): string[] {
  const lines = [
    `read ${s.records} records from ${s.source}: imported ${s.imported}, already imported ${s.already_imported}, skipped ${s.skipped} (${s.seconds} s)`,
  ];
  if (s.brands_created.length) lines.push(`brands created: ${s.brands_created.join(', ')}`);
  for (const [reason, n] of Object.entries(s.skipped_by_reason)) lines.push(`  skipped ${n}: ${reason}`);
  for (const e of s.skipped_examples.slice(0, 5)) lines.push(`    e.g. record at ${e.position}${e.external_id ? ` (${e.external_id})` : ''}: ${e.reason}`);
  for (const [reason, n] of Object.entries(s.dropped_by_reason)) lines.push(`  left out of imported tickets, ${n}×: ${reason}`);
  return lines;
}

/** `nexus import --from <source> <file>`: through the import service, with a progress bar and a summary. */
export async function runImport(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      users: { type: 'string' },
      brand: { type: 'string' },
      'emit-events': { type: 'boolean' },
      'batch-size': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const file = positionals[0];
  if (!values.from || !isImportSource(values.from) || !file || positionals.length > 1) {
    err(`import needs --from zendesk, freshdesk or jsonl and one file\n\nUsage: nexus\n${IMPORT_USAGE}`);
    return 2;
  }
  for (const f of [file, values.users]) {
    if (f !== undefined && !fs.existsSync(f)) {
      err(`${f}: no such file`);
      return 2;
    }
  }
  const runtime = await openRuntime(loadConfig());
  const bar = progressBar(`import ${values.from}`, 'records');
  try {
    const summary = await runtime.services.imports.run({
      source: values.from,
      file,
      usersFile: values.users,
      brandId: values.brand,
      emitEvents: values['emit-events'] === true,
      batchSize: values['batch-size'] ? Number(values['batch-size']) : undefined,
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    if (values.json) out(JSON.stringify(summary));
    else for (const line of describe(summary)) out(line);
    return 0;
  } finally {
    bar.stop();
    await runtime.close();
  }
}
