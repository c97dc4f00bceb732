import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { openRuntime } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { progressBar } from './progress-bar.js';

export const EXPORT_USAGE = `  export --format jsonl|csv --out <file> [--brand brand_x] [--since T]
                                      every ticket (messages, participants, audit, attachment
                                      references) to a file, with a progress bar (docs/export-import.md)`;

/**
 * `nexus export`: streams the tickets into `<file>.partial` with backpressure (the next page is read
 * when the file has taken the last), then renames it, so a file named <file> is always complete.
 */
export async function runExport(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { format: { type: 'string' }, out: { type: 'string' }, brand: { type: 'string' }, since: { type: 'string' }, 'batch-size': { type: 'string' } },
  });
  const format = values.format;
  if ((format !== 'jsonl' && format !== 'csv') || !values.out) {
    err(`export needs --format jsonl or --format csv, and --out <file>\n\nUsage: nexus\n${EXPORT_USAGE}`);
    return 2;
  }
  const runtime = await openRuntime(loadConfig());
  try {
    const exports = runtime.services.exports;
    if (values.brand !== undefined) await runtime.services.brands.get(null, values.brand);
    const plan = exports.plan(null, {
      brandId: values.brand,
      since: values.since,
      batchSize: values['batch-size'] ? Number(values['batch-size']) : undefined,
    });
    const total = await exports.count(plan);
    const bar = progressBar('export', 'tickets');
    let done = 0;
    bar.update(0, total);
    const onTicket = () => {
      done++;
      if (done % 100 === 0) bar.update(done, Math.max(total, done));
    };
    const partial = `${values.out}.partial`;
    const started = performance.now();
    try {
      await pipeline(Readable.from(format === 'jsonl' ? exports.jsonl(plan, onTicket) : exports.csv(plan, onTicket)), fs.createWriteStream(partial));
    } catch (e) {
      fs.rmSync(partial, { force: true });
      throw e;
    } finally {
      bar.update(done, Math.max(total, done));
      bar.stop();
    }
    fs.renameSync(partial, values.out);
    out(`exported ${done} tickets to ${values.out} (${format}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    await runtime.close();
  }
}
