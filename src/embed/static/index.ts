/**
 * Static word-vector embeddings: the dense model that works fully offline. A text's vector is the
 * SIF-weighted mean of its word vectors (Arora et al. 2017: weight a / (a + p(w))) with the
 * common component(s) removed, L2-normalised. Word probabilities and the common components are
 * fitted per collection (`fit`), which is unsupervised — corpus text only, never relevance labels.
 * Before fitting, word probabilities come from a Zipf prior over the vectors' frequency ranks.
 */
import { createHash } from 'node:crypto';
import { QuiverError } from '../../errors.js';
import type { JsonValue } from '../../types.js';
import type { EmbedExplain, EmbedOptions, EmbedStats, FittableEmbedder } from '../embedder.js';
import type { WordVectors } from './word-vectors.js';
import { loadWordVectors } from './word-vectors.js';

export interface StaticOptions {
  vectorsPath?: string;
  /** SIF smoothing constant. */
  a?: number;
  /** Common components removed after fitting. */
  components?: number;
}

interface FittedState {
  version: 1;
  a: number;
  total: number;
  /** word → corpus count, for words that have a vector. */
  counts: Record<string, number>;
  /** Common components (unit vectors) to project out. */
  pcs: number[][];
}

const WORD = /[\p{L}\p{N}]+(?:[-'’][\p{L}\p{N}]+)*/gu;
const SAMPLE_FOR_PCA = 20_000;

export function staticTokens(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/** Words per text: longer texts are truncated (counted in stats), which bounds the cost of one text. */
const MAX_WORDS = 8192;

export class StaticEmbedder implements FittableEmbedder {
  readonly maxTokens = MAX_WORDS;
  readonly modalities = ['text'] as const;
  private state: FittedState | undefined;
  private weightCache = new Map<number, number>();
  private counters: EmbedStats = { texts: 0, tokens: 0, truncated: 0 };
  private fp: string;
  private readonly harmonic: number;

  constructor(
    readonly modelId: string,
    private readonly vectors: WordVectors,
    private readonly opts: { a: number; components: number },
  ) {
    this.harmonic = Math.log(vectors.index.size) + 0.5772;
    this.fp = this.computeFingerprint();
  }

  get dims(): number {
    return this.vectors.dims;
  }

  get fingerprint(): string {
    return this.fp;
  }

  get fitted(): boolean {
    return this.state !== undefined;
  }

  private computeFingerprint(): string {
    const h = createHash('sha256').update(`${this.modelId}|${this.vectors.id}|sif-a=${this.opts.a}|pcs=${this.opts.components}`);
    if (this.state) h.update(JSON.stringify(this.state));
    return h.digest('hex');
  }

  /** Row ids of a text's words; hyphenated words not in the table fall back to their parts. */
  private rows(text: string): number[] {
    const out: number[] = [];
    for (const tok of staticTokens(text)) {
      if (out.length >= MAX_WORDS) break;
      const r = this.vectors.index.get(tok);
      if (r !== undefined) {
        out.push(r);
        continue;
      }
      for (const part of tok.split(/[-'’]/)) {
        const p = this.vectors.index.get(part);
        if (p !== undefined) out.push(p);
      }
    }
    return out;
  }

  /** SIF weight a / (a + p(w)). */
  private weight(row: number): number {
    let w = this.weightCache.get(row);
    if (w !== undefined) return w;
    const a = this.opts.a;
    let p: number;
    if (this.state) {
      // Add-one smoothing mixed with the prior so unseen words are not treated as infinitely rare.
      const word = this.wordOf(row);
      const c = (word && this.state.counts[word]) || 0;
      const prior = 1 / ((row + 1) * this.harmonic);
      p = (c + prior * 100) / (this.state.total + 100);
    } else {
      p = 1 / ((row + 1) * this.harmonic);
    }
    w = a / (a + p);
    this.weightCache.set(row, w);
    return w;
  }

  private words: string[] | undefined;
  private wordOf(row: number): string | undefined {
    if (!this.words) {
      this.words = [];
      for (const [w, r] of this.vectors.index) this.words[r] = w;
    }
    return this.words[row];
  }

  /** Weighted mean before component removal and normalisation. */
  private raw(text: string): Float32Array {
    const d = this.dims;
    const v = new Float32Array(d);
    const rows = this.rows(text);
    this.counters.tokens += rows.length;
    if (rows.length >= MAX_WORDS) this.counters.truncated++;
    let wsum = 0;
    for (const r of rows) {
      const w = this.weight(r);
      wsum += w;
      const off = r * d;
      for (let i = 0; i < d; i++) v[i]! += w * this.vectors.data[off + i]!;
    }
    if (wsum > 0) for (let i = 0; i < d; i++) v[i]! /= wsum;
    return v;
  }

  private finish(v: Float32Array, dimensions?: number): Float32Array {
    for (const pc of this.state?.pcs ?? []) {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i]! * pc[i]!;
      for (let i = 0; i < v.length; i++) v[i]! -= dot * pc[i]!;
    }
    const out = dimensions && dimensions < v.length ? v.slice(0, dimensions) : v;
    let n = 0;
    for (let i = 0; i < out.length; i++) n += out[i]! * out[i]!;
    n = Math.sqrt(n);
    // No known word at all: a fixed unit vector, so "nothing known" texts are alike and finite.
    if (n === 0) return out.fill(1 / Math.sqrt(out.length));
    for (let i = 0; i < out.length; i++) out[i]! /= n;
    return out;
  }

  formatInputs(texts: string[], _opts: EmbedOptions): string[] {
    return [...texts];
  }

  async embed(texts: string[], opts: EmbedOptions): Promise<Float32Array[]> {
    this.counters.texts += texts.length;
    return texts.map((t) => this.finish(this.raw(t), opts.dimensions));
  }

  async explain(text: string, _opts: EmbedOptions): Promise<EmbedExplain> {
    const ids = this.rows(text);
    return { input: text, ids, truncated: ids.length >= MAX_WORDS };
  }

  async fit(corpus: Iterable<string> | AsyncIterable<string>): Promise<void> {
    const counts = new Map<number, number>();
    let total = 0;
    const sample: string[] = [];
    let seen = 0;
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for await (const text of corpus as AsyncIterable<string>) {
      for (const r of this.rows(text)) {
        counts.set(r, (counts.get(r) ?? 0) + 1);
        total++;
      }
      seen++;
      if (sample.length < SAMPLE_FOR_PCA) sample.push(text);
      else {
        const j = Math.floor(rand() * seen);
        if (j < SAMPLE_FOR_PCA) sample[j] = text;
      }
    }
    const wordCounts: Record<string, number> = {};
    for (const [r, c] of counts) wordCounts[this.wordOf(r)!] = c;
    this.state = { version: 1, a: this.opts.a, total, counts: wordCounts, pcs: [] };
    this.weightCache.clear();
    // Common components of the weighted means (uncentred, as in the SIF paper).
    const embs = sample.map((t) => this.raw(t));
    this.state.pcs = principalComponents(embs, this.dims, this.opts.components);
    this.fp = this.computeFingerprint();
  }

  exportState(): JsonValue {
    return (this.state ?? null) as unknown as JsonValue;
  }

  importState(state: JsonValue): void {
    if (state === null) return;
    const s = state as unknown as FittedState;
    if (typeof s !== 'object' || s.version !== 1 || typeof s.counts !== 'object' || !Array.isArray(s.pcs)) {
      throw new QuiverError('INVALID_CONFIG', 'stored static-embedder state is not readable', {
        location: { field: 'embedder-state' },
      });
    }
    this.state = s;
    this.weightCache.clear();
    this.fp = this.computeFingerprint();
  }

  stats(): EmbedStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    // The word-vector table is shared process-wide; nothing to release per embedder.
  }
}

/** Top-k eigenvectors of XᵀX by power iteration with deflation. */
export function principalComponents(rows: Float32Array[], dims: number, k: number): number[][] {
  const pcs: number[][] = [];
  if (rows.length === 0) return pcs;
  for (let c = 0; c < k; c++) {
    let v = Array.from({ length: dims }, (_, i) => Math.sin(i + 1 + c));
    for (let iter = 0; iter < 50; iter++) {
      const next = new Array<number>(dims).fill(0);
      for (const r of rows) {
        let dot = 0;
        for (let i = 0; i < dims; i++) dot += r[i]! * v[i]!;
        for (let i = 0; i < dims; i++) next[i]! += dot * r[i]!;
      }
      // Keep the iterate orthogonal to the components already found (Gram–Schmidt deflation).
      for (const p of pcs) {
        const d = p.reduce((s, pi, i) => s + pi * next[i]!, 0);
        for (let i = 0; i < dims; i++) next[i]! -= d * p[i]!;
      }
      const n = Math.sqrt(next.reduce((s, x) => s + x * x, 0)) || 1;
      v = next.map((x) => x / n);
    }
    pcs.push(v);
  }
  return pcs;
}

export async function createStaticEmbedder(name: string, opts: StaticOptions = {}): Promise<StaticEmbedder> {
  const settings = { a: opts.a ?? 1e-3, components: opts.components ?? 1 };
  if (name === 'static:glove-100' || name === 'glove-100') {
    return new StaticEmbedder('static:glove-100', await loadWordVectors('glove-100'), settings);
  }
  if (name === 'static:file' || name.startsWith('static:file:')) {
    const path = opts.vectorsPath ?? name.slice('static:file:'.length);
    if (!path) {
      throw new QuiverError('INVALID_ARGUMENT', 'static:file needs a vectors path (static:file:<path> or vectorsPath)', {
        location: { field: 'model' },
      });
    }
    return new StaticEmbedder(`static:file:${path}`, await loadWordVectors({ path }), settings);
  }
  throw new QuiverError('MODEL_NOT_FOUND', `unknown static model "${name}" (use static:glove-100 or static:file:<path>)`, {
    location: { field: 'model' },
  });
}
