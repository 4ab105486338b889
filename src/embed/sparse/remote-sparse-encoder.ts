/**
 * Remote learned-sparse encoding over text-embeddings-inference's `POST /embed_sparse`:
 * request `{"inputs": [...], "truncate": true}`, answer one list of `{"index", "value"}` per input
 * (vocabulary id → weight). `truncate: true` makes TEI cut over-long inputs at the model's limit
 * instead of rejecting them with 413/422.
 *
 * Ids become terms through the model's tokenizer when a tokenizer folder is given (special tokens
 * dropped, as the local encoder does, so local and remote vectors of one model are the same);
 * otherwise the id itself ("2003") is the term, which is consistent as long as every vector of a
 * field comes from the same server model. Top-k pruning is done here (TEI does not prune).
 * Batching with bounded concurrency; retries, backoff and timeouts are the shared remote policy
 * (../remote/post-json.ts).
 */
import { QuiverError } from '../../errors.js';
import { postJsonWithRetries } from '../remote/post-json.js';
import { DEFAULT_DOCUMENT_TOP_K, idWeightsToVector } from './onnx-sparse-encoder.js';
import type { IdWeights } from './onnx-sparse-encoder.js';
import type { SparseEncodeStats, SparseEncoder, SparseVector } from './sparse-encoder.js';
import { loadVocabulary } from './vocabulary.js';

export interface RemoteSparseOptions {
  /** Server base URL (…/embed_sparse is appended unless already there). */
  url: string;
  /** The model id recorded with the collection. */
  model: string;
  apiKey?: string;
  /** A folder with the served model's tokenizer.json, to turn vocabulary ids into tokens. */
  tokenizerDir?: string;
  /** Document top-k (default DEFAULT_DOCUMENT_TOP_K; 0 keeps every term). */
  topK?: number;
  /** Query top-k (default 0: every term). */
  queryTopK?: number;
  /** Inputs per request (default 32, TEI's default max_client_batch_size). */
  batchSize?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  timeoutMs?: number;
  retries?: number;
}

type SparseValue = { index?: unknown; value?: unknown };

export class RemoteSparseEncoder implements SparseEncoder {
  readonly model: string;
  readonly documentTopK: number;
  readonly queryTopK: number;
  readonly url: string;
  private readonly terms: (string | undefined)[] | undefined;
  private readonly counters: SparseEncodeStats = { texts: 0, tokens: 0, truncated: 0 };

  constructor(private readonly opts: RemoteSparseOptions) {
    this.model = opts.model;
    this.documentTopK = opts.topK ?? DEFAULT_DOCUMENT_TOP_K;
    this.queryTopK = opts.queryTopK ?? 0;
    const base = opts.url.replace(/\/+$/, '');
    this.url = base.endsWith('/embed_sparse') ? base : `${base}/embed_sparse`;
    this.terms = opts.tokenizerDir ? loadVocabulary(opts.tokenizerDir).terms : undefined;
  }

  async encodeDocuments(texts: string[]): Promise<SparseVector[]> {
    return this.encode(texts, this.documentTopK);
  }

  async encodeQueries(texts: string[]): Promise<SparseVector[]> {
    return this.encode(texts, this.queryTopK);
  }

  stats(): SparseEncodeStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    // fetch keeps no per-encoder resources
  }

  private async encode(texts: string[], topK: number): Promise<SparseVector[]> {
    this.counters.texts += texts.length;
    const out: SparseVector[] = texts.map(() => ({}));
    // Blank texts match nothing (as in the local encoder) and cost no request.
    const live = texts.map((_, i) => i).filter((i) => texts[i]!.trim() !== '');
    const size = Math.max(1, this.opts.batchSize ?? 32);
    const batches: number[][] = [];
    for (let i = 0; i < live.length; i += size) batches.push(live.slice(i, i + size));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const pooled = await this.request(batch.map((i) => texts[i]!));
        batch.forEach((i, j) => (out[i] = idWeightsToVector(pooled[j]!, this.terms, topK)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 4, batches.length) }, worker));
    return out;
  }

  private async request(inputs: string[]): Promise<IdWeights[]> {
    const json = await postJsonWithRetries(
      this.url,
      { inputs, truncate: true },
      {
        ...(this.opts.apiKey ? { apiKey: this.opts.apiKey } : {}),
        ...(this.opts.retries !== undefined ? { retries: this.opts.retries } : {}),
        ...(this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {}),
      },
    );
    return this.parse(json, inputs.length);
  }

  /** One list of {index, value} per input; indices non-negative integers, values finite. */
  private parse(json: unknown, n: number): IdWeights[] {
    const bad = (why: string) => new QuiverError('REMOTE_ERROR', `${this.url}: ${why}`);
    if (!Array.isArray(json))
      throw bad('the response is not a list of sparse vectors (is this a TEI /embed_sparse endpoint?)');
    if (json.length !== n) throw bad(`returned ${json.length} sparse vectors for ${n} inputs`);
    return json.map((vec: unknown, i) => {
      if (!Array.isArray(vec)) throw bad(`sparse vector ${i} is not a list of {index, value}`);
      const ids: number[] = [];
      const weights: number[] = [];
      for (const entry of vec as SparseValue[]) {
        const index = entry?.index;
        const value = entry?.value;
        if (typeof index !== 'number' || !Number.isInteger(index) || index < 0)
          throw bad(`sparse vector ${i} has a bad index ${JSON.stringify(index)}`);
        if (typeof value !== 'number' || !Number.isFinite(value))
          throw bad(`sparse vector ${i} has a non-finite value at index ${index}`);
        if (value <= 0) continue; // zero weights are no terms
        ids.push(index);
        weights.push(value);
      }
      return { ids, weights };
    });
  }
}
