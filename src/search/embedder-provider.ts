/**
 * Which embedder the semantic side uses: the built-in offline one (SIF over GloVe, read from a
 * compact cache built once from the npm package) or, when NEXUS_EMBEDDINGS_URL is set, an
 * OpenAI-compatible endpoint.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DbOrTx } from '../db/schema.js';
import { type Embedder, componentFromBuffer, removeCommonComponent } from './embedding/embedder.js';
import { NOT_SUPPORT_SAMPLE, SUPPORT_SAMPLE } from './embedding/general-sample.js';
import { type GloveTable, ensureGloveCache, loadGloveCacheInSlices } from './embedding/glove-cache.js';
import { OpenAICompatibleEmbedder } from './embedding/openai-compatible.js';
import { WinkGloveEmbedder, fingerprint } from './embedding/wink-glove.js';
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
    table = ensureGloveCache(cacheDir).then((path) => loadGloveCacheInSlices(path));
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
 * The common components one ranking projects every vector with (built-in embedder): the general
 * fit (shipped sample) until the corpus has been fitted, then the latest corpus fit. Vectors are
 * stored raw, so a fit is applied when the in-process index loads them and to the query.
 */
export interface EmbedderFit {
  /** `general-<fingerprint>` or `corpus-<documents at fit time>-<fingerprint>`. */
  readonly id: string;
  readonly components: Float32Array;
}

/** Documents the corpus had when the fit `fitId` was made (0 for the general fit or none). */
export function fitDocuments(fitId: string | null): number {
  const m = fitId ? /^corpus-(\d+)-/.exec(fitId) : null;
  return m ? Number(m[1]) : 0;
}

/** A fit id of the built-in embedder before fits were applied at load time (vectors stored fitted). */
export const isLegacyFitId = (fitId: string | null): boolean => fitId !== null && !fitId.startsWith('general-') && !fitId.startsWith('corpus-');

/** What the semantic side of a search reads: the embedder, the id of the stored vectors it uses, the fit to apply. */
export interface VectorSpace {
  embedder: Embedder;
  /** `embedder_id` of the rows to follow: the raw id for the built-in embedder. */
  storedId: string;
  /** Null for a remote embedder (its vectors are used as stored). */
  fit: EmbedderFit | null;
}

/** Unit vectors of the shipped samples, projected with one fit. */
export interface DomainReferences {
  support: Float32Array[];
  notSupport: Float32Array[];
}

/**
 * The embedder of one search service: loaded on first use (a failed load is tried again on the
 * next call), with the common components its database stores installed (built-in embedder only).
 */
export interface EmbedderProvider {
  load(): Promise<Embedder>;
  /**
   * The embedder, with the fit `componentsId` names installed (built-in only; the general fit when
   * none is stored), so that `embed()` returns vectors of that fit.
   */
  withComponents(dbx: DbOrTx, componentsId: string | null): Promise<Embedder>;
  /** Whether fitted common components are installed: the built-in embedder's floor and bounds depend on it. */
  readonly fitted: boolean;
  /** Records that the components `componentsId` names were just fitted into the loaded embedder. */
  installed(componentsId: string): void;
  /** The embedder, the stored vectors' id and the fit that `componentsId` (search_state) names. */
  vectorSpace(dbx: DbOrTx, componentsId: string | null): Promise<VectorSpace>;
  /** The shipped support and not-support samples projected with `fit` (built-in only): the domain test of a query. */
  domainReferences(fit: EmbedderFit): Promise<DomainReferences | null>;
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
  let general: EmbedderFit | undefined;
  let references: { fitId: string; vectors: DomainReferences } | undefined;
  const referencesFor = (embedder: WinkGloveEmbedder, fit: EmbedderFit): DomainReferences => {
    if (references?.fitId !== fit.id) {
      const project = (texts: readonly string[]) => texts.map((t) => removeCommonComponent(embedder.embedRawOne(t), fit.components));
      references = { fitId: fit.id, vectors: { support: project(SUPPORT_SAMPLE), notSupport: project(NOT_SUPPORT_SAMPLE) } };
    }
    return references.vectors;
  };
  let lastStored: EmbedderFit | undefined;
  const fitFor = async (embedder: WinkGloveEmbedder, dbx: DbOrTx, componentsId: string | null): Promise<EmbedderFit> => {
    if (componentsId === null || isLegacyFitId(componentsId)) {
      if (!general) {
        const components = embedder.fitGeneral();
        general = { id: `general-${fingerprint(components)}`, components };
      }
      return general;
    }
    if (lastStored?.id !== componentsId) {
      const stored = await readComponents(dbx);
      if (!stored.components || stored.componentsId === null) return fitFor(embedder, dbx, null);
      lastStored = { id: stored.componentsId, components: componentFromBuffer(stored.components) };
    }
    return lastStored;
  };
  return {
    load,
    async vectorSpace(dbx, componentsId) {
      const embedder = await load();
      if (!(embedder instanceof WinkGloveEmbedder)) return { embedder, storedId: embedder.id, fit: null };
      return { embedder, storedId: embedder.rawId, fit: await fitFor(embedder, dbx, componentsId) };
    },
    async domainReferences(fit) {
      const embedder = await load();
      return embedder instanceof WinkGloveEmbedder ? referencesFor(embedder, fit) : null;
    },
    async withComponents(dbx, componentsId) {
      const embedder = await load();
      if (embedder instanceof WinkGloveEmbedder) {
        const fit = await fitFor(embedder, dbx, componentsId);
        if (installedComponentsId !== fit.id) {
          embedder.setCommonComponent(fit.components);
          installedComponentsId = fit.id;
        }
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
