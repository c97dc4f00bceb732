/**
 * How often the event loop got a turn while `work` ran: a callback that re-queues itself with
 * `setImmediate` counts one per turn. Code that yields between slices of synchronous work lets it
 * run; code that holds the thread for the whole of the work does not.
 */
export async function loopTurnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let counting = true;
  const countTurn = () => {
    turns++;
    if (counting) setImmediate(countTurn);
  };
  setImmediate(countTurn);
  try {
    const result = await work();
    return { result, turns };
  } finally {
    counting = false;
  }
}

/** Holds the thread for `ms` of wall-clock time, as synchronous work (a SQLite call, indexing) does. */
export function holdThread(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}
