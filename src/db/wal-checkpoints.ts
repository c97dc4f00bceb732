import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database as SqliteDatabase } from 'better-sqlite3';

/**
 * SQLite's WAL checkpoints on a thread of their own.
 *
 * By default the connection that commits also checkpoints: the commit that takes the WAL past
 * 1,000 pages copies them into the database file and fsyncs it (twice, with synchronous=FULL)
 * before it returns. better-sqlite3 is synchronous, so on the API's writer that is the event loop
 * standing still: no request is read or answered meanwhile. Measured on ticket creates (10,000
 * tickets, 32 clients, one core): 436–496 creates/s with the checkpoints in the commits, 550–598
 * without (docs/benchmarks.md, "Checkpoints off the event loop").
 *
 * So the writer checkpoints only as a backstop (`BACKSTOP_PAGES`, ten times SQLite's threshold),
 * and a worker thread with a connection of its own runs a passive checkpoint every `intervalMs`
 * when something was committed since its last one (its `data_version` changed). A passive
 * checkpoint waits for no one: it copies what no reader still needs, and writers go on appending to
 * the WAL meanwhile. Durability does not depend on it: a commit is durable once its WAL frames are
 * fsynced, which the writer still does in every commit.
 *
 * If the thread cannot start or fails, the writer takes its checkpoints back (SQLite's default).
 */
export interface WalCheckpoints {
  /** Stops the thread after a last checkpoint; the writer takes its checkpoints back. */
  close(): Promise<void>;
}

/** SQLite's own threshold is 1,000 pages; past ten times that the writer checkpoints itself. */
const BACKSTOP_PAGES = 10_000;
const SQLITE_DEFAULT_PAGES = 1_000;

// Plain JavaScript evaluated in the worker: it runs the same under tsx and from dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 0');
db.pragma('synchronous = FULL');
const dataVersion = db.prepare('PRAGMA data_version').pluck();
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let checkpointed;
function tick() {
  // Read before the checkpoint: a commit during it changes the version, and the next tick copies it.
  const version = dataVersion.get();
  if (version === checkpointed) return;
  checkpoint.get();
  checkpointed = version;
}
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  try { tick(); } finally { db.close(); parentPort.close(); }
});
`;

export function startWalCheckpoints(
  writer: SqliteDatabase,
  file: string,
  options: { intervalMs?: number; onFailure?: (err: Error) => void } = {},
): WalCheckpoints {
  const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');
  writer.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlitePath, file, intervalMs: options.intervalMs ?? 200 } });
  // A checkpoint thread does not keep a process alive (a CLI command ends when its work does).
  worker.unref();
  let closing = false;
  // However the thread ends (closed, or failed: 'exit' follows 'error'), the writer checkpoints again.
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      if (writer.open) writer.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`);
      resolve();
    }),
  );
  worker.on('error', (err) => {
    if (!closing) options.onFailure?.(err);
  });
  return {
    async close() {
      if (closing) return exited;
      closing = true;
      // Held by the thread again until it has finished: awaiting an unreferenced thread's exit would let the process end first.
      worker.ref();
      worker.postMessage('close');
      await exited;
    },
  };
}
