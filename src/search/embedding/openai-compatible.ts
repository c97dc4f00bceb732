/**
 * Embedder backed by any OpenAI-compatible `POST {baseUrl}/v1/embeddings` endpoint
 * (OpenAI, Azure-style gateways, vLLM, Ollama, LM Studio, text-embeddings-inference...).
 * Uses the global fetch; inputs are sent in batches; results are re-ordered by `index`
 * and L2-normalised so cosine = dot product like the built-in embedder.
 */
import { l2Normalize } from './embedder.js';
import type { Embedder } from './embedder.js';

export interface OpenAICompatibleOptions {
  /**
   * The endpoint, in any of three forms: the full URL (`…/v1/embeddings`, or any path ending in
   * `/embeddings`, used as is), a base ending in `/v1` (`https://api.openai.com/v1`, the form
   * OpenAI SDKs take; `/embeddings` is appended) or a bare origin/base (`http://127.0.0.1:11434`;
   * `/v1/embeddings` is appended).
   */
  readonly url: string;
  readonly model: string;
  readonly apiKey?: string;
  /** Vector length. Learned from the first response when omitted (0 until then). */
  readonly dimensions?: number;
  /** Inputs per request (default 64). */
  readonly batchSize?: number;
  /** Per-request timeout in ms (default 30 000). */
  readonly timeoutMs?: number;
}

export class EmbeddingEndpointError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'EmbeddingEndpointError';
    this.status = status;
  }
}

interface EmbeddingResponse {
  data?: { index?: number; embedding?: number[] }[];
}

export class OpenAICompatibleEmbedder implements Embedder {
  private dims: number;
  private readonly endpoint: string;
  private readonly model: string;
  private readonly apiKey: string | undefined;
  private readonly batchSize: number;
  private readonly timeoutMs: number;

  constructor(options: OpenAICompatibleOptions) {
    this.endpoint = embeddingsEndpoint(options.url);
    this.model = options.model;
    this.apiKey = options.apiKey;
    this.dims = options.dimensions ?? 0;
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The endpoint as error messages name it: no credentials, no query string. */
  private get where(): string {
    const u = new URL(this.endpoint);
    return `${u.protocol}//${u.host}${u.pathname}`;
  }

  /** Error messages reach the logs: the API key never does (some gateways echo the request). */
  private scrub(text: string): string {
    return this.apiKey ? text.split(this.apiKey).join('[redacted]') : text;
  }

  get dimensions(): number {
    return this.dims;
  }

  get id(): string {
    return `openai-compatible:${this.model}@${new URL(this.endpoint).host}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      out.push(...(await this.embedBatch(texts.slice(i, i + this.batchSize))));
    }
    return out;
  }

  private async embedBatch(batch: string[]): Promise<Float32Array[]> {
    // Empty strings are rejected by several servers; embed them as zero vectors locally.
    const sendIdx: number[] = [];
    batch.forEach((t, i) => {
      if (t.trim().length > 0) sendIdx.push(i);
    });
    const result: Float32Array[] = new Array(batch.length);
    if (sendIdx.length > 0) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
      let res: Response;
      try {
        res = await fetch(this.endpoint, {
          method: 'POST',
          headers,
          body: JSON.stringify({ model: this.model, input: sendIdx.map((i) => batch[i]) }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        throw new EmbeddingEndpointError(this.scrub(`embedding request to ${this.where} failed: ${(err as Error).message}`), 0);
      }
      if (!res.ok) {
        const body = (await res.text().catch(() => '')).slice(0, 500);
        throw new EmbeddingEndpointError(this.scrub(`embedding endpoint ${this.where} returned HTTP ${res.status}: ${body}`), res.status);
      }
      const json = (await res.json()) as EmbeddingResponse;
      const data = json.data;
      if (!Array.isArray(data) || data.length !== sendIdx.length) {
        throw new EmbeddingEndpointError(
          `embedding endpoint returned ${Array.isArray(data) ? data.length : 'no'} vectors for ${sendIdx.length} inputs`,
          res.status,
        );
      }
      data.forEach((item, pos) => {
        const at = typeof item.index === 'number' ? item.index : pos;
        if (!Array.isArray(item.embedding) || at < 0 || at >= sendIdx.length) {
          throw new EmbeddingEndpointError('malformed embedding in response', res.status);
        }
        if (this.dims === 0) this.dims = item.embedding.length;
        if (item.embedding.length !== this.dims) {
          throw new EmbeddingEndpointError(`expected ${this.dims} dimensions, got ${item.embedding.length}`, res.status);
        }
        result[sendIdx[at]!] = l2Normalize(Float32Array.from(item.embedding));
      });
    }
    for (let i = 0; i < batch.length; i++) if (!result[i]) result[i] = new Float32Array(this.dims);
    return result;
  }
}

/** The URL requests go to, from any of the accepted forms of NEXUS_EMBEDDINGS_URL (see `url`). */
export function embeddingsEndpoint(url: string): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, '');
  if (/\/embeddings$/.test(path)) u.pathname = path;
  else if (/\/v1$/.test(path)) u.pathname = `${path}/embeddings`;
  else u.pathname = `${path}/v1/embeddings`;
  return u.toString();
}
