/*
 * The dashboard's wire types, generated from the OpenAPI document the server serves at
 * GET /v1/openapi.json, so that they follow the route schemas instead of being copied by hand.
 * `npm run generate:types` (bin/generate-api-types.ts) writes them, and the same types for the SDK
 * (packages/sdk, also alone by `npm run generate:sdk`); test/unit/api-types.test.ts and
 * test/unit/sdk-types.test.ts fail while a committed file is stale.
 *
 * openapi-typescript 6, not 7: version 7 builds its output with the TypeScript 5 compiler API (a
 * peer dependency that cannot sit beside the project's TypeScript 7); version 6 writes text itself.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { type OpenAPI3 } from 'openapi-typescript';
import { buildApp } from '../src/app.js';
import { openRuntime } from '../src/bootstrap.js';
import { loadConfig } from '../src/config.js';

export const API_TYPES_FILE = fileURLToPath(new URL('../dashboard/src/api-types.ts', import.meta.url));

/** The SDK's copy (packages/sdk), the same text under its own header: the SDK does not reach into the dashboard. */
export const SDK_TYPES_FILE = fileURLToPath(new URL('../packages/sdk/src/openapi-types.ts', import.meta.url));

const HEADER = `// Regenerate with \`npm run generate:types\` after changing a route schema (bin/api-types.ts).\n`;
const SDK_HEADER = `// Generated from GET /v1/openapi.json: regenerate with \`npm run generate:sdk\` after changing a route schema (bin/api-types.ts).\n`;

/*
 * TypeScript refuses a schema that refers to itself through \`components["schemas"][…]\` (TS2502,
 * openapi-typescript issue 1603). Such a schema becomes a named alias, declared once at the top,
 * which TypeScript does accept as recursive.
 */
const SELF_REFERENCING_SCHEMAS: Record<string, string> = {
  JsonValue: 'string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }',
};
const ALIASES = Object.entries(SELF_REFERENCING_SCHEMAS)
  .map(([name, type]) => `type ${name} = ${type};\n`)
  .join('');

/**
 * The document GET /v1/openapi.json answers, from the app built in this process (no port opened)
 * over a throwaway SQLite file. The configuration is the defaults, not this shell's environment,
 * so that every machine generates the same file.
 */
export async function loadOpenApiDocument(): Promise<OpenAPI3> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-api-types-'));
  try {
    const config = loadConfig({ NEXUS_DATA_DIR: dataDir });
    const runtime = await openRuntime(config);
    try {
      const app = await buildApp({ db: runtime.db, clock: runtime.clock, config, services: runtime.services, secretBox: runtime.secretBox });
      try {
        const res = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
        if (res.statusCode !== 200) throw new Error(`GET /v1/openapi.json answered ${res.statusCode}: ${res.body}`);
        return res.json() as OpenAPI3;
      } finally {
        await app.close();
      }
    } finally {
      await runtime.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The text of dashboard/src/api-types.ts, as the current route schemas make it. */
export async function renderApiTypes(document?: OpenAPI3): Promise<string> {
  return `${HEADER}${await renderTypes(document ?? (await loadOpenApiDocument()))}`;
}

/** The text of packages/sdk/src/openapi-types.ts, as the current route schemas make it. */
export async function renderSdkTypes(document?: OpenAPI3): Promise<string> {
  return `${SDK_HEADER}${await renderTypes(document ?? (await loadOpenApiDocument()))}`;
}

async function renderTypes(document: OpenAPI3): Promise<string> {
  // A copy: the generator may rewrite the document it walks, and one document feeds both files.
  const types = await openapiTS(structuredClone(document), {
    transform: (_schema, { path: pointer }) => {
      const name = pointer?.replace('#/components/schemas/', '');
      return name && name in SELF_REFERENCING_SCHEMAS ? name : undefined;
    },
  });
  return `${ALIASES}${types}`;
}
