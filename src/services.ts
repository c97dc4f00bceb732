import type { Config } from './config.js';
import type { Db } from './db/schema.js';
import type { Dialect } from './db/open.js';
import { createBrandService } from './brands/service.js';
import { createQueueService } from './queues/service.js';
import { createTicketService } from './tickets/service.js';
import { createTokenService } from './auth/token-service.js';
import type { Clock } from './shared/clock.js';

export interface CoreDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  config: Config;
}

/**
 * Wires the domain services. The HTTP app, the CLI and the workers all start from here, so each
 * runs the same code paths.
 */
export function createServices(deps: CoreDeps) {
  const { db, clock } = deps;
  return {
    tokens: createTokenService({ db, clock }),
    brands: createBrandService({ db, clock }),
    queues: createQueueService({ db, clock }),
    tickets: createTicketService({ db, clock }),
  };
}

export type Services = ReturnType<typeof createServices>;
