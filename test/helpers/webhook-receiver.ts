import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: http.IncomingHttpHeaders;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: the delivered JSON body; tests assert on the fields they read
  json: any;
  /** performance-free wall time of arrival, ms. */
  at: number;
}

/** What the receiver answers; `hang` never answers (the socket stays open until close). */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface WebhookReceiver {
  url: string;
  port: number;
  /** The path of `url`: the only one the receiver records. */
  path: string;
  received: ReceivedWebhook[];
  /** Sets the answer to each request; `n` counts from 1. Default: 200 `ok`. */
  respond(handler: (request: ReceivedWebhook, n: number) => Reply): void;
  /** Resolves once `count` requests (matching `filter`) arrived; rejects after `timeoutMs`. */
  waitFor(count: number, options?: { timeoutMs?: number; filter?: (r: ReceivedWebhook) => boolean }): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 that records every webhook sent to its URL. Only requests to its
 * own random path count: test files run side by side, and another file's app may still be retrying
 * a delivery to a receiver of its own that has closed, whose port this one was given.
 */
export async function startWebhookReceiver(options: { port?: number } = {}): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let handler: (request: ReceivedWebhook, n: number) => Reply = () => ({ status: 200, body: 'ok' });
  const waiters = new Set<() => void>();
  const path = `/hooks/${randomBytes(8).toString('hex')}`;
  const server = http.createServer((req, res) => {
    if (req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        // left undefined
      }
      const entry: ReceivedWebhook = { headers: req.headers, body, json, at: Date.now() };
      received.push(entry);
      const reply = handler(entry, received.length);
      for (const w of waiters) w();
      if (reply === 'hang') return;
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    path,
    received,
    respond(h) {
      handler = h;
    },
    waitFor(count, { timeoutMs = 60_000, filter = () => true } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const matching = received.filter(filter);
          if (matching.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(matching);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} webhooks within ${timeoutMs} ms, got ${received.filter(filter).length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
