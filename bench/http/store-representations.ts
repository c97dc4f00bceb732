/**
 * Leaves a seeded database as a server leaves tickets it has read once, or created through the API
 * with time to spare afterwards: every ticket's JSON stored by version
 * (src/tickets/stored-representations.ts). A server stores what its routes wrote when it is idle,
 * and its sweep stores every other ticket in time (~250 a second at most); the seeder's bulk path
 * goes through the services, below the routes, so this reads every ticket once through the app
 * (`app.inject`), 3,000 at a time with a pause after each, in which the server stores what the
 * reads built: minutes where the sweep would take far longer. Run by seed-product.ts last; on its
 * own for a seed made before representations were stored, or stored in another format:
 *
 *   node --import tsx bench/http/store-representations.ts (--data-dir DIR | --database-url URL)
 */
import { type Config, loadConfig } from '../../src/config.js';
import { openInProcessApp } from './inproc-app.js';

/** Tickets read between two idle pauses: under the 4,096 the server keeps pending. */
const BATCH = 3000;

/** Reads every ticket of the database at `config` through the app; returns how many. */
export async function storeRepresentations(config: Config, progress: (done: number, total: number) => void = () => {}): Promise<number> {
  const { runtime, app, close } = await openInProcessApp(config);
  try {
    const token = await runtime.services.tokens.create({ name: 'bench store-representations', scopes: ['tickets:read'] });
    let done = 0;
    let total = 0;
    try {
      total = Number(
        (
          await runtime.db
            .selectFrom('tickets')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
      let after = '';
      for (;;) {
        const ids = await runtime.db.selectFrom('tickets').select('id').where('id', '>', after).orderBy('id').limit(BATCH).execute();
        if (ids.length === 0) break;
        for (const { id } of ids) {
          const res = await app.inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: { authorization: `Bearer ${token.token}` } });
          if (res.statusCode !== 200) throw new Error(`GET ${id}: ${res.statusCode} ${res.body}`);
        }
        done += ids.length;
        after = ids[ids.length - 1]!.id;
        progress(done, total);
        // Idle for a while, as a server between bursts: the JSON read is written behind, by a flush
        // that runs only after an interval in which the event loop was not busy (two intervals here).
        await new Promise((resolve) => setTimeout(resolve, 700));
      }
    } finally {
      await runtime.services.tokens.revoke(token.id);
    }
    return done;
  } finally {
    await close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const dataDir = at('data-dir');
  const databaseUrl = at('database-url');
  if (!dataDir && !databaseUrl) {
    console.error('usage: store-representations.ts (--data-dir DIR | --database-url URL)');
    process.exit(2);
  }
  const config = loadConfig({
    ...process.env,
    ...(dataDir ? { NEXUS_DATA_DIR: dataDir } : {}),
    DATABASE_URL: databaseUrl ?? '',
    NEXUS_LOG_LEVEL: 'silent',
    NEXUS_WORKERS: '0',
    NEXUS_RATE_LIMIT_PER_TOKEN: '1000000000',
  });
  const started = performance.now();
  const n = await storeRepresentations(config, (done, total) => {
    if (done % 50_000 < 1000) process.stderr.write(`store-representations: ${done}/${total}\n`);
  });
  console.log(`store-representations: ${n.toLocaleString('en')} tickets read and stored in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
