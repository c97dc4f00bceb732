import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildTestApp, testPostgresUrl } from '../helpers/app.js';
import { createBrand, createTicket } from '../helpers/factories.js';
import { eventually } from '../helpers/wait.js';

/**
 * The WAL-index header in the -shm file (https://www.sqlite.org/walformat.html): `mxFrame`, the
 * last valid frame of the WAL, at byte 16; `nBackfill`, how many of them a checkpoint has copied
 * into the database file, at byte 96. Native byte order.
 */
function walProgress(file: string): { frames: number; backfilled: number } {
  const shm = fs.readFileSync(`${file}-shm`);
  return { frames: shm.readUInt32LE(16), backfilled: shm.readUInt32LE(96) };
}

describe('WAL checkpoints on their own thread', { skip: testPostgresUrl ? 'SQLite only' : false }, () => {
  it('copies committed writes into the database file without the writer checkpointing; the last close removes the WAL', async (t) => {
    const app = await buildTestApp();
    let closed = false;
    t.after(() => (closed ? undefined : app.close()));
    const file = path.join(app.dataDir, 'nexus.sqlite');

    const brand = await createBrand(app);
    for (let i = 0; i < 5; i++) await createTicket(app, brand.id);
    const written = walProgress(file);
    // Far below SQLite's own threshold (1,000 pages): left to the writer, nothing would be copied yet.
    assert.ok(written.frames > 0 && written.frames < 1000, `frames ${written.frames}`);
    await eventually('the checkpoint thread to copy every frame', () => {
      const now = walProgress(file);
      return now.backfilled === now.frames && now.frames > 0;
    });

    // More writes after a checkpoint are copied in their turn (the WAL may have started over).
    await createTicket(app, brand.id);
    await eventually('the new frames to be copied', () => {
      const now = walProgress(file);
      return now.backfilled === now.frames && now.frames > 0;
    });
    assert.equal((await app.request({ method: 'GET', url: `/v1/tickets?brand_id=${brand.id}&limit=100` })).json().data.length, 6);

    await app.close();
    closed = true;
    // The last connection to close checkpoints and removes the WAL, as before.
    assert.equal(fs.existsSync(`${file}-wal`), false);
  });
});
