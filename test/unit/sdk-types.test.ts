/**
 * The SDK's types (packages/sdk/src/openapi-types.ts) are generated from the OpenAPI document, like
 * the dashboard's. A route schema changed without regenerating them leaves the SDK typed against an
 * old contract: this test regenerates them in memory and fails until the committed file matches.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderSdkTypes, SDK_TYPES_FILE } from '../../bin/api-types.js';

describe('generated SDK types', () => {
  it('packages/sdk/src/openapi-types.ts is what the current OpenAPI document generates', async () => {
    const file = path.relative(process.cwd(), SDK_TYPES_FILE);
    assert.ok(fs.existsSync(SDK_TYPES_FILE), `${file} is missing: run \`npm run generate:sdk\` and commit it`);
    const committed = fs.readFileSync(SDK_TYPES_FILE, 'utf8').split('\n');
    const current = (await renderSdkTypes()).split('\n');
    const at = committed.findIndex((line, n) => line !== current[n]);
    const differs = at !== -1 || committed.length !== current.length;
    const line = at === -1 ? Math.min(committed.length, current.length) : at;
    assert.ok(
      !differs,
      `${file} is stale: the OpenAPI document changed since it was generated. Run \`npm run generate:sdk\` (or generate:types) and commit the result (first difference at line ${line + 1}:\n  committed: ${committed[line] ?? '(end of file)'}\n  current:   ${current[line] ?? '(end of file)'})`,
    );
  });
});
