/**
 * Which embedder the semantic side uses: the built-in offline one (SIF over GloVe, read from a
 * compact cache built once from the npm package) or, when NEXUS_EMBEDDINGS_URL is set, an
 * OpenAI-compatible endpoint.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DbOrTx } from '../db/schema.js';
import { type Embedder, componentFromBuffer } from './embedding/embedder.js';
import { type GloveTable, ensureGloveCache, loadGloveCache } from './embedding/glove-cache.js';
import { OpenAICompatibleEmbedder } from './embedding/openai-compatible.js';
import { WinkGloveEmbedder } from './embedding/wink-glove.js';
import { readComponents } from './store.js';

/** `<project root>/.cache/embeddings`, resolved from this file, not from the working directory. */
export const DEFAULT_EMBEDDINGS_CACHE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache', 'embeddings');

export interface EmbedderSettings {
  /** Where the GloVe cache lives (built there on first use when missing). */
  cacheDir?: string | undefined;
  remote?: { url: string; model: string; apiKey: string | undefined } | undefined;
}

// One loaded table per process, shared by every runtime (tests open many over one process).
const tables = new Map<string, Promise<GloveTable>>();

function gloveTable(cacheDir: string): Promise<GloveTable> {
  let table = tables.get(cacheDir);
  if (!table) {
    table = ensureGloveCache(cacheDir).then(loadGloveCache);
    table.catch(() => tables.delete(cacheDir));
    tables.set(cacheDir, table);
  }
  return table;
}

/** A fresh embedder (its fitted components are per database, so never shared between runtimes). */
export async function createEmbedder(settings: EmbedderSettings): Promise<Embedder> {
  if (settings.remote) {
    return new OpenAICompatibleEmbedder({
      url: settings.remote.url,
      model: settings.remote.model,
      ...(settings.remote.apiKey ? { apiKey: settings.remote.apiKey } : {}),
    });
  }
  return new WinkGloveEmbedder(await gloveTable(settings.cacheDir ?? DEFAULT_EMBEDDINGS_CACHE_DIR));
}

/**
 * The embedder of one search service: loaded on first use (a failed load is tried again on the
 * next call), with the common components its database stores installed (built-in embedder only).
 */
export interface EmbedderProvider {
  load(): Promise<Embedder>;
  /** The embedder, with the common components `componentsId` names installed (built-in only). */
  withComponents(dbx: DbOrTx, componentsId: string | null): Promise<Embedder>;
  /** Whether fitted common components are installed: the built-in embedder's floor and bounds depend on it. */
  readonly fitted: boolean;
  /** Records that the components `componentsId` names were just fitted into the loaded embedder. */
  installed(componentsId: string): void;
}

export function createEmbedderProvider(settings: EmbedderSettings): EmbedderProvider {
  let embedderPromise: Promise<Embedder> | undefined;
  /** components_id installed in the built-in embedder; undefined until first read. */
  let installedComponentsId: string | null | undefined;
  const load = (): Promise<Embedder> => {
    embedderPromise ??= createEmbedder(settings);
    embedderPromise.catch(() => (embedderPromise = undefined));
    return embedderPromise;
  };
  return {
    load,
    async withComponents(dbx, componentsId) {
      const embedder = await load();
      if (embedder instanceof WinkGloveEmbedder && installedComponentsId !== componentsId) {
        const stored = componentsId === null ? null : await readComponents(dbx);
        embedder.setCommonComponent(stored?.components ? componentFromBuffer(stored.components) : null);
        installedComponentsId = stored?.componentsId ?? null;
      }
      return embedder;
    },
    get fitted() {
      return Boolean(installedComponentsId);
    },
    installed(componentsId) {
      installedComponentsId = componentsId;
    },
  };
}
