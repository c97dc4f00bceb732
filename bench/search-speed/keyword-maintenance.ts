/**
 * How long the keyword index's own maintenance holds the thread: N documents of ~40 words
 * (a skewed 5,000-word vocabulary and one unique order number each), trimmed as after a load, then
 * updated with new text one document at a time until half the postings pool is dead, which makes
 * the pool's rebuild due. Timed per change, and per step of the rebuild:
 *
 * - `at once`: the rebuild runs inside the change that crosses the line (an index without
 *   `rebuildInSteps`);
 * - `in steps`: the change only flags it, and the rebuild runs as `compactSteps()` (what the
 *   server's follower drives between turns of the event loop).
 *
 *   node --import tsx bench/search-speed/keyword-maintenance.ts [N=300000]
 *
 * The longest change also shows anything else a change can do in one piece (the pool growing, a
 * garbage collection); compare with `node --trace-gc`.
 */
import { InvertedIndex } from '../../src/search/keyword-memory.js';

const n = Number(process.argv[2] ?? 300_000);
const words = Array.from({ length: 5000 }, (_, i) => `w${i}`);

/** Document `i`'s text: deterministic, common words far more frequent than rare ones. */
function textOf(i: number) {
  const picked: string[] = [];
  let s = Math.imul(i, 2654435761) >>> 0;
  for (let k = 0; k < 40; k++) {
    s = (Math.imul(s ^ (s >>> 13), 0x5bd1e995) + k) >>> 0;
    picked.push(words[Math.floor(words.length * ((s % 10007) / 10007) ** 2)]!);
  }
  picked.push(`order${i}`);
  return { subject: picked.slice(0, 6).join(' '), body: picked.slice(6).join(' '), meta: '' };
}

for (const inSteps of [false, true]) {
  const index = new InvertedIndex({ rebuildInSteps: inSteps });
  for (let i = 1; i <= n; i++) index.upsert(i, 'a', textOf(i));
  index.compact();
  const rebuildsBefore = index.rebuilds;
  let longestChange = 0;
  let changes = 0;
  for (let id = 1; index.rebuilds === rebuildsBefore && !index.rebuildDue; id = (id % n) + 1) {
    const started = performance.now();
    index.upsert(id, 'a', textOf(id + 7 * n));
    longestChange = Math.max(longestChange, performance.now() - started);
    changes++;
  }
  let steps = 0;
  let longestStep = 0;
  let stepsMs = 0;
  const rebuild = index.compactSteps();
  for (;;) {
    const started = performance.now();
    const { done } = rebuild.next();
    const ms = performance.now() - started;
    if (done) break;
    steps++;
    stepsMs += ms;
    longestStep = Math.max(longestStep, ms);
  }
  console.log(
    `${inSteps ? 'in steps' : 'at once '}: ${n.toLocaleString('en')} documents, ${changes.toLocaleString('en')} changes until the rebuild; ` +
      `longest change ${longestChange.toFixed(1)} ms; ${steps} steps, longest ${longestStep.toFixed(1)} ms, ${stepsMs.toFixed(0)} ms in all`,
  );
}
