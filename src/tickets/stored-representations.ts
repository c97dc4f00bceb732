import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { StoredRepresentation } from './representation-store.js';

/**
 * A ticket's fields and conversation as the retrieve route writes them, stored in the database by
 * ticket version (migration 0024): a retrieve of a ticket that no process has read since it last
 * changed reads the ticket's head, its queue place and this row in one statement, instead of its
 * full row, messages, attachments and audit trail, and serializes only the queue place. The
 * in-memory caches of the route hold what this process read lately; this holds every ticket, so
 * that the first read of a ticket after a restart, or in another process, or of one of a million
 * tickets read at random, costs little more than a read of its row.
 *
 * Written behind, never in the transaction that changes the ticket (it is not part of the write,
 * and a change's cost stays what it was), and only when the process has time:
 * - a retrieve that had to build the JSON hands its bytes over (`keep`);
 * - a write names the ticket (`touched`), and its JSON is built in a flush, a bounded number each;
 * - a sweep (`sweep`, then every `sweepEveryMs`) walks every ticket in id order, a window at a
 *   time, and names those with no JSON stored for their version: what bulk writes, imports, mail
 *   and other processes changed, and what came in faster than it could be stored, is stored too.
 * A flush runs every `flushMs` and does its work only if the event loop was less than half busy
 * since the last one and fewer writes were named than `buildsPerFlush`: a burst of reads or writes
 * is not slowed by the work it leaves behind. It then builds for up to `buildMs` (at least
 * `buildsPerFlush` tickets), yielding to requests between builds, and stores what is ready in one
 * transaction: once a burst is over, the thousands of tickets it changed are stored within seconds.
 * What is pending is bounded: JSON handed over (`maxPending`, a few KB each) and tickets named
 * (`maxNamed`, an id each); past either bound, a ticket is left to be stored by a later read or the
 * sweep. Lost on a crash: nothing but work.
 *
 * A row is used only for the ticket's version it was made from and the `shape` (the schemas and
 * the code that write it) of this release; the table's trigger refuses a row whose version is no
 * longer the ticket's when it is written.
 */
export class StoredRepresentations {
  readonly #ready = new Map<string, StoredRepresentation>();
  readonly #touched = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();
  #closed = false;
  /** Writes named (`touched`) since the last flush: how busy writes keep the process, wherever their work runs. */
  #writesSinceFlush = 0;
  /** The last ticket id a sweep under way looked at ('' before the first); undefined when no sweep is under way. */
  #sweptTo: string | undefined;
  #nextSweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      shape: string;
      /** Stores the rows in one transaction. */
      save(rows: StoredRepresentation[]): Promise<void>;
      /** The ticket's current representation, or undefined when it is not to be stored (gone, or it signs URLs per read). */
      build(ticketId: string): Promise<StoredRepresentation | undefined>;
      /** The tickets after `after` in id order, `limit` of them: those with no JSON of their version in `shape`, and the last id (undefined at the end). */
      findUnstored(after: string, shape: string, limit: number): Promise<{ unstored: string[]; last: string | undefined }>;
    },
    private readonly options: {
      flushMs?: number;
      maxPending?: number;
      maxNamed?: number;
      buildsPerFlush?: number;
      buildMs?: number;
      sweepWindow?: number;
      sweepEveryMs?: number;
    } = {},
  ) {}

  /**
   * Starts a sweep over every ticket unless one is under way (the caller can build JSON now); when
   * it ends, the next starts `sweepEveryMs` later. It works in flushes, so only when there is slack.
   */
  sweep(): void {
    if (this.#closed || this.#sweptTo !== undefined) return;
    clearTimeout(this.#nextSweep);
    this.#nextSweep = undefined;
    this.#sweptTo = '';
    this.#schedule();
  }

  get shape(): string {
    return this.deps.shape;
  }

  /**
   * Stores JSON a read built (of `version`, in this release's shape) with the next flush. Bytes are
   * decoded only when kept: over the pending bound the call costs nothing.
   */
  keep(ticketId: string, version: number, fields: string | Buffer, conversation: string | Buffer): void {
    if (this.#closed || (!this.#ready.has(ticketId) && this.#ready.size >= (this.options.maxPending ?? 4096))) return;
    this.#touched.delete(ticketId);
    this.#ready.set(ticketId, { ticket_id: ticketId, version, shape: this.deps.shape, fields: String(fields), conversation: String(conversation) });
    this.#schedule();
  }

  /** A ticket was written: its JSON is built and stored when the process has time. */
  touched(ticketId: string): void {
    this.#writesSinceFlush++;
    this.#name(ticketId);
  }

  /** Names a ticket whose JSON is to be built in a flush (within `maxNamed`). */
  #name(ticketId: string): void {
    if (this.#closed || this.#touched.has(ticketId) || this.#touched.size >= (this.options.maxNamed ?? 65_536)) return;
    this.#ready.delete(ticketId);
    this.#touched.add(ticketId);
    this.#schedule();
  }

  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    this.#flushing = this.#store().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  /**
   * Stops storing: waits for a flush under way, then stores the JSON reads handed over (built
   * already; a bulk job that read every ticket leaves them stored). Touched tickets are dropped:
   * building them is work their next read does anyway.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#nextSweep);
    this.#timer = undefined;
    this.#sweptTo = undefined;
    this.#touched.clear();
    await this.#flushing;
    const rows = [...this.#ready.values()];
    this.#ready.clear();
    if (rows.length) await this.deps.save(rows).catch(() => {});
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#flush().catch(() => {
        // Nothing is lost: a ticket not stored is built again by its next read.
      });
    }, this.options.flushMs ?? 250);
    this.#timer.unref();
  }

  async #store(): Promise<void> {
    // Only when the loop was less than half busy since the last flush: writing a row costs more
    // than the read that made it (a 4-KB page, its index entry, the WAL every read then searches),
    // and building one is reads and serialization, so under load requests go first and the work
    // waits (bounded by `maxPending` and `maxNamed`) for a quieter moment.
    // Nor while writes come in faster than a flush builds: on PostgreSQL the database works in
    // processes of its own, so a saturating write load can leave the event loop under half busy,
    // and a flush's reads and writes would then take the very rows' locks the writes wait for.
    const utilization = performance.eventLoopUtilization(this.#lastUtilization);
    this.#lastUtilization = performance.eventLoopUtilization();
    const writes = this.#writesSinceFlush;
    this.#writesSinceFlush = 0;
    const buildsPerFlush = this.options.buildsPerFlush ?? 64;
    if (utilization.utilization >= 0.5 || writes > buildsPerFlush) {
      this.#schedule();
      return;
    }
    if (this.#touched.size < buildsPerFlush) await this.#sweepStep();
    // Builds for `buildMs` (64 builds take ~20-40 ms), so that a backlog left by a burst drains at
    // several hundred tickets a second once the burst is over; the flushes that follow see the loop
    // as busy as these builds made it, so they go on only while requests leave room.
    const started = performance.now();
    const buildMs = this.options.buildMs ?? 100;
    let builds = 0;
    for (const ticketId of this.#touched) {
      if (builds >= buildsPerFlush && performance.now() - started >= buildMs) break;
      this.#touched.delete(ticketId);
      if (this.#closed) return;
      const built = await this.deps.build(ticketId);
      builds++;
      if (built) this.#ready.set(ticketId, built);
      // Each build is reads and serialization on the event loop: requests that came in meanwhile go next.
      await setImmediate();
    }
    const rows = [...this.#ready.values()];
    this.#ready.clear();
    if (this.#touched.size || this.#sweptTo !== undefined) this.#schedule();
    if (rows.length === 0) return;
    await this.deps.save(rows);
  }

  /** The next window of a sweep under way: its tickets with no JSON stored are named (as far as `maxNamed` lets). */
  async #sweepStep(): Promise<void> {
    if (this.#sweptTo === undefined) return;
    let step: { unstored: string[]; last: string | undefined } = { unstored: [], last: undefined };
    try {
      step = await this.deps.findUnstored(this.#sweptTo, this.deps.shape, this.options.sweepWindow ?? 256);
    } catch {
      // The sweep ends here; the next one starts over.
    }
    if (this.#closed) return;
    for (const ticketId of step.unstored) if (!this.#ready.has(ticketId)) this.#name(ticketId);
    this.#sweptTo = step.last;
    if (step.last !== undefined) return;
    this.#nextSweep = setTimeout(() => this.sweep(), this.options.sweepEveryMs ?? 15 * 60_000);
    this.#nextSweep.unref();
  }
}

/**
 * The shape of stored JSON: a digest of the schemas that write it and of `REPRESENTATION_FORMAT`,
 * which a change to the views (model.ts) that does not change a schema must move by hand. A row of
 * another shape is never read: after an upgrade, every ticket is built again on its first read.
 */
export function representationShape(schemas: readonly unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([REPRESENTATION_FORMAT, ...schemas]))
    .digest('base64url')
    .slice(0, 16);
}

/**
 * Move when the JSON a ticket's views make changes while its schemas do not. 2: stored as TEXT on
 * SQLite (representation-store.ts), so that rows stored as BLOBs are built again.
 */
const REPRESENTATION_FORMAT = 2;
