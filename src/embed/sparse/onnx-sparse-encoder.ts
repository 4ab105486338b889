/**
 * Local learned-sparse encoding (SPLADE and its descendants) on onnxruntime-node: a BERT-style
 * masked-language model gives logits [batch, seq, vocab]; a text's weight for vocabulary entry j is
 * max over its tokens of log(1 + ReLU(logit_j)) (SPLADE max pooling, Formal et al. 2021/2022).
 *
 * - Inputs are truncated at the model's limit keeping the final [SEP] — counted in stats(), never an
 *   error. Texts with no tokens of their own (empty, whitespace) encode to the empty vector instead
 *   of the model's generic expansion of "[CLS] [SEP]", so they match nothing.
 * - Length-sorted batches padded to their own longest member (packBatches, as the dense encoder),
 *   bounded by a logits budget: the output is seq × vocab floats per text (512 × 30522 ≈ 62 MB), so a
 *   batch holds at most LOGITS_BUDGET floats. Padding positions are never pooled, so a text's vector
 *   does not depend on its batch-mates.
 * - Special tokens have no term (see vocabulary.ts); exports whose output is already pooled
 *   ([batch, vocab], as anserini's SPLADE exports) are taken as the weights.
 * - Top-k pruning keeps the k heaviest terms. Documents default to DEFAULT_DOCUMENT_TOP_K; queries
 *   keep every term unless queryTopK says otherwise (queries are short and have few terms anyway).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { QuiverError } from '../../errors.js';
import { packBatches } from '../onnx/onnx-embedder.js';
import type { SparseEncodeStats, SparseEncoder, SparseVector } from './sparse-encoder.js';
import { pruneTopK, spladePool } from './sparse-math.js';
import type { Vocabulary } from './vocabulary.js';
import { loadVocabulary } from './vocabulary.js';

/**
 * Documents keep their 256 heaviest terms by default. Posting-list size and query latency grow
 * with terms per document; a long document's lightest terms are low-weight expansions, so the bound
 * trims long documents while leaving passage-length texts nearly whole. It is a size bound, not a
 * measured quality setting (the fixtures here have random weights); topK: 0 keeps every term.
 */
export const DEFAULT_DOCUMENT_TOP_K = 256;

/** Floats of logits per forward pass (128 MiB): bounds memory whatever the vocabulary size. */
const LOGITS_BUDGET = 1 << 25;

export interface OnnxSparseOptions {
  /** The model id recorded with the collection (registry name, or the user's name for a folder). */
  model: string;
  /** Tokens per input, special tokens included (default 512). */
  maxTokens?: number;
  /** 'encoder' (default): queries through the model; 'tokens': a query is its own tokens. */
  queryMode?: 'encoder' | 'tokens';
  /** Document top-k (default DEFAULT_DOCUMENT_TOP_K; 0 keeps every term). */
  topK?: number;
  /** Query top-k (default 0: every term). */
  queryTopK?: number;
  /** Texts per forward pass at most (default 32); the logits budget may make batches smaller. */
  batchSize?: number;
  threads?: number;
  /** The ONNX file inside the folder, when not onnx/model.onnx or model.onnx. */
  modelFile?: string;
}

/** Pooled weights over vocabulary ids, ids ascending, every weight > 0 (what TEI's /embed_sparse returns). */
export interface IdWeights {
  ids: number[];
  weights: number[];
}

interface Tokenized {
  ids: number[];
  truncated: boolean;
  /** No token besides the special ones the tokenizer adds. */
  blank: boolean;
}

/** The ONNX file of a model folder: an explicit file, else onnx/model.onnx, else model.onnx. */
export function findSparseModelFile(dir: string, file?: string): string {
  const candidates = [file, 'onnx/model.onnx', 'model.onnx'].filter((c): c is string => Boolean(c));
  for (const c of candidates) if (existsSync(join(dir, c))) return join(dir, c);
  throw new QuiverError('FILE_NOT_FOUND', `no ONNX model in ${dir} (looked for ${candidates.join(', ')})`, {
    location: { file: dir },
  });
}

export class OnnxSparseEncoder implements SparseEncoder {
  readonly model: string;
  readonly maxTokens: number;
  readonly queryMode: 'encoder' | 'tokens';
  readonly documentTopK: number;
  readonly queryTopK: number;
  /** Width of the model's output (vocabulary size), known after load. */
  vocabSize = 0;
  private readonly counters: SparseEncodeStats = { texts: 0, tokens: 0, truncated: 0 };
  private readonly inputNames: Set<string>;
  private readonly outputName: string;
  private readonly batchSize: number;

  private constructor(
    private readonly vocab: Vocabulary,
    private readonly session: ort.InferenceSession,
    readonly modelPath: string,
    opts: OnnxSparseOptions,
    private readonly idf: Record<string, number> | undefined,
  ) {
    this.model = opts.model;
    this.maxTokens = opts.maxTokens ?? 512;
    this.queryMode = opts.queryMode ?? 'encoder';
    this.documentTopK = opts.topK ?? DEFAULT_DOCUMENT_TOP_K;
    this.queryTopK = opts.queryTopK ?? 0;
    this.batchSize = Math.max(1, opts.batchSize ?? 32);
    this.inputNames = new Set(session.inputNames);
    this.outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
  }

  /** Load a folder with tokenizer.json and an MLM ONNX export (output `logits` [batch, seq, vocab]). */
  static async load(dir: string, opts: OnnxSparseOptions): Promise<OnnxSparseEncoder> {
    for (const [field, value] of [
      ['topK', opts.topK],
      ['queryTopK', opts.queryTopK],
    ] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
        throw new QuiverError(
          'INVALID_CONFIG',
          `${field} must be a non-negative integer (0 keeps every term)`,
          {
            location: { field },
          },
        );
      }
    }
    const vocab = loadVocabulary(dir);
    const modelPath = findSparseModelFile(dir, opts.modelFile);
    const session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: opts.threads ?? 0,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    const idfPath = join(dir, 'idf.json');
    const idf =
      (opts.queryMode ?? 'encoder') === 'tokens' && existsSync(idfPath)
        ? (JSON.parse(readFileSync(idfPath, 'utf8')) as Record<string, number>)
        : undefined;
    const e = new OnnxSparseEncoder(vocab, session, modelPath, opts, idf);
    // The output width is the truth (exports may pad the vocabulary to a multiple of 8).
    const probe = await e.session.run(e.feeds([e.tokenize('probe').ids]));
    const out = probe[e.outputName]!;
    if (out.dims.length !== 3 && out.dims.length !== 2) {
      await session.release();
      throw new QuiverError(
        'INVALID_CONFIG',
        `${modelPath}: output "${e.outputName}" has shape [${out.dims.join(', ')}]; a sparse encoder needs MLM logits [batch, seq, vocab] or pooled weights [batch, vocab]`,
        { location: { file: modelPath } },
      );
    }
    e.vocabSize = Number(out.dims[out.dims.length - 1]);
    return e;
  }

  /** Token ids with special tokens, truncated to maxTokens keeping the trailing [SEP]/</s>. */
  tokenize(text: string): Tokenized {
    const ids = this.vocab.tokenizer.encode(text).ids as number[];
    const blank = ids.every((id) => this.vocab.specialIds.has(id));
    const max = this.maxTokens;
    if (ids.length <= max) return { ids, truncated: false, blank };
    const last = ids[ids.length - 1]!;
    const keepLast = last === this.vocab.sepId || last === this.vocab.eosId;
    return { ids: keepLast ? [...ids.slice(0, max - 1), last] : ids.slice(0, max), truncated: true, blank };
  }

  async encodeDocuments(texts: string[]): Promise<SparseVector[]> {
    return this.encodeWithModel(texts, this.documentTopK);
  }

  async encodeQueries(texts: string[]): Promise<SparseVector[]> {
    if (this.queryMode === 'tokens') {
      return texts.map((t) => {
        const tok = this.count([t])[0]!;
        return pruneTopK(this.tokenVector(tok.ids), this.queryTopK);
      });
    }
    return this.encodeWithModel(texts, this.queryTopK);
  }

  /**
   * Pooled weights over vocabulary ids for each text — special tokens included, nothing pruned,
   * blank texts encoded like any other — i.e. exactly what a TEI /embed_sparse server answers.
   */
  async poolIds(texts: string[]): Promise<IdWeights[]> {
    return this.pool(texts.map((t) => this.tokenize(t)));
  }

  /** The vocabulary-id → term mapping of this model, for turning IdWeights into a SparseVector. */
  toVector(pooled: IdWeights, topK: number): SparseVector {
    return idWeightsToVector(pooled, this.vocab.terms, topK);
  }

  stats(): SparseEncodeStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  private count(texts: string[]): Tokenized[] {
    const tokenized = texts.map((t) => this.tokenize(t));
    this.counters.texts += texts.length;
    for (const t of tokenized) {
      this.counters.tokens += t.ids.length;
      if (t.truncated) this.counters.truncated++;
    }
    return tokenized;
  }

  private async encodeWithModel(texts: string[], topK: number): Promise<SparseVector[]> {
    const tokenized = this.count(texts);
    const live = tokenized.map((t, i) => i).filter((i) => !tokenized[i]!.blank);
    const pooled = await this.pool(live.map((i) => tokenized[i]!));
    const out: SparseVector[] = texts.map(() => ({}));
    live.forEach((i, j) => (out[i] = this.toVector(pooled[j]!, topK)));
    return out;
  }

  /** Inference-free query: each distinct non-special token, weighted by idf.json or 1. */
  private tokenVector(ids: number[]): SparseVector {
    const v: SparseVector = {};
    for (const id of ids) {
      const term = this.vocab.terms[id];
      if (term === undefined) continue;
      const w = this.idf ? (this.idf[term] ?? 0) : 1;
      if (w > 0 && Number.isFinite(w)) v[term] = w;
    }
    return v;
  }

  private async pool(tokenized: Tokenized[]): Promise<IdWeights[]> {
    const out = new Array<IdWeights>(tokenized.length);
    if (tokenized.length === 0) return out;
    const order = tokenized
      .map((_, i) => i)
      .sort((a, b) => tokenized[a]!.ids.length - tokenized[b]!.ids.length);
    const maxPadded = Math.max(this.maxTokens, Math.floor(LOGITS_BUDGET / Math.max(1, this.vocabSize)));
    for (const batch of packBatches(order, (i) => tokenized[i]!.ids.length, this.batchSize, maxPadded)) {
      const pooled = await this.forward(batch.map((i) => tokenized[i]!.ids));
      batch.forEach((i, j) => (out[i] = pooled[j]!));
    }
    return out;
  }

  private feeds(batch: number[][]): Record<string, ort.Tensor> {
    const n = batch.length;
    const len = Math.max(1, ...batch.map((b) => b.length));
    const ids = new BigInt64Array(n * len).fill(BigInt(this.vocab.padId));
    const mask = new BigInt64Array(n * len);
    batch.forEach((b, i) => {
      for (let j = 0; j < b.length; j++) {
        ids[i * len + j] = BigInt(b[j]!);
        mask[i * len + j] = 1n;
      }
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [n, len]),
      attention_mask: new ort.Tensor('int64', mask, [n, len]),
    };
    if (this.inputNames.has('token_type_ids'))
      feeds['token_type_ids'] = new ort.Tensor('int64', new BigInt64Array(n * len), [n, len]);
    return feeds;
  }

  /** One padded batch through the model, pooled per text over its real tokens only. */
  private async forward(batch: number[][]): Promise<IdWeights[]> {
    const result = await this.session.run(this.feeds(batch));
    const out = result[this.outputName]!;
    const data = out.data as Float32Array;
    const vocab = Number(out.dims[out.dims.length - 1]);
    const pooled: IdWeights[] = [];
    for (let i = 0; i < batch.length; i++) {
      let w: ArrayLike<number>;
      if (out.dims.length === 3) {
        w = spladePool(data, i, Number(out.dims[1]), vocab, batch[i]!.length);
      } else {
        w = data.subarray(i * vocab, (i + 1) * vocab);
      }
      const ids: number[] = [];
      const weights: number[] = [];
      for (let j = 0; j < vocab; j++) {
        const x = w[j]!;
        if (x > 0 && Number.isFinite(x)) {
          ids.push(j);
          weights.push(x);
        }
      }
      pooled.push({ ids, weights });
    }
    return pooled;
  }
}

/**
 * Vocabulary ids → terms (ids without a term — special tokens, ids beyond the tokenizer's
 * vocabulary — are dropped; without a vocabulary the id itself is the term), then top-k.
 */
export function idWeightsToVector(
  pooled: IdWeights,
  terms: (string | undefined)[] | undefined,
  topK: number,
): SparseVector {
  const v: SparseVector = {};
  for (let i = 0; i < pooled.ids.length; i++) {
    const w = pooled.weights[i]!;
    if (!(w > 0) || !Number.isFinite(w)) continue;
    const id = pooled.ids[i]!;
    const term = terms ? terms[id] : String(id);
    if (term === undefined) continue;
    v[term] = Math.max(v[term] ?? 0, w);
  }
  return pruneTopK(v, topK);
}
