/**
 * The one interface every embedding provider implements: local ONNX (./onnx), static word vectors
 * (./static), remote OpenAI-compatible endpoints (./remote), CLIP images (./image).
 * Every provider passes ./embedder.conformance.ts.
 *
 * Callers never write prompts by hand: they say what role a text plays (query, document, or one
 * side of a symmetric task) and optionally a task instruction; the model's spec in ./registry.ts
 * turns that into the exact string the model was trained on.
 */
import type { JsonValue } from '../types.js';

/** query/document for retrieval; symmetric for STS/clustering (E5: "query: " on both sides). */
export type EmbedRole = 'query' | 'document' | 'symmetric';

export interface EmbedOptions {
  role: EmbedRole;
  /** Task instruction for instruct models; defaults to the spec's default task. */
  task?: string;
  /** Matryoshka: keep the first N dimensions (then re-normalise). */
  dimensions?: number;
}

/** What one text turned into, for `quiver embed --explain` and contract tests. */
export interface EmbedExplain {
  /** The exact string given to the tokenizer (prefix/instruction applied). */
  input: string;
  /** Token ids, when the provider tokenizes locally. */
  ids?: number[];
  /** True when the input was cut at the model's token limit. */
  truncated?: boolean;
}

export interface EmbedStats {
  texts: number;
  tokens: number;
  /** How many inputs were cut at maxTokens (reported, never an error). */
  truncated: number;
}

export type ImageInput = string | Uint8Array; // file path, URL, or encoded bytes

export interface Embedder {
  /** Registry name, e.g. "intfloat/e5-small-v2", "static:glove-100". */
  readonly modelId: string;
  readonly dims: number;
  readonly maxTokens: number;
  readonly modalities: readonly ('text' | 'image')[];
  /**
   * A fingerprint of everything that changes the vectors (model id, revision, prompt convention,
   * pooling, normalisation, fitted state). Collections refuse to mix vectors of different ones.
   */
  readonly fingerprint: string;

  /** The exact strings the model will see for these texts (prefix / instruction applied). */
  formatInputs(texts: string[], opts: EmbedOptions): string[];
  embed(texts: string[], opts: EmbedOptions): Promise<Float32Array[]>;
  explain(text: string, opts: EmbedOptions): Promise<EmbedExplain>;
  embedImages?(images: ImageInput[]): Promise<Float32Array[]>;
  /** Counters since creation (texts, tokens, truncations). */
  stats(): EmbedStats;
  close(): Promise<void>;
}

/**
 * Providers whose vectors depend on corpus statistics (SIF weights, common-component removal)
 * are fitted once per collection; the state is stored with the collection and restored on open.
 */
export interface FittableEmbedder extends Embedder {
  fit(corpus: Iterable<string> | AsyncIterable<string>): Promise<void>;
  exportState(): JsonValue;
  importState(state: JsonValue): void;
  readonly fitted: boolean;
}

export function isFittable(e: Embedder): e is FittableEmbedder {
  return typeof (e as Partial<FittableEmbedder>).fit === 'function';
}
