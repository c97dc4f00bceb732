import type { Migration } from 'kysely';
import * as core from './0001-core.js';

/**
 * Every migration, by name; names sort in the order they run. A feature adds its own file here.
 */
export const migrations: Record<string, Migration> = {
  '0001-core': core,
};
