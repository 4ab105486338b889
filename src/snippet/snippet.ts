/**
 * Query-aware snippets in two stages, after Efficient-DeepQSE:
 *   1. coarse — every sentence of a result is scored cheaply against the query (BM25 over the
 *      sentence with the collection's idf), and the best few are kept as candidates;
 *   2. fine — candidates are re-scored jointly with the query using interaction features (the
 *      coarse score, the share of distinct query terms covered, and, when the collection has an
 *      embedder, query–sentence cosine), and 1–3 sentences are composed within a character budget,
 *      in document order, with the query's terms highlighted.
 * Sentence spans come from the same splitter the chunker uses, so they are stable per document.
 */
import type { Analyzer } from '../analyze/analyzer.js';
import type { Embedder } from '../embed/embedder.js';
import { splitSentences } from '../ingest/chunker.js';
import type { Span } from '../ingest/chunker.js';

export interface SnippetOptions {
  maxChars?: number;
  maxSentences?: number;
  /** Candidates kept by the coarse stage. */
  candidates?: number;
}

export interface RankedSentence {
  index: number;
  start: number;
  end: number;
  coarse: number;
  score: number;
}

export interface Snippet {
  text: string;
  html: string;
  sentences: number[];
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * A passage's sentences as both stages need them: character spans and analyzed terms as ids into
 * the selector's vocabulary (sentence i's terms are terms[offsets[i] .. offsets[i + 1])).
 */
export interface AnalyzedSentences {
  spans: Span[];
  offsets: Int32Array;
  terms: Int32Array;
  /** Length of the text analyzed: a cached entry for a different text is never used. */
  textLength: number;
}

/** Passages whose analyzed sentences are kept (≈ 4 bytes per token: ≈ 16 MB for 20k abstracts). */
export const SENTENCE_CACHE_PASSAGES = 20_000;

export class SnippetSelector {
  private readonly vocab = new Map<string, number>();
  private readonly words: string[] = [];
  /**
   * Sentence cache by passage key (Map order = least recently used first). Filled at index time
   * (`remember`) while it has room and on first use otherwise, so query time skips sentence
   * splitting and analysis — the bulk of a snippet's cost.
   */
  private readonly cache = new Map<number, AnalyzedSentences>();

  constructor(
    private readonly analyzer: Analyzer,
    /** Inverse document frequency of an analyzed term in the collection. */
    private readonly idf: (term: string) => number,
    private readonly embedder?: Embedder,
    private readonly capacity = SENTENCE_CACHE_PASSAGES,
  ) {}

  private termId(t: string): number {
    let id = this.vocab.get(t);
    if (id === undefined) {
      id = this.words.length;
      this.words.push(t);
      this.vocab.set(t, id);
    }
    return id;
  }

  /** Split and analyze a text (uncached). */
  analyzeSentences(text: string, language = 'en'): AnalyzedSentences {
    const spans = splitSentences(text, language);
    const offsets = new Int32Array(spans.length + 1);
    const ids: number[] = [];
    spans.forEach((sp, i) => {
      for (const t of this.analyzer.analyze(text.slice(sp.start, sp.end))) ids.push(this.termId(t));
      offsets[i + 1] = ids.length;
    });
    return { spans, offsets, terms: Int32Array.from(ids), textLength: text.length };
  }

  /** Index time: cache a passage's analyzed sentences while the cache has room. */
  remember(key: number, text: string, language = 'en'): void {
    if (this.cache.size < this.capacity) this.cache.set(key, this.analyzeSentences(text, language));
  }

  /** Drop cached passages (deleted or rewritten). */
  forget(keys: Iterable<number>): void {
    for (const k of keys) this.cache.delete(k);
  }

  get cachedPassages(): number {
    return this.cache.size;
  }

  private sentencesOf(text: string, language: string, key: number | undefined): AnalyzedSentences {
    if (key === undefined) return this.analyzeSentences(text, language);
    const hit = this.cache.get(key);
    if (hit && hit.textLength === text.length) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const fresh = this.analyzeSentences(text, language);
    this.cache.delete(key);
    this.cache.set(key, fresh);
    if (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    return fresh;
  }

  private queryIds(query: string): number[] {
    const ids = new Set<number>();
    for (const t of this.analyzer.analyze(query)) {
      const id = this.vocab.get(t);
      if (id !== undefined) ids.add(id);
    }
    return [...ids];
  }

  /** Stage 1: BM25 of each sentence (k1 = 1.2, b = 0.75 over sentence lengths). */
  private coarseScores(q: number[], a: AnalyzedSentences): number[] {
    const n = a.spans.length;
    const avg = a.terms.length / Math.max(1, n);
    const idf = q.map((id) => this.idf(this.words[id]!));
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const from = a.offsets[i]!;
      const to = a.offsets[i + 1]!;
      const len = to - from;
      let s = 0;
      for (let j = 0; j < q.length; j++) {
        let f = 0;
        for (let p = from; p < to; p++) if (a.terms[p] === q[j]) f++;
        if (f) s += (idf[j]! * f * 2.2) / (f + 1.2 * (0.25 + (0.75 * len) / Math.max(1, avg)));
      }
      out.push(s);
    }
    return out;
  }

  /** Given sentences analyzed as they are (no splitting). */
  private fromSentences(sentences: string[]): AnalyzedSentences {
    const offsets = new Int32Array(sentences.length + 1);
    const ids: number[] = [];
    sentences.forEach((s, i) => {
      for (const t of this.analyzer.analyze(s)) ids.push(this.termId(t));
      offsets[i + 1] = ids.length;
    });
    return {
      spans: sentences.map(() => ({ start: 0, end: 0 })),
      offsets,
      terms: Int32Array.from(ids),
      textLength: -1,
    };
  }

  /** Stage 1 only, for a list of sentences (the similarity reranker's windows, baselines). */
  coarse(query: string, sentences: string[]): number[] {
    const a = this.fromSentences(sentences);
    return this.coarseScores(this.queryIds(query), a);
  }

  /** Both stages over a list of sentences: best first. */
  async rank(query: string, sentences: string[], opts: SnippetOptions = {}): Promise<RankedSentence[]> {
    return this.rankAnalyzed(query, this.fromSentences(sentences), (i) => sentences[i]!, opts);
  }

  private async rankAnalyzed(
    query: string,
    a: AnalyzedSentences,
    sentence: (i: number) => string,
    opts: SnippetOptions,
  ): Promise<RankedSentence[]> {
    const q = this.queryIds(query);
    const coarse = this.coarseScores(q, a);
    const order = coarse.map((s, i) => ({ i, s })).sort((x, y) => y.s - x.s || x.i - y.i);
    const keep = order.slice(0, opts.candidates ?? 6);
    const maxCoarse = Math.max(1e-9, ...keep.map((c) => c.s));
    let cos: number[] | undefined;
    if (this.embedder && keep.length > 1) {
      const [qv, ...sv] = await this.embedder.embed([query, ...keep.map((c) => sentence(c.i))], {
        role: 'symmetric',
      });
      cos = sv.map((v) => dot(qv!, v));
    }
    // Coverage: the idf-weighted share of the query's (distinct, analyzed) terms in the sentence.
    const qAll = [...new Set(this.analyzer.analyze(query))];
    const weightAll = qAll.reduce((acc, t) => acc + this.idf(t), 0) || 1;
    const fine = keep.map((c, j) => {
      const terms = new Set(a.terms.subarray(a.offsets[c.i]!, a.offsets[c.i + 1]!));
      const covered = q.reduce((acc, id) => acc + (terms.has(id) ? this.idf(this.words[id]!) : 0), 0);
      const score = c.s / maxCoarse + 0.5 * (covered / weightAll) + (cos ? 0.5 * cos[j]! : 0);
      return { index: c.i, coarse: c.s, score };
    });
    fine.sort((x, y) => y.score - x.score || x.index - y.index);
    const rest = order.slice(keep.length).map((c) => ({ index: c.i, coarse: c.s, score: -Infinity }));
    return [...fine, ...rest].map((r) => ({
      ...r,
      start: a.spans[r.index]!.start,
      end: a.spans[r.index]!.end,
    }));
  }

  /**
   * A snippet for one text. With `cacheKey` (the passage key) the analyzed sentences come from
   * and go to the sentence cache.
   */
  async snippet(
    query: string,
    text: string,
    opts: SnippetOptions = {},
    language = 'en',
    cacheKey?: number,
  ): Promise<Snippet> {
    const a = this.sentencesOf(text, language, cacheKey);
    if (a.spans.length === 0) return { text: '', html: '', sentences: [] };
    const sentenceAt = (i: number) => text.slice(a.spans[i]!.start, a.spans[i]!.end);
    const ranked = await this.rankAnalyzed(query, a, sentenceAt, opts);
    const maxChars = opts.maxChars ?? 300;
    const maxSentences = opts.maxSentences ?? 3;
    const picked: number[] = [];
    let used = 0;
    for (const r of ranked) {
      if (picked.length >= maxSentences || r.score === -Infinity) break;
      const len = a.spans[r.index]!.end - a.spans[r.index]!.start;
      if (picked.length > 0 && used + len > maxChars) continue;
      picked.push(r.index);
      used += len;
    }
    if (picked.length === 0) picked.push(0);
    picked.sort((x, y) => x - y);
    const parts = picked.map((i) => clip(sentenceAt(i), maxChars));
    const joined = picked
      .map((i, j) => (j > 0 && i !== picked[j - 1]! + 1 ? ' … ' : j > 0 ? ' ' : '') + parts[j])
      .join('');
    return { text: joined, html: this.highlight(joined, query), sentences: picked };
  }

  /** Escape, then wrap every word whose analyzed form is a query term in <mark>. */
  highlight(text: string, query: string): string {
    const q = new Set(this.analyzer.analyze(query));
    let out = '';
    let last = 0;
    for (const m of text.matchAll(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu)) {
      const word = m[0];
      const at = m.index;
      out += escapeHtml(text.slice(last, at));
      const forms = this.analyzer.analyze(word);
      out +=
        forms.length > 0 && forms.every((f) => q.has(f))
          ? `<mark>${escapeHtml(word)}</mark>`
          : escapeHtml(word);
      last = at + word.length;
    }
    return out + escapeHtml(text.slice(last));
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** idf from document frequencies, Lucene-style, with unseen terms treated as rare. */
export function idfFrom(df: Map<string, number>, n: number): (term: string) => number {
  return (t) => Math.log(1 + (n - (df.get(t) ?? 0) + 0.5) / ((df.get(t) ?? 0) + 0.5));
}
