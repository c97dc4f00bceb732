import { CompiledQuery, type ControlledTransaction, type DatabaseConnection, type DialectAdapter, type Kysely, type Transaction } from 'kysely';
import type { Database, DbOrTx } from './schema.js';
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

/**
 * What the connection that writes tells about its writes (SQLite's, registered by open.ts): with
 * it a group commit runs its units without savepoints (see `groupCommit`).
 */
export interface WriteProbe {
  /** Rows changed by the connection's statements so far (SQLite's `total_changes()`). */
  changes(): number;
  /** Whether its transaction is still open: SQLite rolls one back by itself after some errors (a full disk). */
  inTransaction(): boolean;
}

const probes = new WeakMap<DialectAdapter, WriteProbe>();

/** Lets group commits on `db` run units without savepoints, telling with `probe` whether a failed unit wrote. */
export function registerWriteProbe(db: Kysely<Database>, probe: WriteProbe): void {
  probes.set(db.getExecutor().adapter, probe);
}

/**
 * Writes the units of a batch run without savepoints leave to its end: run in the order they were
 * added, after the last unit and before the commit, in the same transaction. For a write whose
 * cost depends on what follows it: FTS5 writes out its pending rows as a segment of their own at
 * each statement that opens a statement journal (any insert into `tickets`, whose triggers need
 * one), so a create's search row written in its unit became a segment per create, and written
 * at the batch's end the batch's rows make one (src/search/keyword-sqlite.ts).
 */
export interface BatchEndWrites {
  /** Queues `write` for the batch's end. */
  add(write: () => Promise<void>): void;
  /** Runs the writes queued so far now: before anything that must see them. */
  flush(): Promise<void>;
}

class PendingWrites implements BatchEndWrites {
  private writes: (() => Promise<void>)[] = [];

  get size(): number {
    return this.writes.length;
  }

  add(write: () => Promise<void>): void {
    this.writes.push(write);
  }

  /** Forgets the writes added since `size` was `mark` (a unit that failed). */
  truncate(mark: number): void {
    this.writes.length = Math.min(this.writes.length, mark);
  }

  async flush(): Promise<void> {
    while (this.writes.length) {
      const writes = this.writes;
      this.writes = [];
      for (const write of writes) await write();
    }
  }
}

/**
 * Writes a unit of a group commit sends without waiting for their answers, where its connection
 * pipelines (PostgreSQL: `registerPipelining`). PostgreSQL runs a connection's statements in the
 * order they arrive, so a statement the unit sends later, and the rest of the transaction, see
 * such a write exactly as if it had been awaited; only its answer comes later. A unit's write path
 * is a dozen statements or more, each a round trip to the server inside the transaction that holds
 * the ticket sequences' locks: the writes whose answer no one reads (the inserts of a ticket's row,
 * tags, message, audit entry and events) now travel with the next statement it waits for.
 */
export interface SentWrites {
  /**
   * Sends `query`; the unit waits for its answer before it ends, and fails with its error if it
   * failed. `record` gets its duration, from the send to the answer (query metrics).
   */
  send(query: CompiledQuery, record?: (seconds: number) => void): void;
  /**
   * Sends the read `query` now and returns its rows' promise, for the caller to await once it has
   * sent what follows: the statements sent before an await share its round trip. Its failure
   * fails the unit as a sent write's does.
   */
  read<R>(query: CompiledQuery<R>, record?: (seconds: number) => void): Promise<R[]>;
}

class UnitSentWrites implements SentWrites {
  private pending: Promise<void>[] = [];
  private sent = 0;
  /**
   * The first sent write that failed, in the order they were sent: the unit's failure, whatever its
   * later statements then said (the transaction aborted). By order sent, not by the order their
   * failures were reported: node-postgres may reject a later pipelined statement's promise first.
   */
  failure: { error: unknown; index: number } | undefined;

  constructor(private readonly connection: DatabaseConnection) {}

  send(query: CompiledQuery, record?: (seconds: number) => void): void {
    // A read whose rows no one takes: its answer is waited for, and its failure kept, by `settle`.
    void this.read(query, record);
  }

  read<R>(query: CompiledQuery<R>, record?: (seconds: number) => void): Promise<R[]> {
    const started = record ? performance.now() : 0;
    const index = this.sent++;
    const rows = this.connection.executeQuery<R>(query).then(
      (result) => {
        record?.((performance.now() - started) / 1000);
        return result.rows;
      },
      (error: unknown) => {
        if (!this.failure || index < this.failure.index) this.failure = { error, index };
        throw error;
      },
    );
    // Settled with the unit's other statements; handled here too, as a caller that failed before
    // its await never reads it.
    const settled = rows.then(
      () => {},
      () => {},
    );
    this.pending.push(settled);
    return rows;
  }

  /** Waits for every answer; throws the first failure. */
  async settle(): Promise<void> {
    while (this.pending.length) await Promise.all(this.pending.splice(0));
    if (this.failure) throw this.failure.error;
  }
}

// By the transaction a unit of work was handed (its batch's, while the unit runs): the writes it sent.
const sentWrites = new WeakMap<object, UnitSentWrites>();

/** Where writes made in `db` may be sent without waiting (a group-commit unit on a pipelining connection); undefined elsewhere. */
export function sentWritesOf(db: DbOrTx): SentWrites | undefined {
  return db.isTransaction ? sentWrites.get(db) : undefined;
}

const pipelining = new WeakSet<DialectAdapter>();

/** Lets group commits on `db` send the writes of their units without waiting (its connections pipeline their queries). */
export function registerPipelining(db: Kysely<Database>): void {
  pipelining.add(db.getExecutor().adapter);
}

// By dialect adapter (one writer connection per SQLite database): the batch running on it now.
const batchesRunning = new WeakMap<DialectAdapter, PendingWrites>();

/** The writes left to the end of the batch `db` is a transaction of, when it runs without savepoints; undefined otherwise. */
export function batchEndWrites(db: DbOrTx): BatchEndWrites | undefined {
  return db.isTransaction ? batchesRunning.get(db.getExecutor().adapter) : undefined;
}

/** After a unit failed having written, how long batches run each unit in a savepoint again. */
const SAVEPOINTS_AFTER_FAILED_WRITE_MS = 1000;

/** A unit failed after it wrote: its writes are mixed with the batch's, which must run again with savepoints. */
class FailedAfterWriting extends Error {}

const SAVEPOINT = CompiledQuery.raw('savepoint unit');
const RELEASE = CompiledQuery.raw('release savepoint unit');
const ROLLBACK_TO = CompiledQuery.raw('rollback to savepoint unit');

/**
 * Runs a unit of a batch in a savepoint on a connection that pipelines, sending what it need not
 * wait for (`SentWrites`): its savepoint travels with its first statement, and the release with
 * the answers it has not read yet (its last writes), so a unit costs no round trip of its own. A
 * release sent after a failed statement fails too (the transaction is aborted), which leaves the
 * savepoint there to roll back to. The unit's error is its first failed statement's, not the
 * "transaction aborted" of those after it.
 */
async function runSendingUnit(trx: ControlledTransaction<Database>, connection: DatabaseConnection, unit: Unit): Promise<{ ok: boolean; value: unknown }> {
  const sent = new UnitSentWrites(connection);
  sent.send(SAVEPOINT);
  sentWrites.set(trx, sent);
  try {
    const value = await unit.work(trx);
    sent.send(RELEASE);
    await sent.settle();
    return { ok: true, value };
  } catch (err) {
    await sent.settle().catch(() => {});
    await trx.executeQuery(ROLLBACK_TO);
    await trx.executeQuery(RELEASE);
    return { ok: false, value: sent.failure ? sent.failure.error : err };
  } finally {
    sentWrites.delete(trx);
  }
}

export interface GroupCommitOptions {
  /** Units a batch holds at most (128). */
  maxBatch?: number;
  /** How long a batch holds the event loop before it lets it turn between two units, in ms (5). */
  yieldAfterMs?: number;
  /** Runs first in every batch's transaction, before any unit: where a batch takes the lock that orders it. */
  startBatch?: (trx: Transaction<Database>) => Promise<void>;
  /** How to tell whether a failed unit wrote; undefined: the one registered for `db`, if any; null: none, every unit in a savepoint. */
  writeProbe?: WriteProbe | null;
}

export interface GroupCommitStats {
  /** Transactions committed (on SQLite, each one fsync of the WAL). */
  commits: number;
  /** Units of work run in them. */
  units: number;
  /** Batches rolled back and run again with savepoints because a unit failed after writing. */
  rerunWithSavepoints: number;
}

/**
 * Group commit: the requests that arrive while a commit is flushing wait in a queue and run
 * together, one after the other, in the next transaction, each inside a savepoint of its own, so
 * one that fails is rolled back alone and its caller gets its error. The whole batch is committed
 * with one fsync and only then is any of them told it succeeded: an acknowledged write is on disk.
 *
 * SQLite has one writer and every commit waits for an fsync of its WAL (wal-sync.ts): one
 * transaction per request would cap writes at one request per fsync. The fsync runs off the event
 * loop, so requests arriving meanwhile are read and queued for the next batch, but the connection
 * stays held until it ends: the next batch starts after it.
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
 * The batch starts two `setImmediate`s later, after the event loop has read every request that
 * arrived meanwhile (see `schedule`); `maxBatch` bounds how long one batch holds the database.
 *
 * Savepoints cost SQLite more than their two statements: each copies every page its unit first
 * changes into a statement journal, and each makes FTS5 write its pending rows out as a segment
 * of their own (a create's one search row), which later merges rewrite. Measured on ticket creates:
 * 7 % of their CPU (docs/benchmarks.md). Most units that fail do so before they write (a ticket
 * not found, a stale If-Match, a conflict), and a unit that changed no row can fail without
 * harming the batch. So where the connection can tell (`WriteProbe`: SQLite) units run without
 * savepoints; when one fails after writing, the whole transaction is rolled back and the batch
 * runs again from its first unit, each in a savepoint, as do the batches of the next second (a
 * client whose requests keep failing that way costs no more than one rerun a second).
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
  const stats: GroupCommitStats = { commits: 0, units: 0, rerunWithSavepoints: 0 };
  const adapter = db.getExecutor().adapter;
  const probe = options.writeProbe === undefined ? probes.get(adapter) : (options.writeProbe ?? undefined);
  const pipelines = pipelining.has(adapter);
  let savepointsUntil = 0;

  // Two turns of the event loop before a batch starts: the second one's poll reads the requests
  // that arrived meanwhile, among them those of the clients the last batch has just answered. With
  // the commit's fsync off the event loop, requests are read while it runs, and a batch started on
  // the first turn held only those: measured under `wrk -c32` creates at 10k, 16 units a commit
  // instead of 29, hence twice the commits and their WAL pages; on the second turn, 30 (docs/benchmarks.md).
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => setImmediate(() => void flush()));
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
    let batchEnd: PendingWrites | undefined;
    try {
      trx = await db.startTransaction().execute();
      // The transaction's own connection, for the writes units send past Kysely's one-query-at-a-time queue.
      const connection = pipelines ? await trx.getExecutor().provideConnection(async (c) => c) : undefined;
      await options.startBatch?.(trx);
      const slices = new EventLoopSlices(yieldAfterMs);
      const unitProbe = probe && performance.now() >= savepointsUntil ? probe : undefined;
      if (unitProbe) {
        batchEnd = new PendingWrites();
        batchesRunning.set(adapter, batchEnd);
      }
      for (const unit of batch) {
        await slices.pace();
        if (unitProbe && batchEnd) {
          const changesBefore = unitProbe.changes();
          const pendingBefore = batchEnd.size;
          try {
            outcomes.push({ ok: true, value: await unit.work(trx) });
          } catch (err) {
            if (unitProbe.changes() !== changesBefore || !unitProbe.inTransaction()) throw new FailedAfterWriting();
            batchEnd.truncate(pendingBefore);
            outcomes.push({ ok: false, value: err });
          }
          continue;
        }
        if (connection) {
          outcomes.push(await runSendingUnit(trx, connection, unit));
          continue;
        }
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
      await batchEnd?.flush();
      await trx.commit().execute();
      stats.commits++;
      stats.units += batch.length;
      batch.forEach((unit, i) => {
        const { ok, value } = outcomes[i]!;
        if (ok) unit.resolve(value);
        else if (!requeued(unit, value)) unit.reject(value);
      });
    } catch (err) {
      // The transaction itself failed (begin, a savepoint, the commit), or a unit without a
      // savepoint failed after writing: nothing of the batch is kept.
      if (trx && !trx.isCommitted && !trx.isRolledBack)
        await trx
          .rollback()
          .execute()
          .catch(() => {});
      if (err instanceof FailedAfterWriting) {
        stats.rerunWithSavepoints++;
        savepointsUntil = performance.now() + SAVEPOINTS_AFTER_FAILED_WRITE_MS;
        queue.unshift(...batch);
        return;
      }
      batch.forEach((unit, i) => {
        const failure = outcomes[i] && !outcomes[i]!.ok ? outcomes[i]!.value : err;
        if (!requeued(unit, failure)) unit.reject(failure);
      });
    } finally {
      if (batchEnd) batchesRunning.delete(adapter);
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
