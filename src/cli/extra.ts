import { parseArgs } from 'node:util';
import { openRuntime } from '../bootstrap.js';
import { isVisibleBrand } from '../brands/visibility.js';
import { loadConfig } from '../config.js';

/** `nexus search reindex` usage, appended to the CLI's help by `runExtraCommand` when asked. */
export const EXTRA_USAGE = `  search reindex [--brand brand_x]   rebuild the search indexes (keyword and vectors), with progress`;

/** A progress bar with rate and ETA on a TTY; one line every ~5 % otherwise (logs, CI). */
export function progressReporter(label: string, write: (text: string) => void = (t) => process.stderr.write(t), isTty = process.stderr.isTTY === true) {
  const started = performance.now();
  let lastPct = -1;
  return (done: number, total: number): void => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${done}/${total} ${Math.round(rate)}/s ETA ${formatDuration(eta)}`;
    if (isTty) write(`\r${line}${done >= total ? '\n' : ''}`);
    else if (pct >= lastPct + 5 || done >= total) {
      lastPct = pct;
      write(`${line}\n`);
    }
  };
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/**
 * Commands contributed by feature modules (`nexus search reindex`, `nexus backup`, `nexus restore`).
 * Returns undefined when the command is not one of theirs.
 */
export async function runExtraCommand(
  argv: string[],
  out: (line: string) => void,
  err: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<number | undefined> {
  const [group, action, ...rest] = argv;
  if (group === 'backup' || group === 'restore') {
    const { runBackup, runRestore } = await import('./backup.js');
    const args = argv.slice(1);
    return group === 'backup' ? runBackup(args, loadConfig(), out, err) : runRestore(args, loadConfig(), out, err);
  }
  if (group === 'search' && action === 'reindex') {
    const { values } = parseArgs({ args: rest, options: { brand: { type: 'string' }, 'batch-size': { type: 'string' } } });
    const runtime = await openRuntime(loadConfig());
    try {
      if (values.brand && !(await isVisibleBrand(runtime.db, null, values.brand))) {
        process.stderr.write(`brand ${values.brand} does not exist\n`);
        return 1;
      }
      const started = performance.now();
      const result = await runtime.services.search.reindex({
        brandId: values.brand,
        batchSize: values['batch-size'] ? Math.max(1, Number(values['batch-size'])) : 500,
        onProgress: progressReporter(values.brand ? `reindex ${values.brand}` : 'reindex'),
      });
      const s = (performance.now() - started) / 1000;
      out(
        `reindexed ${result.indexed} tickets${values.brand ? ` of ${values.brand}` : ''} in ${s.toFixed(1)} s${result.refitted ? ' (embedder components refitted)' : ''}`,
      );
      return 0;
    } finally {
      await runtime.close();
    }
  }
  if (group === 'search') {
    out(`Usage: nexus search reindex [--brand brand_x]\n\n${EXTRA_USAGE}`);
    return 2;
  }
  return undefined;
}
