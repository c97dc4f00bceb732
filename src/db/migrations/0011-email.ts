import type { Kysely } from 'kysely';

/**
 * E-mail in and out (docs/email.md): the addresses of each brand, the mail received (raw bytes in the
 * blob store, one row each for audit, de-duplication and the per-sender limit), the messages' mail
 * fields (visibility, Message-ID, untrimmed text, delivery state) and the outbox of mail to send.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The primary key makes an address belong to one brand only.
  await db.schema
    .createTable('brand_email_addresses')
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('brand_id', 'text', (c) => c.notNull().references('brands.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('brand_email_addresses_brand').on('brand_email_addresses').columns(['brand_id', 'position']).execute();

  await db.schema
    .createTable('inbound_emails')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('brand_id', 'text', (c) => c.references('brands.id'))
    .addColumn('sender', 'text')
    .addColumn('rfc_message_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('ticket_id', 'text')
    .addColumn('message_id', 'text')
    .addColumn('raw_storage_key', 'text')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();
  // A mail sent again (its sender never saw our 250) is recognised by its Message-ID.
  await db.schema.createIndex('inbound_emails_message_id').on('inbound_emails').columns(['brand_id', 'rfc_message_id']).execute();
  // The per-sender limit counts one sender's recent mail.
  await db.schema.createIndex('inbound_emails_sender').on('inbound_emails').columns(['sender', 'received_at']).execute();

  await db.schema
    .alterTable('messages')
    .addColumn('visibility', 'text', (c) => c.notNull().defaultTo('public'))
    .execute();
  await db.schema.alterTable('messages').addColumn('email_message_id', 'text').execute();
  await db.schema.alterTable('messages').addColumn('full_body', 'text').execute();
  await db.schema.alterTable('messages').addColumn('delivery_status', 'text').execute();
  await db.schema
    .alterTable('messages')
    .addColumn('delivery_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('messages').addColumn('delivery_last_error', 'text').execute();
  // Threading: a reply names Message-IDs we sent or received.
  await db.schema.createIndex('messages_email_message_id').on('messages').columns(['email_message_id']).execute();

  await db.schema
    .createTable('email_outbox')
    .addColumn('message_id', 'text', (c) => c.primaryKey().references('messages.id'))
    .addColumn('ticket_id', 'text', (c) => c.notNull())
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('email_outbox_due').on('email_outbox').columns(['next_attempt_at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('NexusCore migrations are forward-only');
}
