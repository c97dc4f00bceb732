// The ideal start-up: Fastify 5 + better-sqlite3 (WAL, synchronous=FULL), one table, one route,
// plain JavaScript with no loader. What `npm start` is compared against.
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import path from 'node:path';

const db = new Database(path.join(process.env.NEXUS_DATA_DIR, 'baseline.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('create table if not exists tickets (id text primary key, body text not null)');
const app = Fastify();
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
