/**
 * Local transformer embeddings on onnxruntime-node with a Hugging Face tokenizer (tokenizer.json).
 *
 * - Inputs are formatted by the registry (prefixes/instructions), tokenized, and truncated at the
 *   model's limit keeping the special tokens — counted and reported, never an error (TEI #27).
 * - Length-sorted dynamic batching: texts are sorted by token count and each batch is padded only
 *   to its own longest member, then outputs are put back in input order.
 * - Pooling (mean over the attention mask, CLS, or last token) and L2 normalisation are done here
 *   from `last_hidden_state`, so every model export works the same way. Padding never leaks into
 *   a result, which keeps batched and one-at-a-time outputs equal (transformers.js #918).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { QuiverError } from '../../errors.js';
import type { EmbedExplain, EmbedOptions, EmbedStats, Embedder } from '../embedder.js';
import type { ModelSpec } from '../registry.js';
import { formatInput } from '../registry.js';
import { checkDimensions, finishVector } from '../vector-math.js';

export interface OnnxOptions {
  variant?: 'fp32' | 'int8';
  threads?: number;
  /**
   * Texts per forward pass. Default: 32 when the model is measured batch-invariant at load (fp32,
   * or int8 with per-token activation scales from scripts/int8_per_token.py), else 1 (int8 with
   * one activation scale per batch, as onnxruntime's quantize_dynamic writes it).
   */
  batchSize?: number;
  /** Override the model file inside the folder. */
  modelFile?: string;
  /**
   * Let onnxruntime's pool threads spin between operators (its default). Off by default here:
   * spinning threads burn CPU the rest of the process and other processes need, and on a shared
   * or busy machine they slow the run down (docs/benchmarks.md); on an idle dedicated machine
   * spinning saves a thread wake-up per operator.
   */
  spinWait?: boolean;
}

/** The onnxruntime session options Quiver runs text models with (exported for the benchmark). */
export function sessionOptions(
  opts: Pick<OnnxOptions, 'threads' | 'spinWait'> = {},
): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: opts.threads ?? 0,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: opts.spinWait ? '1' : '0' } } },
  };
}

interface Encoded {
  ids: number[];
  truncated: boolean;
}

/**
 * Everything that changes the vectors: the spec's conventions and the weights. The weights are
 * identified by their size and first MiB (hashing a multi-GB file on every open would be slow).
 */
export function embedderFingerprint(spec: ModelSpec, modelPath: string): string {
  const fd = openSync(modelPath, 'r');
  try {
    const head = Buffer.alloc(Math.min(1 << 20, fstatSync(fd).size));
    readSync(fd, head, 0, head.length, 0);
    const conventions = {
      name: spec.name,
      pooling: spec.pooling,
      normalize: spec.normalize,
      prefixes: spec.prefixes,
      tpl: spec.instructionTemplate,
      instructDocuments: spec.instructDocuments,
      instructSymmetric: spec.instructSymmetric,
      eos: spec.addEos,
      maxTokens: spec.maxTokens,
    };
    return createHash('sha256')
      .update(JSON.stringify(conventions))
      .update(String(fstatSync(fd).size))
      .update(head)
      .digest('hex');
  } finally {
    closeSync(fd);
  }
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

/** Find the ONNX file of a model folder laid out like a Hugging Face repo. */
export function findModelFile(dir: string, variant: 'fp32' | 'int8', spec?: ModelSpec): string {
  const candidates =
    variant === 'int8'
      ? [spec?.hub?.files?.int8, 'onnx/model_quantized.onnx', 'onnx/model_int8.onnx', 'model_quantized.onnx']
      : [spec?.hub?.files?.fp32, 'onnx/model.onnx', 'model.onnx'];
  for (const c of candidates) if (c && existsSync(join(dir, c))) return join(dir, c);
  throw new QuiverError(
    'FILE_NOT_FOUND',
    `no ${variant} ONNX model in ${dir} (looked for ${candidates.filter(Boolean).join(', ')})`,
    { location: { file: dir } },
  );
}

export class OnnxEmbedder implements Embedder {
  readonly modalities = ['text'] as const;
  private readonly counters: EmbedStats = { texts: 0, tokens: 0, truncated: 0 };
  private readonly inputNames: Set<string>;
  readonly fingerprint: string;
  dims: number;
  private readonly clsId: number | undefined;
  private readonly sepId: number | undefined;
  private readonly eosId: number | undefined;
  private readonly padId: number;

  private constructor(
    readonly spec: ModelSpec,
    private readonly tokenizer: Tokenizer,
    private readonly session: ort.InferenceSession,
    readonly modelPath: string,
    private batch: number,
    hiddenSize: number,
    specials: { cls?: number; sep?: number; eos?: number; pad: number },
  ) {
    this.inputNames = new Set(session.inputNames);
    this.dims = hiddenSize;
    this.clsId = specials.cls;
    this.sepId = specials.sep;
    this.eosId = specials.eos;
    this.padId = specials.pad;
    this.fingerprint = embedderFingerprint(spec, modelPath);
  }

  get modelId(): string {
    return this.spec.name;
  }

  get maxTokens(): number {
    return this.spec.maxTokens;
  }

  /** Texts per forward pass (see OnnxOptions.batchSize). */
  get batchSize(): number {
    return this.batch;
  }

  static async load(spec: ModelSpec, dir: string, opts: OnnxOptions = {}): Promise<OnnxEmbedder> {
    const tokPath = join(dir, 'tokenizer.json');
    if (!existsSync(tokPath)) {
      throw new QuiverError('FILE_NOT_FOUND', `no tokenizer.json in ${dir}`, { location: { file: tokPath } });
    }
    const cfgPath = join(dir, 'tokenizer_config.json');
    const tokenizer = new Tokenizer(
      readJson(tokPath) as ConstructorParameters<typeof Tokenizer>[0],
      (existsSync(cfgPath) ? readJson(cfgPath) : {}) as ConstructorParameters<typeof Tokenizer>[1],
    );
    const modelPath = opts.modelFile
      ? join(dir, opts.modelFile)
      : findModelFile(dir, opts.variant ?? 'fp32', spec);
    const session = await ort.InferenceSession.create(modelPath, sessionOptions(opts));
    const config = existsSync(join(dir, 'config.json'))
      ? (readJson(join(dir, 'config.json')) as { hidden_size?: number; pad_token_id?: number })
      : {};
    const id = (t: string): number | undefined => tokenizer.token_to_id(t);
    const cls = id('[CLS]') ?? id('<s>');
    const sep = id('[SEP]');
    const eos = id('</s>');
    const specials = {
      ...(cls !== undefined ? { cls } : {}),
      ...(sep !== undefined ? { sep } : {}),
      ...(eos !== undefined ? { eos } : {}),
      pad: config.pad_token_id ?? id('[PAD]') ?? id('<pad>') ?? 0,
    };
    const e = new OnnxEmbedder(
      spec,
      tokenizer,
      session,
      modelPath,
      opts.batchSize ?? 1,
      config.hidden_size ?? spec.dims,
      specials,
    );
    // The output width is the truth (a config.json may describe another size of the same family).
    const [probe] = await e.forward([e.encode('probe').ids]);
    e.dims = probe!.length;
    // Dynamically quantised (int8) exports pick one activation scale per tensor, i.e. over the
    // whole padded batch, so a text's vector depends on its batch-mates. Rather than trusting a
    // file name, measure: batching is the default only when batched and one-at-a-time vectors agree.
    if (opts.batchSize === undefined) {
      e.batch = (await e.batchDeviation()) <= BATCH_INVARIANCE_TOLERANCE ? 32 : 1;
    }
    return e;
  }

  /**
   * Largest |difference| between unit-normalised vectors of probe texts run as one padded batch
   * and one at a time. Probe texts of very different lengths and content make a per-batch
   * activation scale (and the padding it covers) show up; fp32 models give rounding noise only.
   */
  async batchDeviation(): Promise<number> {
    const ids = BATCH_PROBES.map((t) => this.encode(formatInput(this.spec, t, { role: 'document' })).ids);
    const batched = await this.forward(ids);
    let worst = 0;
    for (let i = 0; i < ids.length; i++) {
      const [single] = await this.forward([ids[i]!]);
      const a = finishVector(batched[i]!, true);
      const b = finishVector(single!, true);
      for (let d = 0; d < a.length; d++) worst = Math.max(worst, Math.abs(a[d]! - b[d]!));
    }
    return worst;
  }

  formatInputs(texts: string[], opts: EmbedOptions): string[] {
    return texts.map((t) => formatInput(this.spec, t, opts));
  }

  /** Token ids with special tokens, truncated to maxTokens keeping the trailing special token. */
  encode(input: string): Encoded {
    let ids = this.tokenizer.encode(input).ids as number[];
    if (this.spec.addEos && this.eosId !== undefined && ids[ids.length - 1] !== this.eosId)
      ids = [...ids, this.eosId];
    const max = this.spec.maxTokens;
    if (ids.length <= max) return { ids, truncated: false };
    const last = ids[ids.length - 1]!;
    const keepLast = last === this.sepId || last === this.eosId;
    const cut = keepLast ? [...ids.slice(0, max - 1), last] : ids.slice(0, max);
    return { ids: cut, truncated: true };
  }

  async explain(text: string, opts: EmbedOptions): Promise<EmbedExplain> {
    const input = formatInput(this.spec, text, opts);
    const { ids, truncated } = this.encode(input);
    return { input, ids, truncated };
  }

  async embed(texts: string[], opts: EmbedOptions): Promise<Float32Array[]> {
    checkDimensions(opts.dimensions, this.dims);
    const encoded = this.formatInputs(texts, opts).map((t) => this.encode(t));
    this.counters.texts += texts.length;
    for (const e of encoded) {
      this.counters.tokens += e.ids.length;
      if (e.truncated) this.counters.truncated++;
    }
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.ids.length - encoded[b]!.ids.length);
    const out = new Array<Float32Array>(texts.length);
    for (const idx of packBatches(order, (i) => encoded[i]!.ids.length, this.batch, MAX_PADDED_TOKENS)) {
      const vecs = await this.forward(idx.map((i) => encoded[i]!.ids));
      idx.forEach((i, j) => (out[i] = finishVector(vecs[j]!, this.spec.normalize, opts.dimensions)));
    }
    return out;
  }

  /** One padded batch through the model, pooled per the spec. */
  private async forward(batch: number[][]): Promise<Float32Array[]> {
    const n = batch.length;
    const len = Math.max(1, ...batch.map((b) => b.length));
    const ids = new BigInt64Array(n * len).fill(BigInt(this.padId));
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
    // Decoder exports (Mistral, Qwen) take positions; rows are right-padded, so 0..len-1 each.
    if (this.inputNames.has('position_ids')) {
      const pos = new BigInt64Array(n * len);
      for (let i = 0; i < n; i++) for (let j = 0; j < len; j++) pos[i * len + j] = BigInt(j);
      feeds['position_ids'] = new ort.Tensor('int64', pos, [n, len]);
    }
    const result = await this.session.run(feeds);
    const hidden = hiddenStates(result, this.session.outputNames, this.modelPath);
    const data = hidden.data as Float32Array;
    const h = Number(hidden.dims[2]);
    const pooled: Float32Array[] = [];
    for (let i = 0; i < n; i++) {
      const real = batch[i]!.length;
      pooled.push(pool(data, i, len, h, real, this.spec.pooling));
    }
    return pooled;
  }

  stats(): EmbedStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The per-token hidden states among a model's outputs, which Quiver pools itself: Optimum and
 * transformers.js exports call them `last_hidden_state`; sentence-transformers exports
 * `token_embeddings`, next to a pooled `sentence_embedding` that may come first. Otherwise the
 * first 3-D output.
 */
export function hiddenStates(
  result: Record<string, ort.Tensor>,
  outputNames: readonly string[],
  modelPath: string,
): ort.Tensor {
  for (const name of ['last_hidden_state', 'token_embeddings']) if (result[name]) return result[name];
  for (const name of outputNames) if (result[name]?.dims.length === 3) return result[name];
  throw new QuiverError(
    'INVALID_CONFIG',
    `${modelPath} has no per-token output to pool (outputs: ${outputNames
      .map((o) => `${o} [${result[o]?.dims.join('×') ?? '?'}]`)
      .join(
        ', ',
      )}); export it with its last hidden state (e.g. optimum-cli export onnx --task feature-extraction)`,
    { location: { file: modelPath } },
  );
}

/** The embedder contract: batched and one-at-a-time vectors agree within this (conformance suite). */
const BATCH_INVARIANCE_TOLERANCE = 1e-5;

/** Load-time batch-invariance probe texts: one very short, one long, one between, unlike in content. */
const BATCH_PROBES = [
  'ok',
  'Vitamin D deficiency is associated with an increased risk of respiratory infections in adults, ' +
    'while supplementation trials report mixed results across populations, doses and outcome measures; ' +
    'the 2019 meta-analysis pooled 25 trials (11,321 participants) and found a modest protective effect.',
  'Quantum entanglement links two particles — 量子纠缠 — whatever the distance between them.',
];

/** Padded tokens per forward pass: bounds memory and lets long texts run in small batches. */
const MAX_PADDED_TOKENS = 8192;

/**
 * Split length-sorted items into batches of at most `batchSize` items and `maxPadded` padded
 * tokens (items × longest), with at most 25% padding. Because items arrive shortest first, each new item is its batch's
 * longest, so short texts are never padded to the length of a long one in another batch.
 */
export function packBatches(
  sorted: number[],
  length: (i: number) => number,
  batchSize: number,
  maxPadded: number,
): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let real = 0;
  for (const i of sorted) {
    const len = length(i);
    const padded = (current.length + 1) * len;
    // Padding is wasted compute: also cut when it would exceed a quarter of the batch's real tokens.
    const wasteful = padded > 1.25 * (real + len);
    if (current.length > 0 && (current.length >= batchSize || padded > maxPadded || wasteful)) {
      batches.push(current);
      current = [];
      real = 0;
    }
    current.push(i);
    real += len;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Pool one sequence of a [batch, len, h] tensor. `real` is the number of non-padding tokens
 * (padding is always on the right), so the attention mask is implied.
 */
export function pool(
  data: Float32Array,
  i: number,
  len: number,
  h: number,
  real: number,
  how: 'mean' | 'cls' | 'last',
): Float32Array {
  const v = new Float32Array(h);
  const base = i * len * h;
  if (how === 'cls') {
    v.set(data.subarray(base, base + h));
  } else if (how === 'last') {
    const off = base + (real - 1) * h;
    v.set(data.subarray(off, off + h));
  } else {
    for (let t = 0; t < real; t++) {
      const off = base + t * h;
      for (let d = 0; d < h; d++) v[d]! += data[off + d]!;
    }
    for (let d = 0; d < h; d++) v[d]! /= Math.max(1, real);
  }
  return v;
}
