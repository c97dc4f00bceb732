import pg from 'pg';
import type { Logger } from 'pino';

export interface NotificationListener {
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 30_000;

/**
 * Calls `onNotify` for each PostgreSQL notification on `channel` (`LISTEN`), and once more each
 * time listening starts, since whatever was notified while no connection listened is lost.
 *
 * The connection is its own, outside the pool: a listening connection stays checked out for the
 * life of the process, and a pooled one would be taken from the requests. When it drops (server
 * restart, failover, an administrator's kill) it is opened again, backing off up to 30 s; a
 * caller relying on it keeps a poll for the gap.
 */
export function listenForNotifications(options: {
  url: string;
  channel: string;
  onNotify: () => void;
  log: Pick<Logger, 'warn' | 'info'>;
}): NotificationListener {
  const { url, channel, onNotify, log } = options;
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;
  let lostOnce = false;

  function lost(c: pg.Client, err?: unknown): void {
    if (client !== c || closed) return;
    client = undefined;
    lostOnce = true;
    c.end().catch(() => {});
    log.warn({ err, channel, retry_in_ms: delay }, 'PostgreSQL notification listener lost its connection; reconnecting');
    timer = setTimeout(() => void connect(), delay);
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({ connectionString: url });
    client = c;
    c.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    // Kept for the life of the client: an 'error' without a listener would end the process.
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${c.escapeIdentifier(channel)}`);
    } catch (err) {
      lost(c, err);
      return;
    }
    if (client !== c) return;
    delay = RECONNECT_MIN_MS;
    if (lostOnce) log.info({ channel }, 'PostgreSQL notification listener listening again');
    onNotify();
  }

  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
