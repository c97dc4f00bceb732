import fs from 'node:fs';
import { describe, it } from 'node:test';
import { waitFor } from './wait.js';

/** Debian's Chromium, which `.ci/run` installs; the browser suites drive it through playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';

const missing = fs.existsSync(CHROMIUM) ? false : `chromium not installed: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does it)`;

/** A browser suite; without Chromium it is one skipped test, so the run's summary counts and names it. */
export function browserSuite(name: string, fn: () => void): void {
  if (missing) it(name, { skip: missing }, () => {});
  else describe(name, { timeout: 300_000 }, fn);
}

/** Polls `fn` until it returns something truthy, and returns that; fails after `timeoutMs` naming `what`. */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  return waitFor(what, timeoutMs, async () => (await fn()) || undefined);
}
