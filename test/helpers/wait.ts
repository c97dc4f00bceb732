/**
 * Polling with a deadline, for what a test cannot be told about (another process's log line, a file
 * that goes away): generous limits, so a busy machine is slow but not failing, and no fixed sleeps.
 */

/** Polls `check` until it returns a value other than undefined; fails after `ms` naming `what`. */
export async function waitFor<T>(what: string, ms: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 10;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
  }
}

/** Polls `probe` until it returns true; fails after `limitMs` naming `what`. */
export async function eventually(what: string, probe: () => boolean | Promise<boolean>, limitMs = 60_000): Promise<void> {
  await waitFor(what, limitMs, async () => ((await probe()) ? true : undefined));
}
