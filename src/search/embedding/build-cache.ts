/**
 * Builds the GloVe binary cache: `tsx src/search/embedding/build-cache.ts [cacheDir]`.
 * Defaults to NEXUS_EMBEDDINGS_CACHE_DIR, else `.cache/embeddings` in the install. Idempotent.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ensureGloveCache } from './glove-cache.js';
import { DEFAULT_EMBEDDINGS_CACHE_DIR } from '../embedder-provider.js';

const dir = resolve(process.argv[2] ?? process.env.NEXUS_EMBEDDINGS_CACHE_DIR ?? DEFAULT_EMBEDDINGS_CACHE_DIR);
const started = performance.now();
const path = await ensureGloveCache(dir);
const ms = Math.round(performance.now() - started);
const mb = (statSync(path).size / 1048576).toFixed(1);
const peak = (process.resourceUsage().maxRSS / 1024).toFixed(0);
console.log(`GloVe cache ready: ${path} (${mb} MB) in ${ms} ms, peak RSS ${peak} MB`);
