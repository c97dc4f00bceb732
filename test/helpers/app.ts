import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { openRuntime, type Runtime } from '../../src/bootstrap.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { Scope } from '../../src/auth/scopes.js';
import type { App } from '../../src/http/types.js';
import { ManualClock } from '../../src/shared/clock.js';

export interface TestApp {
  app: App;
  runtime: Runtime;
  clock: ManualClock;
  config: Config;
  dataDir: string;
  adminToken: string;
  /** A fresh token with these scopes (and brand restriction). */
  token(scopes: Scope[], brandIds?: string[]): Promise<string>;
  /** inject() with a bearer token and JSON body. */
  request(opts: { method: string; url: string; token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * The real app over a real SQLite file in a temporary folder, with a clock the test controls.
 * `env` overrides configuration as environment variables would.
 */
export async function buildTestApp(options: { env?: Record<string, string>; dataDir?: string; clock?: ManualClock } = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-test-'));
  const config = loadConfig({ NEXUS_DATA_DIR: dataDir, NEXUS_WEBHOOK_ALLOW_PRIVATE: '1', ...options.env });
  const clock = options.clock ?? new ManualClock('2026-01-15T10:00:00Z');
  const runtime = await openRuntime(config, clock);
  const app = await buildApp({ db: runtime.db, clock, config, services: runtime.services });
  const admin = await runtime.services.tokens.create({ name: 'test admin', scopes: ['admin'] });
  const request: TestApp['request'] = ({ method, url, token, body, headers }) => {
    const h: Record<string, string> = { ...headers };
    const bearer = token === undefined ? admin.token : token;
    if (bearer) h.authorization = `Bearer ${bearer}`;
    return app.inject({ method: method as 'GET', url, headers: h, ...(body !== undefined ? { payload: body as object } : {}) });
  };
  return {
    app,
    runtime,
    clock,
    config,
    dataDir,
    adminToken: admin.token,
    token: async (scopes, brandIds) => (await runtime.services.tokens.create({ name: `test ${scopes.join(' ')}`, scopes, brand_ids: brandIds ?? null })).token,
    request,
    async close() {
      await app.close();
      await runtime.close();
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
