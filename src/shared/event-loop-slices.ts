/**
 * Long synchronous work (better-sqlite3 calls, index building in JS) sharing the event loop with
 * the requests: the work runs in slices of `sliceMs` by the clock, and between two the loop takes
 * a turn (`setImmediate`: after the pending I/O, so connections are accepted and requests read).
 * Measured in time, not in items, because an item's cost varies (a long conversation, a common
 * term, an unoptimized first pass).
 */
export class EventLoopSlices {
  #sliceStart = performance.now();

  constructor(readonly sliceMs: number) {}

  /** Whether the current slice is spent. */
  get due(): boolean {
    return performance.now() - this.#sliceStart >= this.sliceMs;
  }

  /** Lets the event loop take a turn, then starts a new slice. */
  async turn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#sliceStart = performance.now();
  }

  /** `turn()` when the slice is spent; otherwise resolves at once. */
  async pace(): Promise<void> {
    if (this.due) await this.turn();
  }
}
