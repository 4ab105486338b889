/**
 * A local cross-encoder on onnxruntime-node: (query, passage) pairs encoded together
 * ([CLS] query [SEP] passage [SEP], token types 0/1), truncated to the model's limit by cutting
 * the passage, batched with padding to the batch maximum; the model's single logit is the score.
 * Pairs are batched in length order (then scores put back in input order), so a batch pads to a
 * similar length instead of its longest passage; the session uses the same onnxruntime options as
 * the embedders (threads not spinning between operators, which pays on a shared machine).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../embed/onnx/onnx-embedder.js';
import { QuiverError } from '../errors.js';
import type { RerankCandidate, Reranker } from './reranker.js';

export class CrossEncoderReranker implements Reranker {
  readonly name = 'cross-encoder';
  private readonly inputs: Set<string>;

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly session: ort.InferenceSession,
    private readonly maxLength: number,
    private readonly batchSize: number,
  ) {
    this.inputs = new Set(session.inputNames);
  }

  static async load(
    dir: string,
    opts: { maxLength?: number; batchSize?: number } = {},
  ): Promise<CrossEncoderReranker> {
    const tok = join(dir, 'tokenizer.json');
    const model = [join(dir, 'onnx', 'model.onnx'), join(dir, 'model.onnx')].find((p) => existsSync(p));
    if (!existsSync(tok) || !model)
      throw new QuiverError(
        'FILE_NOT_FOUND',
        `cross-encoder folder ${dir} needs tokenizer.json and onnx/model.onnx`,
        { location: { file: dir } },
      );
    const cfg = join(dir, 'tokenizer_config.json');
    const tokenizer = new Tokenizer(
      JSON.parse(readFileSync(tok, 'utf8')) as ConstructorParameters<typeof Tokenizer>[0],
      (existsSync(cfg) ? JSON.parse(readFileSync(cfg, 'utf8')) : {}) as ConstructorParameters<
        typeof Tokenizer
      >[1],
    );
    const session = await ort.InferenceSession.create(model, sessionOptions());
    return new CrossEncoderReranker(tokenizer, session, opts.maxLength ?? 512, opts.batchSize ?? 16);
  }

  /** Pair encoding, truncating the passage so the pair fits maxLength. */
  encodePair(query: string, passage: string): { ids: number[]; types: number[] } {
    const q = this.tokenizer.encode(query).ids as number[]; // [CLS] q [SEP]
    const p = (this.tokenizer.encode(passage).ids as number[]).slice(1); // p [SEP]
    const room = Math.max(2, this.maxLength - q.length);
    const pp = p.length > room ? [...p.slice(0, room - 1), p[p.length - 1]!] : p;
    const qq = q.slice(0, Math.max(2, this.maxLength - pp.length));
    return { ids: [...qq, ...pp], types: [...qq.map(() => 0), ...pp.map(() => 1)] };
  }

  async rerank(query: string, candidates: RerankCandidate[]): Promise<number[]> {
    const pairs = candidates.map((c) => this.encodePair(query, c.text));
    const order = pairs.map((_, i) => i).sort((a, b) => pairs[a]!.ids.length - pairs[b]!.ids.length || a - b);
    const out = new Array<number>(candidates.length);
    for (let s = 0; s < order.length; s += this.batchSize) {
      const which = order.slice(s, s + this.batchSize);
      const batch = which.map((i) => pairs[i]!);
      const len = Math.max(...batch.map((b) => b.ids.length));
      const n = batch.length;
      const ids = new BigInt64Array(n * len);
      const mask = new BigInt64Array(n * len);
      const types = new BigInt64Array(n * len);
      batch.forEach((b, i) =>
        b.ids.forEach((id, j) => {
          ids[i * len + j] = BigInt(id);
          mask[i * len + j] = 1n;
          types[i * len + j] = BigInt(b.types[j]!);
        }),
      );
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', ids, [n, len]),
        attention_mask: new ort.Tensor('int64', mask, [n, len]),
      };
      if (this.inputs.has('token_type_ids'))
        feeds['token_type_ids'] = new ort.Tensor('int64', types, [n, len]);
      const res = await this.session.run(feeds);
      const logits = res[this.session.outputNames[0]!]!.data as Float32Array;
      const per = logits.length / n;
      for (let i = 0; i < n; i++) out[which[i]!] = logits[i * per]!;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
