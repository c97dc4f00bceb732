// The ideal ticket server's storage, for SQLite (better-sqlite3, WAL) and PostgreSQL (pg): the
// same tables and the same queries in both, and nothing more than each path needs:
//   token     SHA-256 of the bearer secret -> one primary-key read (nothing cached)
//   get       one primary-key read scoped to the token's brand
//   list      one index range (brand_id, status, id) newest first
//   search    one full-text query (FTS5 MATCH ranked by bm25; a tsvector GIN query ranked by ts_rank)
//   create    one transaction: ticket + full-text row + audit row + outbox row
//   reply     one transaction: message + full-text row + ticket version bump + audit + outbox
//   patch     one transaction: ticket read + update + audit + outbox
// Plain JavaScript with no loader, like a minimal service would be written.
import crypto from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
let lastMs = 0;
let seq = 0;
/** `<prefix>_<26 chars>`, time-ordered like NexusCore's ids (so inserts land at the end of the index). */
export function newId(prefix, now = Date.now()) {
  if (now <= lastMs) seq++;
  else {
    lastMs = now;
    seq = 0;
  }
  let t = '';
  for (let i = 0, ms = lastMs; i < 10; i++, ms = Math.floor(ms / 32)) t = ALPHABET[ms % 32] + t;
  let s = '';
  for (let i = 0, n = seq; i < 4; i++, n = Math.floor(n / 32)) s = ALPHABET[n % 32] + s;
  const rnd = crypto.randomBytes(12);
  let r = '';
  for (let i = 0; i < 12; i++) r += ALPHABET[rnd[i] & 31];
  return `${prefix}_${t}${s}${r}`;
}

export const sha256 = (secret) => crypto.createHash('sha256').update(secret).digest('hex');
export const timestamp = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const TICKET_COLUMNS =
  'id, brand_id, subject, description, status, priority, assigned_to, tags, customer_email, customer_name, metadata, version, created_at, updated_at';

const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS api_tokens (
  token_hash TEXT PRIMARY KEY, id TEXT NOT NULL, brand_id TEXT NOT NULL, scopes TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY, brand_id TEXT NOT NULL, subject TEXT NOT NULL, description TEXT NOT NULL,
  status TEXT NOT NULL, priority TEXT NOT NULL, assigned_to TEXT, tags TEXT NOT NULL,
  customer_email TEXT NOT NULL, customer_name TEXT, metadata TEXT NOT NULL, version INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_brand_status_id ON tickets (brand_id, status, id);
CREATE VIRTUAL TABLE IF NOT EXISTS tickets_fts USING fts5 (ticket_id UNINDEXED, subject, body);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, ticket_id TEXT NOT NULL, author_type TEXT NOT NULL, author_email TEXT,
  body TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ticket ON messages (ticket_id, id);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY, brand_id TEXT NOT NULL, actor_id TEXT NOT NULL, action TEXT NOT NULL,
  entity_id TEXT NOT NULL, created_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
  id INTEGER PRIMARY KEY, brand_id TEXT NOT NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL,
  created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS webhook_outbox_pending ON webhook_outbox (next_attempt_at) WHERE delivered_at IS NULL;
`;

const PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS api_tokens (
  token_hash TEXT PRIMARY KEY, id TEXT NOT NULL, brand_id TEXT NOT NULL, scopes TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY, brand_id TEXT NOT NULL, subject TEXT NOT NULL, description TEXT NOT NULL,
  status TEXT NOT NULL, priority TEXT NOT NULL, assigned_to TEXT, tags TEXT NOT NULL,
  customer_email TEXT NOT NULL, customer_name TEXT, metadata TEXT NOT NULL, version INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_brand_status_id ON tickets (brand_id, status, id);
CREATE TABLE IF NOT EXISTS tickets_fts (id BIGSERIAL PRIMARY KEY, ticket_id TEXT NOT NULL, tsv TSVECTOR NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_fts_tsv ON tickets_fts USING gin (tsv);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, ticket_id TEXT NOT NULL, author_type TEXT NOT NULL, author_email TEXT,
  body TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ticket ON messages (ticket_id, id);
CREATE TABLE IF NOT EXISTS audit_log (
  id BIGSERIAL PRIMARY KEY, brand_id TEXT NOT NULL, actor_id TEXT NOT NULL, action TEXT NOT NULL,
  entity_id TEXT NOT NULL, created_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
  id BIGSERIAL PRIMARY KEY, brand_id TEXT NOT NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL,
  created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS webhook_outbox_pending ON webhook_outbox (next_attempt_at) WHERE delivered_at IS NULL;
`;

/** Ticket row -> API object (tags/metadata are stored as JSON text). */
export function rowToTicket(r) {
  return {
    id: r.id,
    brand_id: r.brand_id,
    subject: r.subject,
    description: r.description,
    status: r.status,
    priority: r.priority,
    assigned_to: r.assigned_to,
    tags: JSON.parse(r.tags),
    customer: { email: r.customer_email, name: r.customer_name },
    metadata: JSON.parse(r.metadata),
    version: Number(r.version),
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

const ticketParams = (t) => [
  t.id,
  t.brand_id,
  t.subject,
  t.description,
  t.status,
  t.priority,
  t.assigned_to,
  t.tags,
  t.customer_email,
  t.customer_name,
  t.metadata,
  t.version,
  t.created_at,
  t.updated_at,
];

/** Words of a free-text query as an FTS5 expression: every word must match (implicit AND), quoted. */
export function ftsQuery(text) {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return words
    .slice(0, 16)
    .map((w) => `"${w}"`)
    .join(' ');
}

/**
 * SQLite store. `sync`: the synchronous pragma (FULL like NexusCore for the server; OFF while seeding).
 * Every method is async only so that the server's routes are the same for both dialects.
 */
export async function openSqliteStore(file, { sync = 'FULL' } = {}) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  db.pragma('busy_timeout = 5000');
  // The same page cache as NexusCore's connections (and ../shared/perf's servers).
  db.pragma('cache_size = -65536');
  db.exec(SQLITE_SCHEMA);
  const st = {
    token: db.prepare('SELECT id, brand_id, scopes, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?'),
    ticket: db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE id = ? AND brand_id = ?`),
    list: db.prepare(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE brand_id = ? AND status = ? ORDER BY id DESC LIMIT ?`),
    search: db.prepare(
      `SELECT ${TICKET_COLUMNS.split(', ')
        .map((c) => `t.${c}`)
        .join(', ')}, f.rank AS score FROM tickets_fts f JOIN tickets t ON t.id = f.ticket_id
       WHERE tickets_fts MATCH ? AND t.brand_id = ? ORDER BY f.rank LIMIT ?`,
    ),
    insertTicket: db.prepare(`INSERT INTO tickets (${TICKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertFts: db.prepare('INSERT INTO tickets_fts (ticket_id, subject, body) VALUES (?, ?, ?)'),
    insertMessage: db.prepare('INSERT INTO messages (id, ticket_id, author_type, author_email, body, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
    bump: db.prepare('UPDATE tickets SET version = version + 1, updated_at = ? WHERE id = ?'),
    update: db.prepare('UPDATE tickets SET status = ?, priority = ?, version = ?, updated_at = ? WHERE id = ?'),
    insertAudit: db.prepare('INSERT INTO audit_log (brand_id, actor_id, action, entity_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)'),
    insertOutbox: db.prepare('INSERT INTO webhook_outbox (brand_id, event_type, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)'),
    insertToken: db.prepare('INSERT INTO api_tokens (token_hash, id, brand_id, scopes, created_at) VALUES (?, ?, ?, ?, ?)'),
  };
  const audit = (brand, actor, action, entity, at, data) => st.insertAudit.run(brand, actor, action, entity, at, JSON.stringify(data));
  const outbox = (brand, type, data, at) => st.insertOutbox.run(brand, type, JSON.stringify({ type, data }), at, at);

  const createTicket = db.transaction((t, actor) => {
    st.insertTicket.run(...ticketParams(t));
    st.insertFts.run(t.id, t.subject, t.description);
    audit(t.brand_id, actor, 'ticket.created', t.id, t.created_at, { status: t.status, priority: t.priority });
    outbox(t.brand_id, 'ticket.created', rowToTicket(t), t.created_at);
  });
  const addMessage = db.transaction((brand, m, actor) => {
    if (!st.ticket.get(m.ticket_id, brand)) return false;
    st.insertMessage.run(m.id, m.ticket_id, m.author_type, m.author_email, m.body, m.created_at);
    st.insertFts.run(m.ticket_id, '', m.body);
    st.bump.run(m.created_at, m.ticket_id);
    audit(brand, actor, 'message.created', m.ticket_id, m.created_at, { message_id: m.id });
    outbox(brand, 'ticket.message_created', m, m.created_at);
    return true;
  });
  const updateTicket = db.transaction((id, brand, changes, actor, at) => {
    const row = st.ticket.get(id, brand);
    if (!row) return undefined;
    const next = { ...row, ...changes, version: row.version + 1, updated_at: at };
    st.update.run(next.status, next.priority, next.version, at, id);
    audit(brand, actor, 'ticket.updated', id, at, changes);
    const ticket = rowToTicket(next);
    outbox(brand, 'ticket.updated', ticket, at);
    return ticket;
  });

  return {
    dialect: 'sqlite',
    db,
    async token(hash) {
      return st.token.get(hash);
    },
    async ticket(id, brand) {
      return st.ticket.get(id, brand);
    },
    async list(brand, status, limit) {
      return st.list.all(brand, status, limit);
    },
    async search(text, brand, limit) {
      const q = ftsQuery(text);
      return q ? st.search.all(q, brand, limit) : [];
    },
    async createTicket(t, actor) {
      createTicket(t, actor);
    },
    async addMessage(brand, m, actor) {
      return addMessage(brand, m, actor);
    },
    async updateTicket(id, brand, changes, actor, at) {
      return updateTicket(id, brand, changes, actor, at);
    },
    /** Seeding: inserts as the paths above would, without a transaction of their own (the caller batches). */
    seed: {
      begin: () => db.exec('BEGIN'),
      commit: () => db.exec('COMMIT'),
      token: (hash, id, brand, scopes, at) => st.insertToken.run(hash, id, brand, scopes, at),
      ticket: (t, actor) => {
        st.insertTicket.run(...ticketParams(t));
        st.insertFts.run(t.id, t.subject, t.description);
        audit(t.brand_id, actor, 'ticket.created', t.id, t.created_at, { status: t.status, priority: t.priority });
        outbox(t.brand_id, 'ticket.created', rowToTicket(t), t.created_at);
      },
      message: (brand, m, actor) => {
        st.insertMessage.run(m.id, m.ticket_id, m.author_type, m.author_email, m.body, m.created_at);
        st.insertFts.run(m.ticket_id, '', m.body);
        audit(brand, actor, 'message.created', m.ticket_id, m.created_at, { message_id: m.id });
        outbox(brand, 'ticket.message_created', m, m.created_at);
      },
      finish: () => {
        // Merge the bulk load's FTS5 segments into one, as a long-lived index is after its merges.
        db.exec("INSERT INTO tickets_fts(tickets_fts) VALUES('optimize')");
        db.pragma('wal_checkpoint(TRUNCATE)');
      },
    },
    async close() {
      db.close();
    },
  };
}

/** PostgreSQL store: a pool of 10 like NexusCore's; one client per transaction. */
export async function openPgStore(url) {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  await pool.query(PG_SCHEMA);
  const cols = TICKET_COLUMNS.split(', ');
  const insertTicketSql = `INSERT INTO tickets (${TICKET_COLUMNS}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`;
  const q = {
    token: { name: 'token', text: 'SELECT id, brand_id, scopes, expires_at, revoked_at FROM api_tokens WHERE token_hash = $1' },
    ticket: { name: 'ticket', text: `SELECT ${TICKET_COLUMNS} FROM tickets WHERE id = $1 AND brand_id = $2` },
    ticketForUpdate: { name: 'ticket_fu', text: `SELECT ${TICKET_COLUMNS} FROM tickets WHERE id = $1 AND brand_id = $2 FOR UPDATE` },
    list: { name: 'list', text: `SELECT ${TICKET_COLUMNS} FROM tickets WHERE brand_id = $1 AND status = $2 ORDER BY id DESC LIMIT $3` },
    search: {
      name: 'search',
      text: `SELECT ${cols.map((c) => `t.${c}`).join(', ')}, ts_rank(f.tsv, q) AS score
             FROM tickets_fts f JOIN tickets t ON t.id = f.ticket_id, plainto_tsquery('simple', $1) q
             WHERE f.tsv @@ q AND t.brand_id = $2 ORDER BY score DESC LIMIT $3`,
    },
    insertTicket: { name: 'ins_ticket', text: insertTicketSql },
    insertFts: { name: 'ins_fts', text: "INSERT INTO tickets_fts (ticket_id, tsv) VALUES ($1, to_tsvector('simple', $2 || ' ' || $3))" },
    insertMessage: {
      name: 'ins_msg',
      text: 'INSERT INTO messages (id, ticket_id, author_type, author_email, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    },
    bump: { name: 'bump', text: 'UPDATE tickets SET version = version + 1, updated_at = $1 WHERE id = $2' },
    update: { name: 'update', text: 'UPDATE tickets SET status = $1, priority = $2, version = $3, updated_at = $4 WHERE id = $5' },
    insertAudit: { name: 'ins_audit', text: 'INSERT INTO audit_log (brand_id, actor_id, action, entity_id, created_at, data) VALUES ($1, $2, $3, $4, $5, $6)' },
    insertOutbox: {
      name: 'ins_outbox',
      text: 'INSERT INTO webhook_outbox (brand_id, event_type, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5)',
    },
  };
  const run = (c, query, values) => c.query({ ...query, values });
  const audit = (c, brand, actor, action, entity, at, data) => run(c, q.insertAudit, [brand, actor, action, entity, at, JSON.stringify(data)]);
  const outbox = (c, brand, type, data, at) => run(c, q.insertOutbox, [brand, type, JSON.stringify({ type, data }), at, at]);
  async function tx(fn) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
  const one = async (query, values) => (await run(pool, query, values)).rows[0];
  return {
    dialect: 'postgres',
    pool,
    token: (hash) => one(q.token, [hash]),
    ticket: (id, brand) => one(q.ticket, [id, brand]),
    list: async (brand, status, limit) => (await run(pool, q.list, [brand, status, limit])).rows,
    search: async (text, brand, limit) => (await run(pool, q.search, [text, brand, limit])).rows,
    createTicket: (t, actor) =>
      tx(async (c) => {
        await run(c, q.insertTicket, ticketParams(t));
        await run(c, q.insertFts, [t.id, t.subject, t.description]);
        await audit(c, t.brand_id, actor, 'ticket.created', t.id, t.created_at, { status: t.status, priority: t.priority });
        await outbox(c, t.brand_id, 'ticket.created', rowToTicket(t), t.created_at);
      }),
    addMessage: (brand, m, actor) =>
      tx(async (c) => {
        if (!(await run(c, q.ticketForUpdate, [m.ticket_id, brand])).rows[0]) return false;
        await run(c, q.insertMessage, [m.id, m.ticket_id, m.author_type, m.author_email, m.body, m.created_at]);
        await run(c, q.insertFts, [m.ticket_id, '', m.body]);
        await run(c, q.bump, [m.created_at, m.ticket_id]);
        await audit(c, brand, actor, 'message.created', m.ticket_id, m.created_at, { message_id: m.id });
        await outbox(c, brand, 'ticket.message_created', m, m.created_at);
        return true;
      }),
    updateTicket: (id, brand, changes, actor, at) =>
      tx(async (c) => {
        const row = (await run(c, q.ticketForUpdate, [id, brand])).rows[0];
        if (!row) return undefined;
        const next = { ...row, ...changes, version: Number(row.version) + 1, updated_at: at };
        await run(c, q.update, [next.status, next.priority, next.version, at, id]);
        await audit(c, brand, actor, 'ticket.updated', id, at, changes);
        const ticket = rowToTicket(next);
        await outbox(c, brand, 'ticket.updated', ticket, at);
        return ticket;
      }),
    /** Bulk load for the seeder: multi-row INSERTs of whole tables' worth of rows. */
    async seedRows(table, columns, rows, expressions) {
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = rows.slice(i, i + 500);
        const values = [];
        const tuples = chunk.map((row) => {
          const start = values.length;
          values.push(...row);
          return `(${row.map((_, j) => (expressions?.[j] ?? '$n').replace('$n', `$${start + j + 1}`)).join(', ')})`;
        });
        await pool.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, values);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

export const TICKET_COLUMN_LIST = TICKET_COLUMNS.split(', ');
export { ticketParams };
