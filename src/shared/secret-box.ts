import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PRIVATE_FILE_MODE, ensurePrivateDir } from './private-files.js';

/**
 * Encrypts secrets that must be usable again later (webhook signing secrets, replayable responses
 * that carry a freshly created token), so that the database alone never holds them in clear.
 * AES-256-GCM; sealed text is `v1.<base64url iv|tag|ciphertext>`.
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

const VERSION = 'v1.';

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('the secret key must be 32 bytes');
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(sealed) {
      if (!sealed.startsWith(VERSION)) throw new Error('not a sealed value');
      const raw = Buffer.from(sealed.slice(VERSION.length), 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * The box for a deployment: keyed by NEXUS_SECRET_KEY when set (every process sharing a database
 * must then have the same one), else by `<data dir>/secret-key`, created by the first load with mode 0600.
 * The key never lives in the database it protects. A process loads its box once, at start
 * (`openRuntime`), and hands that one to everything that seals or opens a secret.
 */
export function loadSecretBox(config: { dataDir: string; secretKey?: string | undefined }): SecretBox {
  return createSecretBox(config.secretKey ? createHash('sha256').update(config.secretKey).digest() : readOrCreateKeyFile(config.dataDir));
}

/** Where the secret key lives when NEXUS_SECRET_KEY is unset; `nexus backup` copies it from there. */
export const secretKeyFileOf = (dataDir: string): string => path.join(dataDir, 'secret-key');

function readOrCreateKeyFile(dataDir: string): Buffer {
  const file = secretKeyFileOf(dataDir);
  ensurePrivateDir(dataDir);
  try {
    fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    // The umask can only narrow the mode given above; chmod makes it exactly 0600 either way.
    fs.chmodSync(file, PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return key;
}
