import type { Migration } from 'kysely';
import * as core from './0001-core.js';
import * as webhooks from './0002-webhooks.js';
import * as attachments from './0003-attachments.js';
import * as search from './0004-search.js';
import * as rateLimits from './0007-rate-limits.js';

/**
 * Every migration, by name; names sort in the order they run. A feature adds its own file here.
 */
export const migrations: Record<string, Migration> = {
  '0001-core': core,
  '0002-webhooks': webhooks,
  '0003-attachments': attachments,
  '0004-search': search,
  '0007-rate-limits': rateLimits,
};
