import type pg from 'pg';

/**
 * Named statements on PostgreSQL for the SQL of prepared queries (src/db/prepared.ts).
 *
 * node-postgres sends a query with parameters as an unnamed statement: the server parses and plans
 * it on every run. Our hot statements run in well under 0.1 ms, and their parse and plan took 0.2
 * to 0.7 ms more each (the server's statement log, a ticket create: ~25 statements), all of it
 * inside the write transactions that hold the shared sequence rows. A named statement is parsed
 * once per connection and its plan cached by the server.
 *
 * Only SQL that `keepPrepared` was given is named: prepared queries are built once per shape, so
 * the set is bounded, where naming every text (lists of any length, ad hoc queries) would grow
 * each connection's statement cache without end.
 *
 * A statement that reads `*` of a table keeps the columns the table had when it was parsed: once
 * another process has migrated the table (expand and contract), the server refuses the cached
 * statement ("cached plan must not change result type"). The SQL then gets a new name, so the next
 * run parses it afresh on every connection; a run outside a transaction is repeated at once under
 * the new name, and one inside is the transaction's to retry (`isStalePreparedStatement`).
 */
const names = new Map<string, string>();
let statements = 0;

/** Makes runs of `sql` on PostgreSQL use a named statement. */
export function keepPrepared(sql: string): void {
  if (!names.has(sql)) names.set(sql, `nexus_${++statements}`);
}

/** The server refused a named statement parsed before its table's columns changed. */
export function isStalePreparedStatement(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}

/** Makes `client` run the SQL of prepared queries as named statements; other queries pass through. */
export function runPreparedAsNamed(client: pg.ClientBase): void {
  const plain = client.query.bind(client) as (...args: unknown[]) => unknown;
  const runNamed = async (text: string, name: string, values: unknown[]): Promise<pg.QueryResult> => {
    const idle = client.getTransactionStatus() === 'I';
    try {
      return (await plain({ name, text, values })) as pg.QueryResult;
    } catch (err) {
      if (!isStalePreparedStatement(err)) throw err;
      if (names.get(text) === name) names.set(text, `nexus_${++statements}`);
      if (!idle) throw err;
      return (await plain({ name: names.get(text)!, text, values })) as pg.QueryResult;
    }
  };
  client.query = ((...args: unknown[]) => {
    const [text, values, callback] = args;
    const name = typeof text === 'string' && callback === undefined ? names.get(text) : undefined;
    return name === undefined ? plain(...args) : runNamed(text as string, name, (values as unknown[] | undefined) ?? []);
  }) as typeof client.query;
}
