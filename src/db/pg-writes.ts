import type { Writable } from 'node:stream';
import type pg from 'pg';

/**
 * Makes the queries `client` is given in one turn of the event loop go to the server in one write.
 *
 * node-postgres writes each query to its socket as it is made (a pipelining client does not wait
 * for the answer to the one before: open.ts), a system call each. On this machine's loopback such
 * a write, which also wakes the server's backend, cost ~120 µs of the process's CPU, the largest
 * part of a ticket write's on PostgreSQL (a create is ~20 statements; `node --cpu-prof`,
 * docs/benchmarks.md). A group commit's unit sends the writes whose answers it does not read
 * without waiting (transactions.ts, `SentWrites`): held until the end of the turn, they leave with
 * the next statement it waits for, in one write. A query made alone is written at the end of the
 * turn it was made in, a few microseconds later.
 */
export function coalesceWritesPerTurn(client: pg.ClientBase): void {
  const stream = (client as unknown as { connection: { stream: Writable } }).connection.stream;
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let corked = false;
  client.query = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(() => {
        corked = false;
        stream.uncork();
      });
    }
    return query(...args);
  }) as typeof client.query;
}
