import cliProgress from 'cli-progress';

/**
 * A progress bar with count, rate and ETA on stderr (cli-progress). On a terminal it redraws in
 * place; otherwise (a log, CI, a test) it prints a line every few seconds and at the end.
 */
export function progressBar(label: string, unit: string, stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {value}/{total} ${unit} {rate}/s ETA {eta_formatted}`,
      stream,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 50,
      hideCursor: stream.isTTY === true,
      barsize: 30,
    },
    cliProgress.Presets.legacy,
  );
  let begun = false;
  return {
    update(done: number, total: number): void {
      // Nothing to do: no bar (cli-progress has no ETA for an empty total).
      if (total === 0) return;
      const seconds = (performance.now() - started) / 1000;
      const payload = { rate: seconds > 0 ? Math.round(done / seconds) : 0 };
      if (!begun) {
        bar.start(total, done, payload);
        begun = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop(): void {
      if (begun) bar.stop();
    },
  };
}
