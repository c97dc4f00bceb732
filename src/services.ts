import type { Config } from './config.js';
import type { Db } from './db/schema.js';
import type { Dialect } from './db/open.js';
import { createBrandService } from './brands/service.js';
import { createQueueService } from './queues/service.js';
import { createTicketService } from './tickets/service.js';
import { createTokenService } from './auth/token-service.js';
import { createAttachmentService, defaultBlobStore } from './attachments/service.js';
import { createEventService } from './events/service.js';
import { createWebhookService } from './webhooks/service.js';
import { createSearchService } from './search/service.js';
import type { Clock } from './shared/clock.js';
import { secretBoxFor } from './shared/secret-box.js';

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
  const attachments = createAttachmentService({
    db,
    dialect: deps.dialect,
    clock,
    config: deps.config,
    blobs: defaultBlobStore(deps.config),
    secretBox: secretBoxFor(deps.config),
  });
  const search = createSearchService({
    db,
    dialect: deps.dialect,
    clock,
    embedder: { cacheDir: deps.config.embeddingsCacheDir, remote: deps.config.embeddings },
  });
  return {
    tokens: createTokenService({ db, clock }),
    webhooks: createWebhookService({ db, clock, allowPrivate: deps.config.webhookAllowPrivate, secretBox: secretBoxFor(deps.config) }),
    events: createEventService({ db }),
    brands: createBrandService({ db, clock }),
    queues: createQueueService({ db, clock }),
    tickets: createTicketService({ db, clock, attachments: attachments.forMessages, indexer: search.indexer }),
    attachments,
    search,
  };
}

export type Services = ReturnType<typeof createServices>;
