import type { Kysely } from 'kysely';

// Migrations use `Kysely<any>` on purpose: they must keep compiling after the schema types move on.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('attachments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Null until the attachment is linked when its creator could see every brand (see docs/attachments.md).
    .addColumn('brand_id', 'text', (c) => c.references('brands.id'))
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('declared_size', 'bigint')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint')
    .addColumn('sha256', 'text')
    .addColumn('storage_key', 'text')
    .addColumn('upload_expires_at', 'text', (c) => c.notNull())
    .addColumn('ticket_id', 'text', (c) => c.references('tickets.id'))
    .addColumn('message_id', 'text', (c) => c.references('messages.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('uploaded_at', 'text')
    .addColumn('linked_at', 'text')
    .execute();
  // Serves both "the attachments of these messages" and the sweeper's "unlinked and old".
  await db.schema.createIndex('attachments_message_created').on('attachments').columns(['message_id', 'created_at']).execute();

  // Random secrets the server makes for itself (URL signing), shared by every process on the database.
  await db.schema
    .createTable('server_keys')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // No key is inserted here: keys are sealed with the deployment's secret key, which migrations do
  // not see, so the first start makes one (src/attachments/signing-keys.ts). Databases migrated
  // before that change hold a plain key, which the next start seals.
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
