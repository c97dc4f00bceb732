import type { Migration } from 'kysely';
import * as core from './0001-core.js';
import * as webhooks from './0002-webhooks.js';
import * as attachments from './0003-attachments.js';
import * as search from './0004-search.js';
import * as repairStoredInputs from './0005-repair-stored-inputs.js';
import * as uploadLeases from './0006-upload-leases.js';
import * as rateLimits from './0007-rate-limits.js';
import * as queuePositions from './0008-queue-positions.js';
import * as ticketListIndex from './0009-ticket-list-index.js';
import * as ticketSyncOrder from './0012-ticket-sync-order.js';
import * as importRecords from './0013-import-records.js';
import * as email from './0011-email.js';
import * as people from './0014-people.js';
import * as views from './0015-views.js';
import * as customerErasure from './0016-customer-erasure.js';
import * as lastMessagePreview from './0017-last-message-preview.js';
import * as viewCounts from './0018-view-counts.js';
import * as dropTicketsCreatedAt from './0020-drop-tickets-created-at.js';
import * as ticketListCovering from './0021-ticket-list-covering.js';
import * as queuePositionsClustered from './0022-queue-positions-clustered.js';
import * as queueWaitingVersion from './0023-queue-waiting-version.js';
import * as ticketRepresentations from './0024-ticket-representations.js';
import * as queuePositionBuckets from './0025-queue-position-buckets.js';
import * as searchOpeningMessage from './0026-search-opening-message.js';

/**
 * Every migration, by name; names sort in the order they run. A feature adds its own file here.
 */
export const migrations: Record<string, Migration> = {
  '0001-core': core,
  '0002-webhooks': webhooks,
  '0003-attachments': attachments,
  '0004-search': search,
  '0005-repair-stored-inputs': repairStoredInputs,
  '0006-upload-leases': uploadLeases,
  '0007-rate-limits': rateLimits,
  '0008-queue-positions': queuePositions,
  '0009-ticket-list-index': ticketListIndex,
  '0012-ticket-sync-order': ticketSyncOrder,
  '0013-import-records': importRecords,
  '0011-email': email,
  '0014-people': people,
  '0015-views': views,
  '0016-customer-erasure': customerErasure,
  '0017-last-message-preview': lastMessagePreview,
  '0018-view-counts': viewCounts,
  '0020-drop-tickets-created-at': dropTicketsCreatedAt,
  '0021-ticket-list-covering': ticketListCovering,
  '0022-queue-positions-clustered': queuePositionsClustered,
  '0023-queue-waiting-version': queueWaitingVersion,
  '0024-ticket-representations': ticketRepresentations,
  '0025-queue-position-buckets': queuePositionBuckets,
  '0026-search-opening-message': searchOpeningMessage,
};
