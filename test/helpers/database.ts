import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type OpenDatabase, migrateToLatest, openDatabase } from '../../src/db/open.js';

/** A migrated SQLite database of its own in a temporary folder, closed and removed after the test. */
export async function freshSqliteDatabase(t: { after(fn: () => Promise<void> | void): void }, prefix: string): Promise<OpenDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const opened = openDatabase({ dataDir });
  await migrateToLatest(opened.db);
  t.after(async () => {
    await opened.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return opened;
}
