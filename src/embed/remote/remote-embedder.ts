/**
 * Remote embeddings over an OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, TEI,
 * Infinity, Ollama, or Quiver itself). The registry's conventions are applied here, client-side,
 * so the server receives exactly the string the model was trained on.
 * Batching, bounded concurrency, retries with backoff + jitter on 429/5xx/network errors (honouring
 * Retry-After), and timeouts.
 *
 * Images (specs with the image modality, e.g. E5-V) go as vLLM's chat-style embedding request, one
 * image per request: `{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url":
 * {"url": "data:image/png;base64,…"}}, {"type": "text", "text": <spec.prompts.imageMessage>}]}],
 * "chat_template": <spec.prompts.chatTemplate>}`. Local files, bytes and URLs are read and checked
 * here and sent as data URLs, so the server never needs to reach the client's files or network.
 */
import { createHash } from 'node:crypto';
import { QuiverError } from '../../errors.js';
import type { EmbedExplain, EmbedOptions, EmbedStats, Embedder, ImageInput } from '../embedder.js';
import { describeImage, imageDataUrl } from '../image/image-input.js';
import type { ModelSpec } from '../registry.js';
import { formatInput } from '../registry.js';
import { checkDimensions, finishVector, l2normalize } from '../vector-math.js';
import { postJsonWithRetries } from './post-json.js';

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
  /**
   * Where the chat template of image requests comes from: 'request' (default) sends the spec's
   * template with every request (vLLM needs `--trust-request-chat-template` for that); 'server'
   * sends none, for a server started with `--chat-template` holding the same template.
   */
  chatTemplate?: 'request' | 'server';
}

/** vLLM's chat-style `/v1/embeddings` request (its multimodal embedding extension). */
export interface ImageEmbeddingRequest {
  model: string;
  messages: {
    role: 'user';
    content: ({ type: 'image_url'; image_url: { url: string } } | { type: 'text'; text: string })[];
  }[];
  encoding_format: 'float';
  chat_template?: string;
}

interface EmbeddingResponse {
  data?: { index?: number; embedding?: number[] | string }[];
  usage?: { prompt_tokens?: number; total_tokens?: number };
}

// The HTTP retry policy is shared with the other remote providers (sparse encoders, rerankers).
export { parseRetryAfter } from './post-json.js';

export class RemoteEmbedder implements Embedder {
  readonly modalities: readonly ('text' | 'image')[];
  readonly fingerprint: string;
  dims: number;
  private readonly counters: EmbedStats = { texts: 0, tokens: 0, truncated: 0 };
  private readonly url: string;
  /** Present when the spec has the image modality (callers check for it before indexing images). */
  readonly embedImages?: (images: ImageInput[]) => Promise<Float32Array[]>;

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
          instructDocuments: spec.instructDocuments,
          instructSymmetric: spec.instructSymmetric,
          prompts: spec.prompts,
          pooling: spec.pooling,
          normalize: opts.normalize ?? spec.normalize,
        }),
      )
      .digest('hex');
    if (this.modalities.includes('image')) this.embedImages = (images) => this.embedImagesRemote(images);
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
    checkDimensions(opts.dimensions, this.dims);
    const inputs = this.formatInputs(texts, opts);
    const size = this.opts.batchSize ?? 64;
    const batches: number[][] = [];
    for (let i = 0; i < inputs.length; i += size)
      batches.push(Array.from({ length: Math.min(size, inputs.length - i) }, (_, j) => i + j));
    const out = new Array<Float32Array>(inputs.length);
    await this.inPool(batches.length, async (k) => {
      const b = batches[k]!;
      const vecs = await this.request(this.textRequest(b.map((i) => inputs[i]!)), b.length);
      b.forEach((i, j) => (out[i] = finishVector(vecs[j]!, false, opts.dimensions)));
    });
    this.counters.texts += texts.length;
    return out;
  }

  /**
   * Image embeddings, one request per image (a chat-style request holds one conversation). Each
   * image is read and checked just before its request, so memory holds `concurrency` images.
   */
  private async embedImagesRemote(images: ImageInput[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(images.length);
    await this.inPool(images.length, async (i) => {
      const { url } = await imageDataUrl(images[i]!);
      try {
        out[i] = (await this.request(this.imageRequest(url), 1))[0]!;
      } catch (e) {
        if (!(e instanceof QuiverError)) throw e;
        // vLLM refuses per-request chat templates unless started with --trust-request-chat-template.
        const hint = /chat.template/i.test(e.message)
          ? ' — start vLLM with --trust-request-chat-template, or with --chat-template holding the spec\'s prompts.chatTemplate and remote.chatTemplate "server"'
          : '';
        throw new QuiverError(e.code, `embedding image ${describeImage(images[i]!)}: ${e.message}${hint}`, {
          cause: e,
          location: { field: 'image' },
          ...(e.details ? { details: e.details } : {}),
        });
      }
    });
    return out;
  }

  /** Run task(0 … n-1) with at most `concurrency` in flight; after a failure no new task starts. */
  private async inPool(n: number, task: (i: number) => Promise<void>): Promise<void> {
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < n) {
        try {
          await task(next++);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 4, n) }, worker));
  }

  private textRequest(input: string[]): object {
    return { model: this.opts.model ?? this.spec.name, input, encoding_format: 'float' };
  }

  /** The chat-style request for one image, with the family's prompt and (by default) chat template. */
  imageRequest(dataUrl: string): ImageEmbeddingRequest {
    const prompts = this.spec.prompts;
    const text = prompts?.imageMessage;
    const body: ImageEmbeddingRequest = {
      model: this.opts.model ?? this.spec.name,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: dataUrl } },
            ...(text !== undefined ? [{ type: 'text' as const, text }] : []),
          ],
        },
      ],
      encoding_format: 'float',
    };
    if (prompts?.chatTemplate && (this.opts.chatTemplate ?? 'request') === 'request') {
      body.chat_template = prompts.chatTemplate;
    }
    return body;
  }

  /**
   * One batch, with retries. Matryoshka truncation is done client-side (not the `dimensions`
   * request field), because most OpenAI-compatible servers reject or ignore that field.
   */
  private async request(body: object, n: number): Promise<Float32Array[]> {
    const json = await postJsonWithRetries(this.url, body, {
      ...(this.opts.apiKey ? { apiKey: this.opts.apiKey } : {}),
      ...(this.opts.retries !== undefined ? { retries: this.opts.retries } : {}),
      ...(this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {}),
    });
    return this.parse(json as EmbeddingResponse, n);
  }

  /** Check the response's shape: one finite vector per input, indices a permutation, agreed dims. */
  private parse(json: EmbeddingResponse, n: number): Float32Array[] {
    const bad = (why: string) => new QuiverError('REMOTE_ERROR', `${this.url}: ${why}`);
    if (!json || !Array.isArray(json.data)) throw bad('the response has no "data" array');
    if (json.data.length !== n) throw bad(`returned ${json.data.length} embeddings for ${n} inputs`);
    const out = new Array<Float32Array | undefined>(n);
    json.data.forEach((d, i) => {
      const idx = typeof d?.index === 'number' ? d.index : i;
      if (!Number.isInteger(idx) || idx < 0 || idx >= n || out[idx])
        throw bad(`bad or repeated index ${idx}`);
      let v: Float32Array;
      if (typeof d.embedding === 'string') {
        const b = Buffer.from(d.embedding, 'base64');
        v = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      } else if (Array.isArray(d.embedding)) v = Float32Array.from(d.embedding);
      else throw bad(`embedding ${i} is missing`);
      for (const x of v) if (!Number.isFinite(x)) throw bad(`embedding ${i} has a non-finite value`);
      out[idx] = (this.opts.normalize ?? this.spec.normalize) ? l2normalize(v) : v;
    });
    const vecs = out as Float32Array[];
    if (this.dims === 0) this.dims = vecs[0]!.length;
    for (const v of vecs) {
      if (v.length !== this.dims) {
        throw new QuiverError(
          'DIMENSION_MISMATCH',
          `${this.url} returned ${v.length}-dimensional vectors; ${this.spec.name} has ${this.dims} (is the server running another model?)`,
        );
      }
    }
    this.counters.tokens += json.usage?.prompt_tokens ?? 0;
    return vecs;
  }

  stats(): EmbedStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    // fetch keeps no per-embedder resources
  }
}
