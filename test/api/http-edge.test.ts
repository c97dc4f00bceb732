import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { errorCatalogue } from '../../src/http/problem.js';
import { build, buildTestApp, type TestApp } from '../helpers/app.js';
import { assertProblem, countRows, createBrand, ticketBody } from '../helpers/factories.js';
import { RawConnection, type RawResponse, healthz, rawRequest } from '../helpers/raw-http.js';

/** A problem from the catalogue, with the status that code has there. */
function assertCatalogued(res: RawResponse, status: number, code: keyof typeof errorCatalogue): void {
  const body = assertProblem(res, status, code);
  assert.equal(errorCatalogue[code].status, status);
  assert.equal(body.title, errorCatalogue[code].title);
  assert.match(body.request_id, /^req_/);
}

describe('HTTP edge: every error the server writes is a problem', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await buildTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(async () => t.close());

  const ticketJson = () => JSON.stringify(ticketBody('brand_none'));
  const auth = () => `Authorization: Bearer ${t.adminToken}\r\n`;

  // Requests Node's parser cannot finish: answered by the client-error handler with a raw problem.
  const framing: { name: string; request: () => string; status: number; code: keyof typeof errorCatalogue }[] = [
    {
      name: 'Content-Length together with Transfer-Encoding (request smuggling)',
      request: () =>
        `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      status: 400,
      code: 'malformed_request',
    },
    {
      name: 'a chunk size that is not hexadecimal',
      request: () =>
        `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${ticketJson()}\r\n0\r\n\r\n`,
      status: 400,
      code: 'malformed_request',
    },
    {
      name: 'two different Content-Length headers',
      request: () =>
        `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      status: 400,
      code: 'malformed_request',
    },
    {
      name: 'a Content-Length that is not a number',
      request: () => `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Type: application/json\r\nContent-Length: 2x\r\n\r\n{}`,
      status: 400,
      code: 'malformed_request',
    },
    {
      name: 'a transfer coding the server does not speak',
      request: () =>
        `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n`,
      status: 400,
      code: 'malformed_request',
    },
    { name: 'a request line that is garbage', request: () => '\x16\x03\x01\x02\x00garbage\r\n\r\n', status: 400, code: 'malformed_request' },
    { name: 'an unknown HTTP version', request: () => 'GET /healthz HTTP/7.1\r\nHost: localhost\r\n\r\n', status: 400, code: 'malformed_request' },
    {
      name: 'headers over the 16 KiB limit',
      request: () => `GET /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}X-Padding: ${'a'.repeat(20_000)}\r\n\r\n`,
      status: 431,
      code: 'headers_too_large',
    },
  ];

  // Requests the parser accepts but the router, Node or the app refuses before any route runs.
  const refused: typeof framing = [
    {
      name: 'malformed percent-encoding in the path',
      request: () => `GET /v1/tickets/%E0%A4%A HTTP/1.1\r\nHost: localhost\r\n${auth()}\r\n`,
      status: 400,
      code: 'invalid_url',
    },
    {
      name: 'a path parameter over 100 characters',
      request: () => `GET /v1/tickets/${'t'.repeat(150)} HTTP/1.1\r\nHost: localhost\r\n${auth()}\r\n`,
      status: 414,
      code: 'uri_too_long',
    },
    { name: 'an HTTP/1.1 request without Host', request: () => `GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n`, status: 400, code: 'bad_request' },
    {
      name: 'an Expect other than 100-continue',
      request: () => `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}Expect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      status: 417,
      code: 'expectation_failed',
    },
    {
      name: 'CONNECT (this is not a proxy)',
      request: () => 'CONNECT internal.example:443 HTTP/1.1\r\nHost: internal.example:443\r\n\r\n',
      status: 400,
      code: 'bad_request',
    },
  ];

  for (const c of [...framing, ...refused]) {
    it(`${c.name}: ${c.status} ${c.code}, nothing stored, the server still answers`, async () => {
      const before = await countRows(t, 'tickets');
      const res = await rawRequest(port, c.request());
      assertCatalogued(res, c.status, c.code);
      assert.equal(await countRows(t, 'tickets'), before);
      assert.equal(await healthz(port), 200);
    });
  }

  it('closes the connection after a framing error, so nothing smuggled behind it is read as a request', async () => {
    const brand = await createBrand(t);
    const before = await countRows(t, 'tickets');
    const smuggled = JSON.stringify(ticketBody(brand.id));
    const c = new RawConnection(port);
    try {
      // A proxy that honours Content-Length would forward all of this as one request.
      const hidden = `POST /v1/tickets HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(smuggled)}\r\n\r\n${smuggled}`;
      const outer = `0\r\n\r\n${hidden}`;
      c.write(`POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${outer.length}\r\nTransfer-Encoding: chunked\r\n\r\n${outer}`);
      assertCatalogued(await c.response(), 400, 'malformed_request');
      assert.equal((await c.response()).headers.connection, 'close');
      assert.equal(await c.waitClosed(), true, 'the server closes the connection');
    } finally {
      c.destroy();
    }
    assert.equal(await countRows(t, 'tickets'), before);
  });

  it('framework errors carry the request id and the path as instance', async () => {
    const res = await rawRequest(port, `GET /v1/brands/%zz HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: probe-1\r\n\r\n`);
    const body = assertProblem(res, 400, 'invalid_url');
    assert.equal(body.request_id, 'probe-1');
    assert.equal(res.headers['x-request-id'], 'probe-1');
    assert.equal(body.instance, '/v1/brands/%zz');
  });

  it('a request that arrives while the server shuts down is a 503 problem with Retry-After', async (ctx) => {
    const t2 = await build(ctx);
    await t2.app.listen({ host: '127.0.0.1', port: 0 });
    const port2 = (t2.app.server.address() as AddressInfo).port;
    // The server has parsed the bytes once a listener added after its own sees them.
    const serverRead = new Promise<void>((resolve) => t2.app.server.once('connection', (socket) => socket.once('data', () => resolve())));
    const conn = new RawConnection(port2);
    try {
      // Half a request: the connection is busy, so closing waits for it instead of dropping it.
      conn.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
      await serverRead;
      const closing = t2.app.close();
      for (let i = 0; i < 3000 && t2.app.server.listening; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(t2.app.server.listening, false, 'the server stopped listening');
      conn.write('\r\n');
      const res = await conn.response();
      assertCatalogued(res, 503, 'unavailable');
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.headers.connection, 'close');
      await closing;
    } finally {
      conn.destroy();
    }
  });
});
