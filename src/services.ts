import type { Config } from './config.js';
import type { Db } from './db/schema.js';
import type { Dialect } from './db/open.js';
import { createBrandService } from './brands/service.js';
import { createQueueService } from './queues/service.js';
import { createTicketService } from './tickets/service.js';
import { takeWriteOrder } from './tickets/store.js';
import { groupCommit } from './db/transactions.js';
import { createTokenService } from './auth/token-service.js';
import { createAgentService } from './agents/service.js';
import { createCustomerService } from './customers/service.js';
import { createViewService } from './views/service.js';
import { createCustomerErasure } from './customers/erasure.js';
import { createAttachmentService, defaultBlobStore } from './attachments/service.js';
import { createEventService } from './events/service.js';
import { createWebhookService } from './webhooks/service.js';
import { createSearchService } from './search/service.js';
import type { Clock } from './shared/clock.js';
import type { SecretBox } from './shared/secret-box.js';
import { cursorCodecFor } from './http/cursor-key.js';
import { createExportService } from './exports/service.js';
import { createImportService } from './imports/service.js';
import { createInboundMail } from './email/inbound.js';
import { createMessageMailer } from './email/outbound.js';
import { createReplyTokens } from './email/reply-token.js';

export interface CoreDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  config: Config;
  /** The deployment's secret box (`loadSecretBox`): seals webhook secrets, URL-signing and cursor keys. */
  secretBox: SecretBox;
}

/**
 * Wires the domain services. The HTTP app, the CLI and the workers all start from here, so each
 * runs the same code paths.
 */
export function createServices(deps: CoreDeps) {
  const { db, clock, secretBox } = deps;
  const cursors = cursorCodecFor({ db, clock, secretBox });
  // Concurrent writes share transactions and commits on both dialects (see groupCommit): SQLite has
  // one writer, and on PostgreSQL every ticket write waits on the same sequence rows. There a batch
  // takes the change sequence first (no two processes' batches can deadlock) and holds at most 32
  // units: each one's savepoint is a subtransaction, and PostgreSQL's cache of them holds 64.
  const transactions = groupCommit(db, deps.dialect === 'postgres' ? { maxBatch: 32, startBatch: takeWriteOrder } : {});
  const attachments = createAttachmentService({
    db,
    dialect: deps.dialect,
    clock,
    config: deps.config,
    blobs: defaultBlobStore(deps.config),
    secretBox,
  });
  const search = createSearchService({
    db,
    dialect: deps.dialect,
    clock,
    embedder: { cacheDir: deps.config.embeddingsCacheDir, remote: deps.config.embeddings },
    cursors,
  });
  const brands = createBrandService({ db, clock });
  const agents = createAgentService({ db, clock, cursors });
  // Customers list their tickets through the ticket service, which keeps their counts: built in this order, joined by a closure.
  const erasure = createCustomerErasure({
    db,
    dialect: deps.dialect,
    clock,
    transactions,
    secretBox,
    reindex: search.indexer.ticketsChanged,
    purgeSearchText: search.purgeReplacedText,
    deleteBlobs: attachments.deleteBlobs,
    warn: (message) => process.emitWarning(message, 'NexusErasureWarning'),
  });
  const customers = createCustomerService({ db, clock, cursors, tickets: { list: (principal, query) => tickets.list(principal, query) }, erasure });
  const tickets = createTicketService({
    db,
    clock,
    attachments: attachments.forMessages,
    indexer: search.indexer,
    cursors,
    transactions,
    people: { checkAssignee: agents.checkAssignee, ...customers.ledger },
    mailer: createMessageMailer(deps.config),
  });
  const replyTokens = createReplyTokens({ db, box: secretBox });
  const inbound = createInboundMail({
    db,
    clock,
    config: deps.config,
    brands,
    tickets,
    attachments,
    messageAttachments: attachments.forMessages,
    replyTokens,
  });
  return {
    tokens: createTokenService({ db, clock, bootstrapSecret: deps.config.adminToken, agents }),
    agents,
    webhooks: createWebhookService({ db, clock, allowPrivate: deps.config.webhookAllowPrivate, secretBox, cursors }),
    events: createEventService({ db, cursors }),
    brands,
    queues: createQueueService({ db, clock, cursors }),
    tickets,
    customers,
    views: createViewService({ db, clock, tickets }),
    attachments,
    search,
    exports: createExportService({ db }),
    imports: createImportService({ db, clock, brands, tickets }),
    /** E-mail in (the listener and the HTTP relay share `inbound`) and the reply tokens of mail out. */
    email: { inbound, replyTokens },
    /** What the shared write transactions did: commits, units, batches run again (for metrics). */
    writes: { stats: transactions.stats },
  };
}

export type Services = ReturnType<typeof createServices>;
