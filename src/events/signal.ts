/**
 * A process-local nudge: "there may be webhook work". recordEvent raises it while the transaction
 * of the change is still open; on SQLite the one connection is busy until that transaction ends,
 * so a woken dispatcher's first query runs after the commit. Other processes (and PostgreSQL) rely
 * on the dispatcher's poll; the signal only lowers the lag, it never carries the work itself.
 */
type Listener = () => void;

const listeners = new Set<Listener>();

export function onDispatchWork(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function signalDispatchWork(): void {
  for (const listener of listeners) listener();
}
