/**
 * The SDK as a package outside this repository gets it: compiled by its own tsconfig to
 * packages/sdk/dist (what `npm pack` in packages/sdk ships) and loaded by plain Node, without tsx.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/server-process.js';

const run = promisify(execFile);

describe('the SDK package', () => {
  it('compiles to JavaScript and declarations that plain Node loads', async () => {
    await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'packages/sdk/tsconfig.json'], { cwd: ROOT });
    const script = `
      import { NexusClient, NexusProblemError, verifyWebhook } from './packages/sdk/dist/index.js';
      const client = new NexusClient({ baseUrl: 'http://127.0.0.1:9', token: 'nxc_x' });
      console.log(JSON.stringify([typeof client.tickets.list, typeof NexusProblemError, typeof verifyWebhook]));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    assert.deepEqual(JSON.parse(stdout), ['function', 'function', 'function']);
  });
});
