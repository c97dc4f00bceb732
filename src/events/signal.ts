import type { Logger } from 'pino';
import type { Dialect } from '../db/open.js';
import { listenForNotifications } from '../db/listen.js';
import { DISPATCH_CHANNEL } from './store.js';

/**
 * A process-local nudge: "there may be webhook work". recordEvent raises it while the transaction
 * of the change is still open; on SQLite the one connection is busy until that transaction ends,
 * so a woken dispatcher's first query runs after the commit. Commits in other processes reach a
 * dispatcher through `dispatchWakeups` (PostgreSQL) or its poll (SQLite); the nudge only lowers
 * the lag, it never carries the work itself.
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

/** What wakes a dispatcher: subscribes `wake`, returns the unsubscribe. */
export type DispatchWakeups = (wake: () => void) => () => Promise<void>;

/** The in-process nudge alone: SQLite, and dispatchers made without a database URL (tests, benches). */
export const inProcessWakeups: DispatchWakeups = (wake) => {
  const unsubscribe = onDispatchWork(wake);
  return async () => {
    unsubscribe();
  };
};

/**
 * What wakes the dispatcher of a process. On PostgreSQL: a LISTEN on DISPATCH_CHANNEL, which
 * every process that records an event notifies in its transaction (src/events/store.ts), so a
 * worker hears of another process's commit as it happens instead of at its next poll; plus the
 * in-process nudge, raised also by the webhook service (a retry asked for, an endpoint
 * re-enabled, a test event). On SQLite: the nudge; other processes' commits wait for the poll.
 */
export function dispatchWakeups(deps: { dialect: Dialect; databaseUrl: string | undefined; log: Pick<Logger, 'warn' | 'info'> }): DispatchWakeups {
  const url = deps.databaseUrl;
  if (deps.dialect !== 'postgres' || !url) return inProcessWakeups;
  return (wake) => {
    const unsubscribe = onDispatchWork(wake);
    const listener = listenForNotifications({ url, channel: DISPATCH_CHANNEL, onNotify: wake, log: deps.log });
    return async () => {
      unsubscribe();
      await listener.close();
    };
  };
}
