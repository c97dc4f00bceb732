import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One HTTP/1.1 response read off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  statusCode: number;
  // biome-ignore lint/suspicious/noExplicitAny: the JSON body; tests assert on the fields they read
  json(): any;
}

/** Parses the first complete response in `data`, or undefined while it is incomplete. */
function parseResponse(data: Buffer, closed: boolean): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = data.subarray(end + 4);
  let body: Buffer;
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length < n) return undefined;
    body = rest.subarray(0, n);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) break;
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    if (!closed) return undefined;
    body = rest;
  }
  const status = Number(match[1]);
  const text = body.toString('utf8');
  return { status, statusCode: status, headers, body: text, json: () => JSON.parse(text) };
}

/** A raw TCP connection to the server that records everything it receives. */
export class RawConnection {
  readonly socket: net.Socket;
  private data = Buffer.alloc(0);
  closed = false;
  private waiters = new Set<() => void>();
  readonly closedAt: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.wake();
    });
    // A reset after the server has answered is a close like any other for these tests.
    this.socket.on('error', () => {});
    this.closedAt = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** How many bytes the server has sent so far. */
  get receivedBytes(): number {
    return this.data.length;
  }

  private wake() {
    for (const w of this.waiters) w();
  }

  /** Writes, ignoring a socket the server has already closed (the test looks at what came back). */
  write(chunk: string | Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(chunk);
  }

  /** The first response, waiting for it up to `timeoutMs`. */
  async response(timeoutMs = 15_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.data, this.closed);
      if (parsed) return parsed;
      if (this.closed)
        throw new Error(
          `connection closed without a complete response (${this.data.length} bytes: ${JSON.stringify(this.data.toString('latin1').slice(0, 200))})`,
        );
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Resolves true once the server has closed the connection, false if it has not within `timeoutMs`. */
  async waitClosed(timeoutMs = 15_000): Promise<boolean> {
    if (this.closed) return true;
    const timeout = new AbortController();
    const result = await Promise.race([this.closedAt.then(() => true), sleep(timeoutMs, false, { signal: timeout.signal }).catch(() => false)]);
    timeout.abort();
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends `request` on a fresh connection and returns the first response. */
export async function rawRequest(port: number, request: string | Buffer, timeoutMs = 15_000): Promise<RawResponse> {
  const c = new RawConnection(port);
  try {
    c.write(request);
    return await c.response(timeoutMs);
  } finally {
    c.destroy();
  }
}

/** GET /healthz on a new connection: proof that the server still answers. */
export async function healthz(port: number): Promise<number> {
  const res = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  return res.status;
}
