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

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export class SnippetSelector {
  constructor(
    private readonly analyzer: Analyzer,
    /** Inverse document frequency of an analyzed term in the collection. */
    private readonly idf: (term: string) => number,
    private readonly embedder?: Embedder,
  ) {}

  /** Stage 1 only: BM25 of each sentence (k1 = 1.2, b = 0.75 over sentence lengths). */
  coarse(query: string, sentences: string[]): number[] {
    const q = [...new Set(this.analyzer.analyze(query))];
    const analyzed = sentences.map((s) => this.analyzer.analyze(s));
    const avg = analyzed.reduce((a, t) => a + t.length, 0) / Math.max(1, analyzed.length);
    return analyzed.map((terms) => {
      const tf = new Map<string, number>();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      let s = 0;
      for (const t of q) {
        const f = tf.get(t);
        if (f) s += (this.idf(t) * f * 2.2) / (f + 1.2 * (0.25 + (0.75 * terms.length) / Math.max(1, avg)));
      }
      return s;
    });
  }

  /** Both stages: sentences ranked best first. */
  async rank(query: string, sentences: string[], opts: SnippetOptions = {}): Promise<RankedSentence[]> {
    const coarse = this.coarse(query, sentences);
    const order = coarse.map((s, i) => ({ i, s })).sort((a, b) => b.s - a.s || a.i - b.i);
    const keep = order.slice(0, opts.candidates ?? 6);
    const maxCoarse = Math.max(1e-9, ...keep.map((c) => c.s));
    const qTerms = [...new Set(this.analyzer.analyze(query))];
    let cos: number[] | undefined;
    if (this.embedder && keep.length > 1) {
      const [qv, ...sv] = await this.embedder.embed([query, ...keep.map((c) => sentences[c.i]!)], { role: 'symmetric' });
      cos = sv.map((v) => dot(qv!, v));
    }
    const fine = keep.map((c, j) => {
      const terms = new Set(this.analyzer.analyze(sentences[c.i]!));
      const weightAll = qTerms.reduce((a, t) => a + this.idf(t), 0) || 1;
      const coverage = qTerms.reduce((a, t) => a + (terms.has(t) ? this.idf(t) : 0), 0) / weightAll;
      const score = c.s / maxCoarse + 0.5 * coverage + (cos ? 0.5 * cos[j]! : 0);
      return { index: c.i, coarse: c.s, score };
    });
    fine.sort((a, b) => b.score - a.score || a.index - b.index);
    const rest = order.slice(keep.length).map((c) => ({ index: c.i, coarse: c.s, score: -Infinity }));
    return [...fine, ...rest].map((r) => ({ ...r, start: 0, end: 0 }));
  }

  /** A snippet for one document text. */
  async snippet(query: string, text: string, opts: SnippetOptions = {}, language = 'en'): Promise<Snippet> {
    const spans = splitSentences(text, language);
    if (spans.length === 0) return { text: '', html: '', sentences: [] };
    const sentences = spans.map((s) => text.slice(s.start, s.end));
    const ranked = await this.rank(query, sentences, opts);
    const maxChars = opts.maxChars ?? 300;
    const maxSentences = opts.maxSentences ?? 3;
    const picked: number[] = [];
    let used = 0;
    for (const r of ranked) {
      if (picked.length >= maxSentences || r.score === -Infinity) break;
      const len = sentences[r.index]!.length;
      if (picked.length > 0 && used + len > maxChars) continue;
      picked.push(r.index);
      used += len;
    }
    if (picked.length === 0) picked.push(0);
    picked.sort((a, b) => a - b);
    const parts = picked.map((i) => clip(sentences[i]!, maxChars));
    const joined = picked.map((i, j) => (j > 0 && i !== picked[j - 1]! + 1 ? ' … ' : j > 0 ? ' ' : '') + parts[j]).join('');
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
      out += forms.length > 0 && forms.every((f) => q.has(f)) ? `<mark>${escapeHtml(word)}</mark>` : escapeHtml(word);
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
