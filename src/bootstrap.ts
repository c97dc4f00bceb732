import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { type Config, metricsEnabled } from './config.js';
import type { Migration } from 'kysely';
import { migrateToLatest } from './db/migrate.js';
import { type Dialect, openDatabase } from './db/open.js';
import { timeQueries } from './db/query-timing.js';
import type { Db } from './db/schema.js';
import { type Metrics, createMetrics } from './metrics/metrics.js';
import { createServices, type Services } from './services.js';
import { type Clock, systemClock } from './shared/clock.js';
import { type SecretBox, loadSecretBox } from './shared/secret-box.js';
import { ensurePrivateDir } from './shared/private-files.js';

export interface Runtime {
  db: Db;
  dialect: Dialect;
  location: string;
  clock: Clock;
  config: Config;
  /** The deployment's secret box, loaded once: the services, the app and the dispatcher all use this one. */
  secretBox: SecretBox;
  services: Services;
  /** The process's metrics, when asked for and the config enables them (src/metrics/). */
  metrics: Metrics | undefined;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Replaces this release's migration list: only in tests that play an older release. */
  migrations?: Record<string, Migration>;
  /**
   * Collect metrics (if the config enables them: NEXUS_METRICS_TOKEN or NEXUS_METRICS_PORT): query
   * durations and the backlog gauges. For the long-running processes, not one-off CLI commands.
   */
  metrics?: boolean;
}

/** Opens and migrates the database and wires the services: shared by the server, the worker and the CLI. */
export async function openRuntime(config: Config, clock: Clock = systemClock, options: RuntimeOptions = {}): Promise<Runtime> {
  const opened = openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, pgPoolSize: config.pgPoolSize });
  try {
    const { newerApplied } = await migrateToLatest(opened.db, options.migrations);
    if (newerApplied.length > 0) {
      process.emitWarning(
        `the database was migrated by a newer release (${newerApplied.join(', ')}); this process runs on it as the expand/contract policy allows (docs/operations.md); upgrade it`,
        'NexusMigrationWarning',
      );
    }
  } catch (err) {
    await opened.close();
    throw err;
  }
  let secretBox: SecretBox;
  let services: Services;
  // Timed from here on: everything below, and every service, uses this handle.
  const metrics = options.metrics && metricsEnabled(config) ? createMetrics() : undefined;
  const db = metrics ? timeQueries(opened.db, metrics.queryDurations) : opened.db;
  try {
    secretBox = loadSecretBox(config);
    services = createServices({ db, dialect: opened.dialect, clock, config, secretBox });
    // Before anything signs or checks a URL: seals a plain key an older version left, makes the first one.
    await services.attachments.signingKeys.prepare();
    // The reply-token key, made once per deployment, so that outgoing mail can carry tokens synchronously.
    await services.email.replyTokens.prepare();
    // A bucket that is missing or out of reach stops the start here, named, rather than failing uploads later.
    await services.attachments.checkStorage();
  } catch (err) {
    await opened.close();
    throw err;
  }
  metrics?.watchBacklogs({ db, clock });
  metrics?.watchWrites(services.writes.stats);
  return { db, dialect: opened.dialect, location: opened.location, clock, config, secretBox, services, metrics, close: opened.close };
}

/**
 * Makes sure someone can get in: the NEXUS_ADMIN_TOKEN secret as an admin token, or, on a first
 * start with no tokens at all, a fresh admin token printed once and written to
 * `<data dir>/admin-token` (mode 0600). A NEXUS_ADMIN_TOKEN that was revoked does not stop the
 * start: the server serves every other token, warns once, and the revoked one stays refused.
 */
export async function bootstrapAdminToken(runtime: Runtime, log: Pick<Logger, 'info' | 'warn'>): Promise<void> {
  const { services, config } = runtime;
  if (config.adminToken) {
    const state = await services.tokens.ensureAdminToken(config.adminToken);
    if (state === 'created') log.info('created the admin token given in NEXUS_ADMIN_TOKEN');
    if (state === 'revoked') {
      log.warn(
        'NEXUS_ADMIN_TOKEN names a revoked token: it stays revoked and every request with it gets a 401. Set NEXUS_ADMIN_TOKEN to a new secret (or unset it) to get a working bootstrap admin token.',
      );
    }
    return;
  }
  const created = await services.tokens.createFirstAdminToken();
  if (!created) return;
  ensurePrivateDir(config.dataDir);
  const file = path.join(config.dataDir, 'admin-token');
  fs.writeFileSync(file, `${created.token}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  // Printed straight to the terminal, never through the logger, so log shipping never sees it.
  process.stdout.write(`\nFirst start: created an admin API token. It is shown this once and saved to ${file} (mode 0600):\n\n    ${created.token}\n\n`);
}
