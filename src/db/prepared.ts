import { type Compilable, type CompiledQuery, type DialectAdapter, type Insertable, type Kysely, type QueryResult, createQueryId } from 'kysely';
import { dialectOf } from './dialect-of.js';
import { keepPrepared } from './pg-statements.js';
import { sentWritesOf } from './transactions.js';
import { type RecordDuration, recorderFor } from './query-timing.js';
import type { Database, DbOrTx } from './schema.js';

/**
 * Queries built once and run many times.
 *
 * Building a query with Kysely (immutable nodes, frozen at every step) and compiling it to SQL
 * cost more than running the primary-key reads the API mostly makes: profiled at ~40 µs per query
 * on `GET /v1/tickets/{id}`, which runs seven of them. A prepared query is built with placeholders
 * (`slots.name`) the first time it runs on a dialect, and later runs only put the values in.
 *
 * A slot may stand wherever Kysely takes a value (`where`, `limit`, `values`). A list (`in`) has
 * one placeholder per element in the SQL text, so it takes a fixed length: `slotList(slots.ids, n)`,
 * and the caller passes exactly n values.
 *
 * On SQLite, a query on the database itself (not in a transaction) runs on a read connection of
 * its own (see `registerReader`): it sees every committed write, never one still in a transaction,
 * and does not queue behind the writer. In a transaction, or on PostgreSQL, it runs through Kysely;
 * on PostgreSQL as a named statement, parsed and planned once per connection (pg-statements.ts).
 */
export interface PreparedQuery<P, R> {
  all(db: DbOrTx, params: P): Promise<R[]>;
  first(db: DbOrTx, params: P): Promise<R | undefined>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(db: DbOrTx, params: P): Promise<number>;
  /**
   * Runs a write whose answer no one reads. In a group-commit unit on PostgreSQL it is sent without
   * waiting for the answer (`sentWritesOf`, src/db/transactions.ts): it travels with the next
   * statement the unit waits for, and its failure fails the unit. Elsewhere it runs as `run` does.
   */
  send(db: DbOrTx, params: P): Promise<void>;
  /**
   * Starts the query and returns its rows' promise, to be awaited after the caller has started
   * what follows it. In a group-commit unit on PostgreSQL it is sent at once (`SentWrites.read`),
   * so the statements started before the caller's next await share one round trip, and run in
   * the order they were started. Elsewhere it runs as `all` does: at once on SQLite, and through
   * Kysely's connection, which runs a transaction's queries one at a time in call order.
   */
  ahead(db: DbOrTx, params: P): Promise<R[]>;
}

/** Runs SQL synchronously on a connection that only reads. */
export interface SqlReader {
  all(sql: string, parameters: readonly unknown[]): unknown[];
  /** SQLite's `data_version` on this connection: it changes whenever any other connection (this process's writer, another process) commits. */
  dataVersion(): number;
  /** Undefined when every commit this process made is durable; otherwise settles once they are: a read waits for it, so it never sees a write not yet on disk. */
  commitsPending(): Promise<void> | undefined;
}

/** Runs SQL synchronously on the connection that writes: the rows of a statement that returns any, and the rows it changed. */
export interface SqlWriter {
  execute(sql: string, parameters: readonly unknown[]): { rows: unknown[]; changes: number };
}

class Slot {
  constructor(
    readonly name: string,
    /** For an element of a list slot: its index in the list. */
    readonly index?: number,
    /** Written into the SQL text on SQLite (`inlinedOnSqlite`). */
    readonly inlined = false,
  ) {}
}

/**
 * The slot's value written into the SQL text on SQLite rather than bound, for a value SQLite's
 * planner reads while it prepares the statement: a `limit`, or a value compared with a partial
 * index's condition (`status = 'open'` may use `tickets_queue_order`). SQLite (3.53) plans such a
 * statement for the value it was bound first and prepares it again whenever a value is bound to
 * that parameter, which is every run: 20–25 µs more on the tickets list (docs/benchmarks.md).
 * Each value makes a statement of its own, so only for values from a small set (a page size, a
 * status). PostgreSQL binds it as any other.
 */
export function inlinedOnSqlite<T>(slot: T): T {
  if (!(slot instanceof Slot)) throw new TypeError('inlinedOnSqlite takes a slot: slots.<name> or an element of slotList');
  return new Slot(slot.name, slot.index, true) as T;
}

/**
 * A value as an SQLite literal, or undefined where it is better bound: integers and short strings
 * (no NUL, which would end the SQL text).
 */
function sqliteLiteral(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : undefined;
  if (typeof value === 'string' && value.length <= 64 && !value.includes('\0')) return `'${value.replaceAll("'", "''")}'`;
  return undefined;
}

/**
 * A compiled SQLite query with the constants it was built with (`where('status', '=', 'open')`,
 * `limit(1)`) written into its text, for the reason `inlinedOnSqlite` gives: they are the same on
 * every run, so this costs nothing. Unchanged when its placeholders cannot be told apart from a
 * `?` inside a literal of raw SQL (more `?` than parameters).
 */
function withSqliteConstants(sql: string, parameters: readonly unknown[]): { sql: string; parameters: unknown[] } {
  const pieces = sql.split('?');
  if (pieces.length - 1 !== parameters.length) return { sql, parameters: [...parameters] };
  return withLiterals(pieces, parameters, (p) => (p instanceof Slot ? undefined : sqliteLiteral(p)));
}

/**
 * The SQL text split at its placeholders (`pieces`), put together again with each parameter either
 * written in as the literal `literalOf` gives for it or, where that is undefined, left bound.
 */
function withLiterals(
  pieces: readonly string[],
  parameters: readonly unknown[],
  literalOf: (value: unknown, index: number) => string | undefined,
): { sql: string; parameters: unknown[] } {
  let sql = pieces[0]!;
  const bound: unknown[] = [];
  parameters.forEach((value, i) => {
    const literal = literalOf(value, i);
    if (literal === undefined) bound.push(value);
    sql += (literal ?? '?') + pieces[i + 1]!;
  });
  return { sql, parameters: bound };
}

/** `length` placeholders for the elements of the list parameter whose slot is `list`. */
export function slotList<T>(list: readonly T[], length: number): T[] {
  if (!(list instanceof Slot)) throw new TypeError('slotList takes a slot: slots.<name>');
  const name = list.name;
  return Array.from({ length }, (_, i) => new Slot(name, i) as T);
}

/**
 * A query over a list (`slotList`) prepared once per list length: the function returned gives the
 * query for a list of n values, built by `prepare(n)` the first time. Lengths up to `maxKept` (a
 * page of 100 and one more) are kept; a longer list, rarer, gets a query of its own each time.
 */
export function preparedPerLength<P extends Record<string, unknown>, R>(
  prepare: (length: number) => PreparedQuery<P, R>,
  maxKept = 101,
): (length: number) => PreparedQuery<P, R> {
  const kept = new Map<number, PreparedQuery<P, R>>();
  return (length) => {
    let query = kept.get(length);
    if (!query) {
      query = prepare(length);
      if (length <= maxKept) kept.set(length, query);
    }
    return query;
  };
}

// By dialect adapter, one per database: shared by the same database seen through a plugin (query-timing.ts).
const readers = new WeakMap<DialectAdapter, SqlReader>();
const writers = new WeakMap<DialectAdapter, SqlWriter>();

/**
 * A number that stays the same exactly as long as nothing is committed to the database, by this
 * process or any other: rows a prepared query read outside a transaction after it was taken may be
 * reused while it holds. Undefined where the database offers no such number (PostgreSQL).
 */
export function committedDataVersion(db: DbOrTx): number | undefined {
  return readers.get(db.getExecutor().adapter)?.dataVersion();
}

/** Routes prepared queries made on `db` outside transactions to `reader` (SQLite's read connection). */
export function registerReader(db: Kysely<Database>, reader: SqlReader): void {
  readers.set(db.getExecutor().adapter, reader);
}

/**
 * Runs prepared queries made in a transaction of `db` on `writer`, the connection that transaction
 * holds (SQLite has one), without going through Kysely's executor: on a ticket create, passing a
 * dozen statements through the executor's connection provider and promise chain cost as much CPU
 * as SQLite's own work. Only in a transaction: there the caller holds the one connection, so
 * nothing else can be running a statement on it.
 */
export function registerWriter(db: Kysely<Database>, writer: SqlWriter): void {
  writers.set(db.getExecutor().adapter, writer);
}

export function prepareQuery<P extends Record<string, unknown>, R>(build: (db: Kysely<Database>, slots: Readonly<P>) => Compilable<R>): PreparedQuery<P, R> {
  // Slots are handed out by name: `slots.id` is the placeholder for `params.id`.
  const slots = new Proxy({} as Readonly<P>, { get: (_target, name) => new Slot(String(name)) });
  // One compiled form per dialect adapter: a transaction shares its database's adapter.
  const compiled = new WeakMap<DialectAdapter, Compiled>();
  interface Compiled {
    query: CompiledQuery<R>;
    /** Per parameter, the slot it takes its value from (undefined: a constant of the query). */
    slots: (Slot | undefined)[];
    /** On SQLite, when some slots are `inlinedOnSqlite`: the query's text split at its placeholders. */
    pieces: string[] | undefined;
    /** Only a select may go to the read connection. */
    reads: boolean;
    /** Where its durations go when the database is timed (src/db/query-timing.ts). */
    record: RecordDuration | undefined;
  }

  function compiledFor(db: DbOrTx) {
    const adapter = db.getExecutor().adapter;
    let entry = compiled.get(adapter);
    if (!entry) {
      let query = build(db as Kysely<Database>, slots).compile();
      if (dialectOf(db) === 'postgres') keepPrepared(query.sql);
      else query = { ...query, ...withSqliteConstants(query.sql, query.parameters) };
      const pieces = query.sql.split('?');
      // As for the constants: slots are bound as usual when a `?` of raw SQL's literal would misplace them.
      const inlines =
        dialectOf(db) !== 'postgres' && pieces.length - 1 === query.parameters.length && query.parameters.some((p) => p instanceof Slot && p.inlined);
      entry = {
        query,
        slots: query.parameters.map((p) => (p instanceof Slot ? p : undefined)),
        pieces: inlines ? pieces : undefined,
        reads: query.query.kind === 'SelectQueryNode',
        record: recorderFor(db, query.query),
      };
      compiled.set(adapter, entry);
    }
    return entry;
  }

  /** The SQL text and parameters of one run: the query's own, or with its inlined slots' values written in. */
  function statementOf(entry: Compiled, params: P): { sql: string; parameters: unknown[] } {
    const parameters = parametersOf(entry, params);
    const { pieces, slots } = entry;
    if (!pieces) return { sql: entry.query.sql, parameters };
    return withLiterals(pieces, parameters, (value, i) => (slots[i]?.inlined ? sqliteLiteral(value) : undefined));
  }

  /** One run as a query of its own, for the connection itself (a sent statement): its id is its own, as `execute` gives one. */
  function compiledRun(entry: Compiled, params: P): CompiledQuery<R> {
    return { ...entry.query, ...statementOf(entry, params), queryId: createQueryId() };
  }

  function parametersOf(entry: Compiled, params: P): unknown[] {
    const { parameters } = entry.query;
    const out = new Array<unknown>(parameters.length);
    for (let i = 0; i < parameters.length; i++) {
      const slot = entry.slots[i];
      if (slot === undefined) out[i] = parameters[i];
      else if (slot.index === undefined) out[i] = params[slot.name];
      else out[i] = (params[slot.name] as readonly unknown[])[slot.index];
    }
    return out;
  }

  /** The rows and changed-row count of one run. */
  async function execute(db: DbOrTx, params: P): Promise<{ rows: R[]; changes: number }> {
    const entry = compiledFor(db);
    const { sql, parameters } = statementOf(entry, params);
    const { record } = entry;
    const started = record ? performance.now() : 0;
    const adapter = db.getExecutor().adapter;
    const direct = db.isTransaction ? writers.get(adapter) : undefined;
    if (direct) {
      const result = direct.execute(sql, parameters) as { rows: R[]; changes: number };
      record?.((performance.now() - started) / 1000);
      return result;
    }
    const reader = entry.reads && !db.isTransaction ? readers.get(adapter) : undefined;
    if (reader) {
      // Again after each wait: another commit may have begun its fsync meanwhile.
      let waited = false;
      for (let pending = reader.commitsPending(); pending; pending = reader.commitsPending()) {
        await pending;
        waited = true;
      }
      const readStarted = waited && record ? performance.now() : started;
      const rows = reader.all(sql, parameters) as R[];
      record?.((performance.now() - readStarted) / 1000);
      return { rows, changes: 0 };
    }
    // A query id of its own: the compiled one's was timed once, at compile, by the timing plugin.
    const result: QueryResult<R> = await db.executeQuery({ ...entry.query, sql, parameters, queryId: createQueryId() });
    record?.((performance.now() - started) / 1000);
    return { rows: result.rows, changes: Number(result.numAffectedRows ?? 0) };
  }

  async function all(db: DbOrTx, params: P): Promise<R[]> {
    return (await execute(db, params)).rows;
  }

  async function send(db: DbOrTx, params: P): Promise<void> {
    const sent = sentWritesOf(db);
    if (!sent) {
      await execute(db, params);
      return;
    }
    const entry = compiledFor(db);
    sent.send(compiledRun(entry, params), entry.record);
  }

  function ahead(db: DbOrTx, params: P): Promise<R[]> {
    const sent = sentWritesOf(db);
    if (!sent) {
      const rows = all(db, params);
      // Handled: a caller that failed before its await (a statement started before this one
      // failed) never reads it.
      rows.catch(() => {});
      return rows;
    }
    const entry = compiledFor(db);
    return sent.read(compiledRun(entry, params), entry.record);
  }

  return {
    all,
    ahead,
    first: async (db, params) => (await all(db, params))[0],
    run: async (db, params) => (await execute(db, params)).changes,
    send,
  };
}

/**
 * Runs a write built for one call whose answer no one reads: sent without waiting where the
 * transaction allows it, as `PreparedQuery.send` is; else run and awaited.
 */
export async function sendWrite(db: DbOrTx, query: CompiledQuery): Promise<void> {
  const sent = sentWritesOf(db);
  if (sent) sent.send(query, recorderFor(db, query.query));
  else await db.executeQuery(query);
}

/**
 * An insert of one row into `table`, prepared once per set of columns: the columns are the row's
 * keys whose value is not undefined (undefined leaves a column to its default, as Kysely's
 * `values` does). For the rows every write path inserts (tickets, messages, audit entries, events).
 * Nothing is read from its answer: in a group-commit unit on PostgreSQL it is sent without waiting
 * (`send`).
 */
export function preparedInsert<T extends keyof Database & string>(table: T): (db: DbOrTx, row: Insertable<Database[T]>) => Promise<void> {
  const byColumns = new Map<string, PreparedQuery<Record<string, unknown>, unknown>>();
  return async (db, row) => {
    const values = row as Record<string, unknown>;
    const columns = Object.keys(values).filter((c) => values[c] !== undefined);
    const key = columns.join(',');
    let query = byColumns.get(key);
    if (!query) {
      query = prepareQuery((qb, slots: Record<string, unknown>) =>
        // biome-ignore lint/suspicious/noExplicitAny: the row's columns are the table's, checked by the signature
        qb.insertInto(table).values(Object.fromEntries(columns.map((c) => [c, slots[c]])) as any),
      );
      byColumns.set(key, query);
    }
    await query.send(db, values);
  };
}

/**
 * A statement over a list of rows (a multi-row insert), prepared once per number of rows: `build`
 * gets rows whose values are placeholders named by column and index. More than `maxRows` rows are
 * built and compiled for the call, as Kysely does, rather than kept. Sent as `preparedInsert` is.
 */
export function preparedForRows<Row extends Record<string, unknown>>(
  columns: readonly (keyof Row & string)[],
  build: (db: Kysely<Database>, rows: Row[]) => Compilable<unknown>,
  maxRows = 64,
): (db: DbOrTx, rows: readonly Row[]) => Promise<void> {
  const forCount = preparedPerLength(
    (n) =>
      prepareQuery((qb, slots: Record<string, unknown>) =>
        build(
          qb,
          Array.from({ length: n }, (_, i) => Object.fromEntries(columns.map((c) => [c, slots[`${c}${i}`]])) as Row),
        ),
      ),
    maxRows,
  );
  return async (db, rows) => {
    if (rows.length === 0) return;
    if (rows.length > maxRows) {
      await db.executeQuery(build(db as Kysely<Database>, rows as Row[]).compile());
      return;
    }
    const n = rows.length;
    const params: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) for (const c of columns) params[`${c}${i}`] = rows[i]![c];
    await forCount(n).send(db, params);
  };
}
