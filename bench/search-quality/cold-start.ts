/**
 * Cold start of the built-in embedder from its binary cache:
 * `tsx bench/search-quality/cold-start.ts [cacheDir]`. Prints load time and process RSS.
 */
import { resolve } from 'node:path';
import { WinkGloveEmbedder } from '../../src/search/embedding/wink-glove.js';

const dir = resolve(process.argv[2] ?? '.cache/embeddings');
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const embedder = await WinkGloveEmbedder.load(dir);
const [v] = await embedder.embed(['My card has not arrived yet']);
const ms = performance.now() - started;
globalThis.gc?.();
const mb = (b: number): string => (b / 1048576).toFixed(0);
console.log(
  `load+first embed: ${ms.toFixed(0)} ms; dims ${v?.length}; RSS before ${mb(rssBefore)} MB, after ${mb(process.memoryUsage().rss)} MB, peak ${mb(process.resourceUsage().maxRSS * 1024)} MB`,
);
