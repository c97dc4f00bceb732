import type { Kysely } from 'kysely';

/**
 * Attachment uploads hold a lease instead of a bare `uploading` flag, so that an upload cut short
 * by a killed process can be retried with the same URL once the lease lapses. Rows a crash left
 * `uploading` before this migration have no lease and are free to be taken over at once.
 *
 * The URL-signing key is sealed at start (src/attachments/signing-keys.ts), not here: sealing
 * needs the deployment's secret key, which a migration does not see.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('attachments').addColumn('upload_lease_expires_at', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
