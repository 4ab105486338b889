/**
 * Static word-vector embeddings: the dense model that works fully offline. A text's vector is the
 * weighted mean of its word vectors with the common component(s) removed, L2-normalised — SIF
 * (Arora et al. 2017) with the weights and components fitted per collection by `fit`, which is
 * unsupervised: corpus text only, never relevance labels.
 *
 * Before fitting, word probabilities come from a Zipf prior over the table's frequency ranks and
 * nothing is removed, so an unfitted embedder still gives sensible vectors.
 *
 * The defaults were chosen on SciFact's *train* queries (docs/quality.md, "Static vectors"):
 * out-of-vocabulary words get a deterministic pseudo-random vector (so rare technical terms,
 * numbers and words of other languages still match themselves), and several common components
 * are removed from centred document vectors.
 */
import { createHash } from 'node:crypto';
import { QuiverError } from '../../errors.js';
import type { JsonValue } from '../../types.js';
import type { EmbedExplain, EmbedOptions, EmbedStats, FittableEmbedder } from '../embedder.js';
import { compoundParts, staticTokens } from './tokenize.js';
import type { WordVectors } from './word-vectors.js';
import { loadWordVectors } from './word-vectors.js';

export { staticTokens } from './tokenize.js';

export type StaticWeighting = 'sif' | 'idf' | 'sif-idf';

export interface StaticSettings {
  /** How a word's contribution is weighted: SIF a/(a+p(w)), BM25-style idf, or their product. */
  weighting: StaticWeighting;
  /** SIF smoothing constant a. */
  a: number;
  /** Common components (principal directions of the fitted document vectors) removed. */
  components: number;
  /** Subtract the corpus mean vector before removing components. */
  center: boolean;
  /** Out-of-vocabulary words: dropped, or given a deterministic pseudo-random vector. */
  oov: 'drop' | 'hash';
  /** Length of an OOV vector relative to the mean length of the table's vectors. */
  oovScale: number;
  /** Repeated words in one text: count each occurrence (linear) or 1 + ln(tf) times. */
  tf: 'linear' | 'log';
}

export interface StaticOptions extends Partial<StaticSettings> {
  vectorsPath?: string;
}

export const DEFAULT_STATIC_SETTINGS: StaticSettings = {
  weighting: 'idf',
  a: 1e-3,
  components: 5,
  center: true,
  oov: 'hash',
  oovScale: 1,
  tf: 'linear',
};

/** What `fit` learns; JSON-compatible and small (parallel arrays, only words that occur). */
interface FittedState {
  version: 2;
  /** Texts and word occurrences seen by fit. */
  docs: number;
  total: number;
  words: string[];
  /** Occurrences of words[i] in the corpus. */
  counts: number[];
  /** Texts containing words[i]. */
  docFreq: number[];
  /** Corpus mean of the weighted word-vector means (all zeros when not centring). */
  mean: number[];
  /** Common components (unit vectors) to project out, strongest first. */
  pcs: number[][];
}

/** A resolved token: a row of the table, or the text of an out-of-vocabulary word. */
type Term = number | string;

const MAX_WORDS = 100_000;
const SAMPLE_FOR_PCA = 20_000;
/** Pseudo-count given to the Zipf prior when mixing it with corpus counts. */
const PRIOR_MASS = 100;
/** OOV words seen once in the corpus are not stored: their weight is that of an unseen word. */
const MIN_OOV_COUNT_STORED = 2;
const OOV_CACHE_LIMIT = 200_000;
/**
 * Directions estimated from a handful of texts are their topics, not a common component: centre
 * and remove components only with enough texts (one component per this many).
 */
const TEXTS_PER_COMPONENT = 50;

export class StaticEmbedder implements FittableEmbedder {
  readonly maxTokens = MAX_WORDS;
  readonly modalities = ['text'] as const;
  private state: FittedState | undefined;
  private stateIndex = new Map<string, number>();
  private weightCache = new Map<Term, number>();
  private oovVectors = new Map<string, Float32Array>();
  private counters: EmbedStats = { texts: 0, tokens: 0, truncated: 0 };
  private fp: string;
  private readonly harmonic: number;
  private words: string[] | undefined;
  private meanNorm: number | undefined;

  constructor(
    readonly modelId: string,
    private readonly vectors: WordVectors,
    readonly settings: StaticSettings,
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
    const h = createHash('sha256').update(
      `${this.modelId}|${this.vectors.id}|${JSON.stringify(this.settings)}`,
    );
    if (this.state) h.update(JSON.stringify(this.state));
    return h.digest('hex');
  }

  /** A text's terms; compounds not in the table fall back to their parts. */
  private terms(text: string): { terms: Term[]; truncated: boolean } {
    const out: Term[] = [];
    const keepOov = this.settings.oov === 'hash';
    const tokens = staticTokens(text);
    for (const tok of tokens) {
      if (out.length >= MAX_WORDS) break;
      const r = this.vectors.index.get(tok);
      if (r !== undefined) {
        out.push(r);
        continue;
      }
      const parts = compoundParts(tok);
      for (const part of parts.length > 1 ? parts : [tok]) {
        const p = this.vectors.index.get(part);
        if (p !== undefined) out.push(p);
        else if (keepOov) out.push(part);
      }
    }
    return {
      terms: out.slice(0, MAX_WORDS),
      truncated: out.length > MAX_WORDS || (out.length === MAX_WORDS && tokens.length > MAX_WORDS),
    };
  }

  private wordOf(term: Term): string {
    if (typeof term === 'string') return term;
    if (!this.words) {
      this.words = [];
      for (const [w, r] of this.vectors.index) this.words[r] = w;
    }
    return this.words[term]!;
  }

  /** Zipf prior p(w) ∝ 1/rank over the table's frequency order; OOV words count as the rarest. */
  private prior(term: Term): number {
    const rank = typeof term === 'number' ? term + 1 : this.vectors.index.size;
    return 1 / (rank * this.harmonic);
  }

  private weight(term: Term): number {
    let w = this.weightCache.get(term);
    if (w !== undefined) return w;
    const { a, weighting } = this.settings;
    const s = this.state;
    if (!s) {
      w = a / (a + this.prior(term));
    } else {
      const i = this.stateIndex.get(this.wordOf(term));
      const count = i === undefined ? 0 : s.counts[i]!;
      const df = i === undefined ? 0 : s.docFreq[i]!;
      // Corpus counts mixed with the prior, so words the corpus lacks are rare but not infinitely so.
      const p = (count + this.prior(term) * PRIOR_MASS) / (s.total + PRIOR_MASS);
      const sif = a / (a + p);
      const idf = Math.log(1 + (s.docs - df + 0.5) / (df + 0.5));
      w = weighting === 'sif' ? sif : weighting === 'idf' ? idf : sif * idf;
    }
    this.weightCache.set(term, w);
    return w;
  }

  /** A fixed pseudo-random vector per OOV word (seeded by its hash), as long as a typical word vector. */
  private oovVector(word: string): Float32Array {
    let v = this.oovVectors.get(word);
    if (v) return v;
    if (this.meanNorm === undefined) {
      const { data, dims } = this.vectors;
      const rows = Math.min(this.vectors.index.size, 50_000);
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        let n = 0;
        for (let i = 0; i < dims; i++) n += data[r * dims + i]! ** 2;
        sum += Math.sqrt(n);
      }
      this.meanNorm = rows ? sum / rows : 1;
    }
    const seed = createHash('sha256').update(word).digest();
    let state = seed.readUInt32LE(0) || 1;
    const rand = () => {
      // xorshift32: deterministic across platforms and Node versions.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return ((state >>> 0) + 0.5) / 4294967296;
    };
    v = new Float32Array(this.dims);
    let n = 0;
    for (let i = 0; i < v.length; i++) {
      // Box–Muller: a Gaussian direction is uniform on the sphere.
      v[i] = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
      n += v[i]! * v[i]!;
    }
    const scale = (this.settings.oovScale * this.meanNorm) / Math.sqrt(n);
    for (let i = 0; i < v.length; i++) v[i]! *= scale;
    if (this.oovVectors.size >= OOV_CACHE_LIMIT) this.oovVectors.clear();
    this.oovVectors.set(word, v);
    return v;
  }

  /** Weighted mean of the word vectors, before centring, component removal and normalisation. */
  private raw(terms: Term[]): Float32Array {
    const d = this.dims;
    const v = new Float32Array(d);
    const tf = new Map<Term, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    let wsum = 0;
    for (const [t, n] of tf) {
      const w = this.weight(t) * (this.settings.tf === 'log' ? 1 + Math.log(n) : n);
      if (w === 0) continue;
      wsum += w;
      if (typeof t === 'number') {
        const off = t * d;
        const data = this.vectors.data;
        for (let i = 0; i < d; i++) v[i]! += w * data[off + i]!;
      } else {
        const o = this.oovVector(t);
        for (let i = 0; i < d; i++) v[i]! += w * o[i]!;
      }
    }
    if (wsum > 0) for (let i = 0; i < d; i++) v[i]! /= wsum;
    return v;
  }

  private finish(v: Float32Array, dimensions?: number): Float32Array {
    const s = this.state;
    // An empty text stays the zero vector here, so centring cannot turn "nothing" into "the average".
    if (s && v.some((x) => x !== 0)) {
      for (let i = 0; i < v.length; i++) v[i]! -= s.mean[i] ?? 0;
      for (const pc of s.pcs) {
        let dot = 0;
        for (let i = 0; i < v.length; i++) dot += v[i]! * pc[i]!;
        for (let i = 0; i < v.length; i++) v[i]! -= dot * pc[i]!;
      }
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
    return texts.map((t) => {
      const { terms, truncated } = this.terms(t);
      this.counters.texts++;
      this.counters.tokens += terms.length;
      if (truncated) this.counters.truncated++;
      return this.finish(this.raw(terms), opts.dimensions);
    });
  }

  async explain(text: string, _opts: EmbedOptions): Promise<EmbedExplain> {
    return { input: text };
  }

  async fit(corpus: Iterable<string> | AsyncIterable<string>): Promise<void> {
    const counts = new Map<string, number>();
    const docFreq = new Map<string, number>();
    let total = 0;
    let docs = 0;
    const sample: Term[][] = [];
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for await (const text of corpus as AsyncIterable<string>) {
      const { terms } = this.terms(text);
      const distinct = new Set<string>();
      for (const t of terms) {
        const w = this.wordOf(t);
        counts.set(w, (counts.get(w) ?? 0) + 1);
        distinct.add(w);
      }
      for (const w of distinct) docFreq.set(w, (docFreq.get(w) ?? 0) + 1);
      total += terms.length;
      docs++;
      // Reservoir sample of texts for the common components: memory stays bounded on big corpora.
      if (sample.length < SAMPLE_FOR_PCA) sample.push(terms);
      else {
        const j = Math.floor(rand() * docs);
        if (j < SAMPLE_FOR_PCA) sample[j] = terms;
      }
    }
    const words: string[] = [];
    for (const [w, c] of counts) {
      if (c >= MIN_OOV_COUNT_STORED || this.vectors.index.has(w)) words.push(w);
    }
    words.sort();
    const d = this.dims;
    this.setState({
      version: 2,
      docs,
      total,
      words,
      counts: words.map((w) => counts.get(w)!),
      docFreq: words.map((w) => docFreq.get(w)!),
      mean: new Array<number>(d).fill(0),
      pcs: [],
    });
    const embs = sample.map((t) => this.raw(t)).filter((v) => v.some((x) => x !== 0));
    const mean = new Array<number>(d).fill(0);
    const components = Math.min(this.settings.components, Math.floor(embs.length / TEXTS_PER_COMPONENT));
    if (this.settings.center && embs.length >= TEXTS_PER_COMPONENT) {
      for (const v of embs) for (let i = 0; i < d; i++) mean[i]! += v[i]!;
      for (let i = 0; i < d; i++) mean[i]! /= embs.length;
    }
    const pcs = principalComponents(
      embs.map((v) => v.map((x, i) => x - mean[i]!)),
      d,
      components,
    );
    // Rounded so the stored state is compact; the same rounded values are used from now on.
    const round = (x: number) => Math.round(x * 1e7) / 1e7;
    this.setState({ ...this.state!, mean: mean.map(round), pcs: pcs.map((p) => p.map(round)) });
  }

  private setState(s: FittedState | undefined): void {
    this.state = s;
    this.stateIndex = new Map((s?.words ?? []).map((w, i) => [w, i]));
    this.weightCache.clear();
    this.fp = this.computeFingerprint();
  }

  exportState(): JsonValue {
    return (this.state ?? null) as unknown as JsonValue;
  }

  importState(state: JsonValue): void {
    if (state === null) {
      this.setState(undefined);
      return;
    }
    const s = state as unknown as FittedState;
    const ok =
      typeof s === 'object' &&
      s.version === 2 &&
      Array.isArray(s.words) &&
      Array.isArray(s.counts) &&
      Array.isArray(s.docFreq) &&
      s.counts.length === s.words.length &&
      s.docFreq.length === s.words.length &&
      Array.isArray(s.mean) &&
      s.mean.length === this.dims &&
      Array.isArray(s.pcs) &&
      s.pcs.every((p) => Array.isArray(p) && p.length === this.dims);
    if (!ok) {
      throw new QuiverError(
        'INVALID_CONFIG',
        'stored static-embedder state is not readable (refit the collection)',
        {
          location: { field: 'embedder-state' },
        },
      );
    }
    this.setState(s);
  }

  stats(): EmbedStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    // The word-vector table is shared process-wide; nothing to release per embedder.
  }
}

/**
 * Top-k eigenvectors of XᵀX (X = rows) by power iteration with deflation, on the d×d scatter
 * matrix so that k components cost one pass over the rows.
 */
export function principalComponents(rows: Float32Array[], dims: number, k: number): number[][] {
  const pcs: number[][] = [];
  if (rows.length === 0 || k <= 0) return pcs;
  const scatter = new Float64Array(dims * dims);
  for (const r of rows) {
    for (let i = 0; i < dims; i++) {
      const ri = r[i]!;
      if (ri === 0) continue;
      const off = i * dims;
      for (let j = 0; j < dims; j++) scatter[off + j]! += ri * r[j]!;
    }
  }
  for (let c = 0; c < Math.min(k, dims); c++) {
    let v = Array.from({ length: dims }, (_, i) => Math.sin(i + 1 + c) + 0.1);
    for (let iter = 0; iter < 200; iter++) {
      const next = new Array<number>(dims).fill(0);
      for (let i = 0; i < dims; i++) {
        let s = 0;
        const off = i * dims;
        for (let j = 0; j < dims; j++) s += scatter[off + j]! * v[j]!;
        next[i] = s;
      }
      // Keep the iterate orthogonal to the components already found (Gram–Schmidt deflation).
      for (const p of pcs) {
        const d = p.reduce((s, pi, i) => s + pi * next[i]!, 0);
        for (let i = 0; i < dims; i++) next[i]! -= d * p[i]!;
      }
      const n = Math.sqrt(next.reduce((s, x) => s + x * x, 0));
      if (n === 0) break;
      const moved = next.reduce((s, x, i) => s + Math.abs(x / n - v[i]!), 0);
      v = next.map((x) => x / n);
      if (moved < 1e-10) break;
    }
    pcs.push(v);
  }
  return pcs;
}

export async function createStaticEmbedder(name: string, opts: StaticOptions = {}): Promise<StaticEmbedder> {
  const { vectorsPath, ...overrides } = opts;
  const settings: StaticSettings = { ...DEFAULT_STATIC_SETTINGS };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) Object.assign(settings, { [k]: v });
  if (name === 'static:glove-100' || name === 'glove-100') {
    return new StaticEmbedder('static:glove-100', await loadWordVectors('glove-100'), settings);
  }
  if (name === 'static:file' || name.startsWith('static:file:')) {
    const path = vectorsPath ?? name.slice('static:file:'.length);
    if (!path) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        'static:file needs a vectors path (static:file:<path> or vectorsPath)',
        {
          location: { field: 'model' },
        },
      );
    }
    // The path is part of the id so that a collection built on this file can be reopened.
    return new StaticEmbedder(`static:file:${path}`, await loadWordVectors({ path }), settings);
  }
  throw new QuiverError(
    'MODEL_NOT_FOUND',
    `unknown static model "${name}" (use static:glove-100 or static:file:<path>)`,
    {
      location: { field: 'model' },
    },
  );
}
