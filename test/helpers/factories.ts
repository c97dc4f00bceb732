import assert from 'node:assert/strict';
import type { TestApp } from './app.js';

let counter = 0;

export async function createBrand(t: TestApp, fields: { id?: string; name?: string } = {}): Promise<{ id: string; default_queue_id: string }> {
  const res = await t.request({
    method: 'POST',
    url: '/v1/brands',
    body: { name: fields.name ?? `Brand ${++counter}`, ...(fields.id ? { id: fields.id } : {}) },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

export function ticketBody(brandId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    brand_id: brandId,
    subject: `Ticket ${++counter}`,
    description: 'Customer requested refund on order 10021',
    customer: { email: 'customer@example.com', name: 'Casey Customer' },
    ...overrides,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: callers read the fields they assert on from the JSON body
export async function createTicket(t: TestApp, brandId: string, overrides: Record<string, unknown> = {}, token?: string): Promise<any> {
  const res = await t.request({ method: 'POST', url: '/v1/tickets', body: ticketBody(brandId, overrides), ...(token ? { token } : {}) });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

/** Asserts an RFC 9457 problem response and returns its body. */
// biome-ignore lint/suspicious/noExplicitAny: callers read the fields they assert on from the JSON body
export function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string; json(): any }, status: number, code?: string): any {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json();
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  assert.equal(typeof body.type, 'string');
  if (code) assert.equal(body.code, code);
  assert.ok(!/\bat \S+:\d+:\d+/.test(res.body), 'no stack trace in problem body');
  return body;
}

export async function countRows(t: TestApp, table: 'tickets' | 'messages' | 'events' | 'audit_entries' | 'brands' | 'queues' | 'tokens'): Promise<number> {
  const row = await t.runtime.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
