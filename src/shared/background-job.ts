/**
 * A periodic job of a process: the housekeeping that `npm start` runs beside the server and
 * `nexus worker` alone. Feature modules describe theirs with it; workers.ts runs them.
 */
export interface BackgroundJob {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}
