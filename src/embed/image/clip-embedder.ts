/**
 * CLIP-style embeddings: a text tower and a vision tower in ONNX (laid out like the
 * transformers.js exports: onnx/text_model.onnx → text_embeds, onnx/vision_model.onnx →
 * image_embeds), so images and text share one space and a text query finds images.
 *
 * Image preprocessing follows CLIPImageProcessor with sharp: resize so the shorter side is 224
 * (bicubic), center-crop 224×224, RGB, scale to [0, 1], normalise with CLIP's mean and std,
 * channels first. Images come from file paths, http(s) or data URLs, or bytes (./image-input.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { QuiverError } from '../../errors.js';
import type { EmbedExplain, EmbedOptions, EmbedStats, Embedder, ImageInput } from '../embedder.js';
import type { ModelSpec } from '../registry.js';
import { formatInput } from '../registry.js';
import { loadImage } from './image-input.js';

export { loadImage };

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
export const CLIP_SIZE = 224;

/** CLIP preprocessing: a [3, 224, 224] channels-first Float32Array. */
export async function preprocessImage(bytes: Uint8Array, size = CLIP_SIZE): Promise<Float32Array> {
  let raw: Buffer;
  try {
    raw = await sharp(bytes)
      .removeAlpha()
      .toColourspace('srgb')
      .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'cubic' })
      .raw()
      .toBuffer();
  } catch (e) {
    throw new QuiverError('INVALID_ARGUMENT', `not a readable image: ${(e as Error).message}`, {
      cause: e,
      location: { field: 'image' },
    });
  }
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = (raw[p * 3 + c]! / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!;
  }
  return out;
}

function l2(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

export class ClipEmbedder implements Embedder {
  readonly modalities = ['text', 'image'] as const;
  readonly fingerprint: string;
  private readonly counters: EmbedStats = { texts: 0, tokens: 0, truncated: 0 };

  private constructor(
    readonly spec: ModelSpec,
    private readonly tokenizer: Tokenizer,
    private readonly text: ort.InferenceSession,
    private readonly vision: ort.InferenceSession,
    readonly dims: number,
    weightsDigest: string,
  ) {
    this.fingerprint = createHash('sha256').update(`${spec.name}|clip|${weightsDigest}`).digest('hex');
  }

  get modelId(): string {
    return this.spec.name;
  }

  get maxTokens(): number {
    return this.spec.maxTokens;
  }

  static async load(spec: ModelSpec, dir: string): Promise<ClipEmbedder> {
    const paths = {
      tok: join(dir, 'tokenizer.json'),
      text: join(dir, 'onnx', 'text_model.onnx'),
      vision: join(dir, 'onnx', 'vision_model.onnx'),
    };
    for (const p of Object.values(paths)) {
      if (!existsSync(p))
        throw new QuiverError('FILE_NOT_FOUND', `CLIP model folder ${dir} lacks ${p}`, {
          location: { file: p },
        });
    }
    const cfg = join(dir, 'tokenizer_config.json');
    const tokenizer = new Tokenizer(
      JSON.parse(readFileSync(paths.tok, 'utf8')) as ConstructorParameters<typeof Tokenizer>[0],
      (existsSync(cfg) ? JSON.parse(readFileSync(cfg, 'utf8')) : {}) as ConstructorParameters<
        typeof Tokenizer
      >[1],
    );
    const text = await ort.InferenceSession.create(paths.text);
    const vision = await ort.InferenceSession.create(paths.vision);
    const digest = createHash('sha256')
      .update(readFileSync(paths.text).subarray(0, 1 << 20))
      .update(readFileSync(paths.vision).subarray(0, 1 << 20))
      .digest('hex');
    const e = new ClipEmbedder(spec, tokenizer, text, vision, 0, digest);
    const [probe] = await e.embed(['probe'], { role: 'query' });
    (e as { dims: number }).dims = probe!.length;
    return e;
  }

  formatInputs(texts: string[], opts: EmbedOptions): string[] {
    return texts.map((t) => formatInput(this.spec, t, opts));
  }

  private encode(input: string): { ids: number[]; truncated: boolean } {
    const ids = this.tokenizer.encode(input).ids as number[];
    if (ids.length <= this.maxTokens) return { ids, truncated: false };
    return { ids: [...ids.slice(0, this.maxTokens - 1), ids[ids.length - 1]!], truncated: true };
  }

  async explain(text: string, opts: EmbedOptions): Promise<EmbedExplain> {
    const input = formatInput(this.spec, text, opts);
    return { input, ...this.encode(input) };
  }

  /** Text tower; each text alone, so results never depend on batch-mates. */
  async embed(texts: string[], opts: EmbedOptions): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const input of this.formatInputs(texts, opts)) {
      const { ids, truncated } = this.encode(input);
      this.counters.texts++;
      this.counters.tokens += ids.length;
      if (truncated) this.counters.truncated++;
      const n = ids.length;
      const res = await this.text.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
      });
      let v = Float32Array.from(res['text_embeds']!.data as Float32Array);
      if (opts.dimensions && opts.dimensions < v.length) v = v.slice(0, opts.dimensions);
      out.push(l2(v));
    }
    return out;
  }

  async embedImages(images: ImageInput[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < images.length; i += 16) {
      const batch = images.slice(i, i + 16);
      const pixels = await Promise.all(batch.map(async (img) => preprocessImage(await loadImage(img))));
      const flat = new Float32Array(batch.length * 3 * CLIP_SIZE * CLIP_SIZE);
      pixels.forEach((p, j) => flat.set(p, j * p.length));
      const res = await this.vision.run({
        pixel_values: new ort.Tensor('float32', flat, [batch.length, 3, CLIP_SIZE, CLIP_SIZE]),
      });
      const data = res['image_embeds']!.data as Float32Array;
      const d = data.length / batch.length;
      for (let j = 0; j < batch.length; j++)
        out.push(l2(Float32Array.from(data.subarray(j * d, (j + 1) * d))));
    }
    return out;
  }

  stats(): EmbedStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    await this.text.release();
    await this.vision.release();
  }
}
