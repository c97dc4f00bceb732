/**
 * The dashboard's wire types are generated from the OpenAPI document (bin/api-types.ts). A route
 * schema changed without regenerating them leaves the dashboard compiling against an old contract:
 * this test regenerates them in memory and fails until the committed file matches.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { API_TYPES_FILE, renderApiTypes } from '../../bin/api-types.js';

/** Where two texts first differ, as `line N`, with both lines, so the failure says what changed. */
function firstDifference(committed: string, current: string): string {
  const a = committed.split('\n');
  const b = current.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  return `first difference at line ${at + 1}:\n  committed: ${a[at] ?? '(end of file)'}\n  current:   ${b[at] ?? '(end of file)'}`;
}

describe('generated API types', () => {
  it('dashboard/src/api-types.ts is what the current OpenAPI document generates', async () => {
    const file = path.relative(process.cwd(), API_TYPES_FILE);
    assert.ok(fs.existsSync(API_TYPES_FILE), `${file} is missing: run \`npm run generate:types\` and commit it`);
    const committed = fs.readFileSync(API_TYPES_FILE, 'utf8');
    const current = await renderApiTypes();
    assert.ok(
      committed === current,
      `${file} is stale: the OpenAPI document changed since it was generated. Run \`npm run generate:types\` and commit the result (${firstDifference(committed, current)})`,
    );
  });
});
