import type { ControlledTransaction, Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import { EventLoopSlices } from '../shared/event-loop-slices.js';
import { isStalePreparedStatement } from './pg-statements.js';

/**
 * How services open write transactions. `run` resolves only once the work is committed, so a
 * response sent after it acknowledges a durable write; it rejects with the work's own error (and
 * nothing of that work is kept) or with the commit's.
 */
export interface Transactions {
  run<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

/** One database transaction per call: for a service built on its own (the app's services share a groupCommit). */
export function transactionPerCall(db: Kysely<Database>): Transactions {
  return {
    async run(work) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await db.transaction().execute(work);
        } catch (err) {
          if (attempt >= MAX_ATTEMPTS || !isRetryable(err)) throw err;
          // A random pause, growing: two transactions that deadlocked once should not meet again at once.
          await new Promise((resolve) => setTimeout(resolve, attempt * (10 + Math.random() * 40)));
        }
      }
    },
  };
}

/**
 * PostgreSQL aborts one of two transactions that wait on each other's row locks (a deadlock,
 * 40P01) or that it cannot serialise (40001). Nothing of the aborted one was committed, so
 * running the work again is safe and is what the server asks for; the other transaction goes on.
 * Single-ticket writes take their locks in one order (the queue tree's nodes sorted, then the
 * search sequence); a bulk create holds several tickets' locks at once and can still meet them
 * in another order. A named statement the server refused after another process changed its
 * table's columns has a new name by then (pg-statements.ts): the next run parses it afresh.
 */
const MAX_ATTEMPTS = 8;
const isRetryable = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || isStalePreparedStatement(err);
};

interface Unit {
  work: (trx: Transaction<Database>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Runs so far that the database aborted and asked to run again (`isRetryable`). */
  attempts: number;
}

export interface GroupCommitOptions {
  /** Units a batch holds at most (128). */
  maxBatch?: number;
  /** How long a batch holds the event loop before it lets it turn between two units, in ms (5). */
  yieldAfterMs?: number;
  /** Runs first in every batch's transaction, before any unit: where a batch takes the lock that orders it. */
  startBatch?: (trx: Transaction<Database>) => Promise<void>;
}

export interface GroupCommitStats {
  /** Transactions committed (each one fsync with synchronous=FULL). */
  commits: number;
  /** Units of work run in them. */
  units: number;
}

/**
 * Group commit: the requests that arrive while a commit is flushing wait in a queue and run
 * together, one after the other, in the next transaction, each inside a savepoint of its own, so
 * one that fails is rolled back alone and its caller gets its error. The whole batch is committed
 * with one fsync and only then is any of them told it succeeded: an acknowledged write is on disk.
 *
 * SQLite has one writer and `synchronous=FULL` makes every commit wait for an fsync: one
 * transaction per request would cap writes at one request per fsync.
 *
 * PostgreSQL orders every ticket write behind the same rows (the change sequence, the search
 * sequence: numbers in commit order), each lock held to its commit: with a transaction per
 * request, concurrent writes queued as backends on those rows and ran one at a time, a commit and
 * a dozen round trips each, with the waiters woken at each commit (measured: 14 creates/s at 24
 * clients, p99 14.5 s; batched, 78/s and p99 0.5 s; docs/benchmarks.md). A batch there is at most
 * `maxBatch` units: every savepoint that wrote is a subtransaction, and past 64 in one transaction
 * PostgreSQL's snapshots overflow their subtransaction cache, which slows every other session.
 * A batch holds its earlier units' locks while it runs the next, so two processes' batches could
 * each hold a lock the other waits for (one unit locks a ticket and then waits for the change
 * sequence, which the other batch holds and a later unit of it needs that ticket): there the
 * services pass a `startBatch` that takes the change sequence's row first, which every ticket write
 * takes anyway, so a batch waits for another before it holds anything. A unit PostgreSQL still
 * aborts as a deadlock or a serialisation failure (40P01, 40001) is rolled back to its savepoint and
 * queued again for the next batch, up to `MAX_ATTEMPTS` runs.
 *
 * The batch starts on `setImmediate`, after the event loop has read every request that arrived
 * meanwhile; `maxBatch` bounds how long one batch holds the database.
 *
 * On SQLite the units of a batch run on a synchronous connection: without a pause the whole batch
 * is one turn of the event loop (~2 ms a ticket create, so ~60 ms for 32), and the server accepts
 * about one new connection a turn. So once a batch has held the loop for `yieldAfterMs` it lets
 * the loop take a turn between two units: pending connections are accepted and requests read
 * (measured: 32 new connections took ~1.1 s to be admitted under create load; docs/benchmarks.md,
 * "create's p99"). The transaction stays open meanwhile, and nothing else runs on its connection:
 * any other Kysely query waits for the connection's lock until the commit, and prepared reads
 * outside a transaction go to the read connection, which sees only committed rows.
 */
export function groupCommit(db: Kysely<Database>, options: GroupCommitOptions = {}): Transactions & { stats(): GroupCommitStats } {
  const maxBatch = options.maxBatch ?? 128;
  const yieldAfterMs = options.yieldAfterMs ?? 5;
  const queue: Unit[] = [];
  let scheduled = false;
  const stats: GroupCommitStats = { commits: 0, units: 0 };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  };

  /** Queued again for the next batch when PostgreSQL asks for a retry and attempts remain; true if so. */
  const requeued = (unit: Unit, err: unknown): boolean => {
    if (!isRetryable(err) || ++unit.attempts >= MAX_ATTEMPTS) return false;
    queue.push(unit);
    return true;
  };

  async function flush(): Promise<void> {
    const batch = queue.splice(0, maxBatch);
    const outcomes: { ok: boolean; value: unknown }[] = [];
    let trx: ControlledTransaction<Database> | undefined;
    try {
      trx = await db.startTransaction().execute();
      await options.startBatch?.(trx);
      const slices = new EventLoopSlices(yieldAfterMs);
      for (const unit of batch) {
        await slices.pace();
        const savepoint = await trx.savepoint('unit').execute();
        try {
          const value = await unit.work(savepoint as unknown as Transaction<Database>);
          await savepoint.releaseSavepoint('unit').execute();
          outcomes.push({ ok: true, value });
        } catch (err) {
          await savepoint.rollbackToSavepoint('unit').execute();
          await savepoint.releaseSavepoint('unit').execute();
          outcomes.push({ ok: false, value: err });
        }
      }
      await trx.commit().execute();
      stats.commits++;
      stats.units += batch.length;
      batch.forEach((unit, i) => {
        const { ok, value } = outcomes[i]!;
        if (ok) unit.resolve(value);
        else if (!requeued(unit, value)) unit.reject(value);
      });
    } catch (err) {
      // The transaction itself failed (begin, a savepoint, the commit): nothing of the batch is kept.
      if (trx && !trx.isCommitted && !trx.isRolledBack)
        await trx
          .rollback()
          .execute()
          .catch(() => {});
      batch.forEach((unit, i) => {
        const failure = outcomes[i] && !outcomes[i]!.ok ? outcomes[i]!.value : err;
        if (!requeued(unit, failure)) unit.reject(failure);
      });
    } finally {
      scheduled = false;
      if (queue.length) schedule();
    }
  }

  return {
    run<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject, attempts: 0 });
        schedule();
      });
    },
    stats: () => ({ ...stats }),
  };
}
