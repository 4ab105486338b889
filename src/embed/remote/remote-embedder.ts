/**
 * Remote embeddings over an OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, TEI,
 * Infinity, Ollama, or Quiver itself). The registry's conventions are applied here, client-side,
 * so the server receives exactly the string the model was trained on.
 * Batching, bounded concurrency, retries with backoff + jitter on 429/5xx/network errors (honouring
 * Retry-After), and timeouts.
 */
import { createHash } from 'node:crypto';
import { QuiverError } from '../../errors.js';
import type { EmbedExplain, EmbedOptions, EmbedStats, Embedder } from '../embedder.js';
import type { ModelSpec } from '../registry.js';
import { formatInput } from '../registry.js';

export interface RemoteOptions {
  baseUrl: string;
  apiKey?: string;
  /** Model name the server knows (default: the registry name). */
  model?: string;
  batchSize?: number;
  concurrency?: number;
  timeoutMs?: number;
  retries?: number;
  /** Normalise returned vectors (default: the spec's setting). */
  normalize?: boolean;
}

interface EmbeddingResponse {
  data?: { index?: number; embedding?: number[] | string }[];
  usage?: { prompt_tokens?: number; total_tokens?: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RemoteEmbedder implements Embedder {
  readonly modalities: readonly ('text' | 'image')[];
  readonly fingerprint: string;
  dims: number;
  private readonly counters: EmbedStats = { texts: 0, tokens: 0, truncated: 0 };
  private readonly url: string;

  constructor(
    readonly spec: ModelSpec,
    private readonly opts: RemoteOptions,
  ) {
    this.dims = spec.dims;
    this.modalities = spec.modalities ?? ['text'];
    this.url = `${opts.baseUrl.replace(/\/$/, '').replace(/\/v1$/, '')}/v1/embeddings`;
    this.fingerprint = createHash('sha256')
      .update(
        JSON.stringify({
          name: spec.name,
          remote: opts.model ?? spec.name,
          prefixes: spec.prefixes,
          tpl: spec.instructionTemplate,
          pooling: spec.pooling,
        }),
      )
      .digest('hex');
  }

  get modelId(): string {
    return this.spec.name;
  }

  get maxTokens(): number {
    return this.spec.maxTokens;
  }

  formatInputs(texts: string[], opts: EmbedOptions): string[] {
    return texts.map((t) => formatInput(this.spec, t, opts));
  }

  async explain(text: string, opts: EmbedOptions): Promise<EmbedExplain> {
    return { input: formatInput(this.spec, text, opts) };
  }

  async embed(texts: string[], opts: EmbedOptions): Promise<Float32Array[]> {
    const inputs = this.formatInputs(texts, opts);
    const size = this.opts.batchSize ?? 64;
    const batches: number[][] = [];
    for (let i = 0; i < inputs.length; i += size)
      batches.push(Array.from({ length: Math.min(size, inputs.length - i) }, (_, j) => i + j));
    const out = new Array<Float32Array>(inputs.length);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const b = batches[next++]!;
        const vecs = await this.request(
          b.map((i) => inputs[i]!),
          opts.dimensions,
        );
        b.forEach((i, j) => (out[i] = vecs[j]!));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 4, batches.length) }, worker));
    this.counters.texts += texts.length;
    return out;
  }

  private async request(input: string[], dimensions?: number): Promise<Float32Array[]> {
    const retries = this.opts.retries ?? 4;
    const body = JSON.stringify({
      model: this.opts.model ?? this.spec.name,
      input,
      encoding_format: 'float',
      ...(dimensions ? { dimensions } : {}),
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) headers['authorization'] = `Bearer ${this.opts.apiKey}`;
    let lastError: QuiverError | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        const base = Math.min(8000, 200 * 2 ** (attempt - 1));
        const wait = lastError?.details?.['retryAfterMs'] as number | undefined;
        await sleep(wait ?? base / 2 + Math.random() * base);
      }
      let res: Response;
      try {
        res = await fetch(this.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
        });
      } catch (e) {
        const timeout = (e as Error).name === 'TimeoutError';
        lastError = new QuiverError(
          timeout ? 'TIMEOUT' : 'REMOTE_ERROR',
          `${this.url}: ${timeout ? 'timed out' : (e as Error).message}`,
          { cause: e },
        );
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        const ra = Number(res.headers.get('retry-after'));
        lastError = new QuiverError(
          'REMOTE_ERROR',
          `${this.url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`,
          {
            details: {
              status: res.status,
              ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: Math.min(ra * 1000, 30_000) } : {}),
            },
          },
        );
        continue;
      }
      const text = await res.text();
      if (!res.ok) {
        throw new QuiverError('REMOTE_ERROR', `${this.url} answered ${res.status}: ${text.slice(0, 300)}`, {
          details: { status: res.status },
        });
      }
      let json: EmbeddingResponse;
      try {
        json = JSON.parse(text) as EmbeddingResponse;
      } catch {
        throw new QuiverError('REMOTE_ERROR', `${this.url} returned invalid JSON: ${text.slice(0, 200)}`);
      }
      return this.parse(json, input.length);
    }
    throw lastError ?? new QuiverError('REMOTE_ERROR', `${this.url} failed`);
  }

  private parse(json: EmbeddingResponse, n: number): Float32Array[] {
    if (!Array.isArray(json.data) || json.data.length !== n) {
      throw new QuiverError(
        'REMOTE_ERROR',
        `${this.url} returned ${json.data?.length ?? 'no'} embeddings for ${n} inputs`,
      );
    }
    const out = new Array<Float32Array>(n);
    json.data.forEach((d, i) => {
      const idx = typeof d.index === 'number' ? d.index : i;
      let v: Float32Array;
      if (typeof d.embedding === 'string') {
        const b = Buffer.from(d.embedding, 'base64');
        v = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      } else if (Array.isArray(d.embedding)) v = Float32Array.from(d.embedding);
      else throw new QuiverError('REMOTE_ERROR', `${this.url}: embedding ${i} is missing`);
      if (this.opts.normalize ?? this.spec.normalize) {
        let s = 0;
        for (const x of v) s += x * x;
        const nrm = Math.sqrt(s);
        if (nrm > 0) for (let j = 0; j < v.length; j++) v[j]! /= nrm;
      }
      out[idx] = v;
    });
    if (this.dims === 0) this.dims = out[0]!.length;
    for (const v of out) {
      if (!v || v.length !== out[0]!.length)
        throw new QuiverError('REMOTE_ERROR', `${this.url}: embeddings of different sizes`);
    }
    this.counters.tokens += json.usage?.prompt_tokens ?? 0;
    return out;
  }

  stats(): EmbedStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    // fetch keeps no per-embedder resources
  }
}
