import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app.js';
import { ROOT } from './server-process.js';

/** A fixture message from test/fixtures/email, as bytes. */
export const fixture = (name: string): Buffer => fs.readFileSync(path.join(ROOT, 'test/fixtures/email', name));

/** A small raw message; `headers` are added (or replace) in order, `body` is the text part. */
export function rawMail(
  fields: { from?: string | null; to?: string; cc?: string; subject?: string; body?: string; headers?: Record<string, string> } = {},
): Buffer {
  const headers: Record<string, string> = {
    ...(fields.from === null ? {} : { From: fields.from ?? 'Casey Customer <casey@example.net>' }),
    To: fields.to ?? 'support@acme.test',
    ...(fields.cc ? { Cc: fields.cc } : {}),
    Subject: fields.subject ?? 'Printer on fire',
    'Message-ID': `<${Math.random().toString(36).slice(2)}@example.net>`,
    Date: 'Thu, 15 Jan 2026 09:00:00 +0000',
    'MIME-Version': '1.0',
    'Content-Type': 'text/plain; charset=utf-8',
    ...fields.headers,
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  return Buffer.from(`${head}\r\n\r\n${fields.body ?? 'It started smoking this morning.\r\n'}`);
}

/** POST /v1/inbound/email with a raw message. */
export function postMail(t: TestApp, raw: Buffer, token?: string, contentType = 'message/rfc822'): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: '/v1/inbound/email',
    headers: { authorization: `Bearer ${token ?? t.adminToken}`, 'content-type': contentType },
    payload: raw,
  });
}

/** A brand with these addresses. */
export async function brandWithAddresses(t: TestApp, addresses: string[]): Promise<{ id: string; email_addresses: string[] }> {
  const res = await t.request({ method: 'POST', url: '/v1/brands', body: { name: `Mail ${addresses[0]}`, email_addresses: addresses } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}
