// Fills the ideal server's database with the same N tickets NexusCore gets (bench/http/data.ts):
// the rows its own paths would have written (ticket + full-text + audit + outbox; for a quarter, a
// reply and a status change), inserted in bulk. One brand token per brand, stored as SHA-256.
//
//   node --import tsx bench/http/seed-ideal.mjs --tickets N --out DIR (--db FILE | --database-url URL)
//
// Writes DIR/ideal.tokens, DIR/ideal.ids (same formats as seed-product.ts) and DIR/ideal.seed.json.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BRANDS, brandId, seededRandom, ticketGenerator } from './data.js';
import { TICKET_COLUMN_LIST, newId, openPgStore, openSqliteStore, rowToTicket, sha256, ticketParams, timestamp } from './ideal-db.mjs';

const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
};
const N = Number(option('tickets'));
const outDir = option('out');
const url = option('database-url', '');
const started = performance.now();
const store = url ? await openPgStore(url) : await openSqliteStore(option('db'), { sync: 'OFF' });

const tokens = [];
const tokenIds = [];
for (let k = 0; k < BRANDS; k++) {
  tokens.push(`nxc_${crypto.randomBytes(32).toString('base64url')}`);
  tokenIds.push(newId('tok'));
}

const gen = ticketGenerator();
const sampleRand = seededRandom(0xbe7c4);
const SAMPLE = Math.min(N, 20_000);
const sample = [];

/** Ticket i and what its follow-up leaves behind, as rows. */
function rowsOf(i) {
  const { k, body, followUp } = gen.next(i);
  const now = new Date();
  const at = timestamp(now);
  const t = {
    id: newId('tick', now.getTime()),
    brand_id: body.brand_id,
    subject: body.subject,
    description: body.description,
    status: followUp?.status ?? 'open',
    priority: body.priority,
    assigned_to: body.assigned_to ?? null,
    tags: JSON.stringify(body.tags),
    customer_email: body.customer.email,
    customer_name: body.customer.name,
    metadata: JSON.stringify(body.metadata),
    version: followUp ? 3 : 1,
    created_at: at,
    updated_at: at,
  };
  const reply = followUp && {
    id: newId('msg', now.getTime()),
    ticket_id: t.id,
    author_type: 'agent',
    author_email: 'agent0@support.example.com',
    body: followUp.reply,
    created_at: at,
  };
  const line = `${t.id} ${tokens[k]} ${t.brand_id}`;
  if (sample.length < SAMPLE) sample.push(line);
  else {
    const j = Math.floor(sampleRand() * (i + 1));
    if (j < SAMPLE) sample[j] = line;
  }
  return { k, t, reply };
}

const at0 = timestamp();
if (store.dialect === 'sqlite') {
  const s = store.seed;
  s.begin();
  for (let k = 0; k < BRANDS; k++) s.token(sha256(tokens[k]), tokenIds[k], brandId(k), '["tickets:read","tickets:write"]', at0);
  s.commit();
  // The status change after the reply, as the PATCH path writes it.
  const setStatus = store.db.prepare('UPDATE tickets SET status = ?, version = 3 WHERE id = ?');
  const audit = store.db.prepare('INSERT INTO audit_log (brand_id, actor_id, action, entity_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)');
  const outbox = store.db.prepare('INSERT INTO webhook_outbox (brand_id, event_type, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)');
  for (let i = 0; i < N; ) {
    s.begin();
    for (const end = Math.min(N, i + 5000); i < end; i++) {
      const { k, t, reply } = rowsOf(i);
      s.ticket({ ...t, status: 'open', version: 1 }, tokenIds[k]);
      if (reply) {
        s.message(t.brand_id, reply, tokenIds[k]);
        setStatus.run(t.status, t.id);
        audit.run(t.brand_id, tokenIds[k], 'ticket.updated', t.id, t.updated_at, JSON.stringify({ status: t.status }));
        outbox.run(t.brand_id, 'ticket.updated', JSON.stringify({ type: 'ticket.updated', data: rowToTicket(t) }), t.updated_at, t.updated_at);
      }
    }
    s.commit();
    if (i % 100_000 === 0) process.stderr.write(`  ideal: ${i.toLocaleString('en')} tickets\n`);
  }
  s.finish();
} else {
  await store.pool.query('SET synchronous_commit TO off');
  await store.seedRows(
    'api_tokens',
    ['token_hash', 'id', 'brand_id', 'scopes', 'created_at'],
    tokens.map((tok, k) => [sha256(tok), tokenIds[k], brandId(k), '["tickets:read","tickets:write"]', at0]),
  );
  for (let i = 0; i < N; ) {
    const tickets = [];
    const fts = [];
    const messages = [];
    const audit = [];
    const outbox = [];
    for (const end = Math.min(N, i + 5000); i < end; i++) {
      const { k, t, reply } = rowsOf(i);
      tickets.push(ticketParams(t));
      fts.push([t.id, `${t.subject} ${t.description}`]);
      audit.push([t.brand_id, tokenIds[k], 'ticket.created', t.id, t.created_at, JSON.stringify({ status: 'open', priority: t.priority })]);
      outbox.push([
        t.brand_id,
        'ticket.created',
        JSON.stringify({ type: 'ticket.created', data: rowToTicket({ ...t, status: 'open', version: 1 }) }),
        t.created_at,
        t.created_at,
      ]);
      if (reply) {
        messages.push([reply.id, reply.ticket_id, reply.author_type, reply.author_email, reply.body, reply.created_at]);
        fts.push([t.id, reply.body]);
        audit.push([t.brand_id, tokenIds[k], 'message.created', t.id, t.created_at, JSON.stringify({ message_id: reply.id })]);
        outbox.push([t.brand_id, 'ticket.message_created', JSON.stringify({ type: 'ticket.message_created', data: reply }), t.created_at, t.created_at]);
        audit.push([t.brand_id, tokenIds[k], 'ticket.updated', t.id, t.created_at, JSON.stringify({ status: t.status })]);
        outbox.push([t.brand_id, 'ticket.updated', JSON.stringify({ type: 'ticket.updated', data: rowToTicket(t) }), t.created_at, t.created_at]);
      }
    }
    await store.seedRows('tickets', TICKET_COLUMN_LIST, tickets);
    await store.seedRows('tickets_fts', ['ticket_id', 'tsv'], fts, [null, "to_tsvector('simple', $n)"]);
    await store.seedRows('messages', ['id', 'ticket_id', 'author_type', 'author_email', 'body', 'created_at'], messages);
    await store.seedRows('audit_log', ['brand_id', 'actor_id', 'action', 'entity_id', 'created_at', 'data'], audit);
    await store.seedRows('webhook_outbox', ['brand_id', 'event_type', 'payload', 'created_at', 'next_attempt_at'], outbox);
    if (i % 100_000 === 0) process.stderr.write(`  ideal: ${i.toLocaleString('en')} tickets\n`);
  }
}
await store.close();

const seconds = (performance.now() - started) / 1000;
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'ideal.tokens'), `${tokens.map((t, k) => `${brandId(k)} ${t}`).join('\n')}\n`);
fs.writeFileSync(path.join(outDir, 'ideal.ids'), `${sample.join('\n')}\n`);
fs.writeFileSync(path.join(outDir, 'ideal.seed.json'), `${JSON.stringify({ tickets: N, seconds: Math.round(seconds * 10) / 10 }, null, 2)}\n`);
console.log(`seed-ideal: ${N.toLocaleString('en')} tickets in ${seconds.toFixed(1)} s`);
