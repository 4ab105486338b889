/**
 * An offline reranker from signals a first-stage retriever does not combine: BM25 over the
 * passage's best sentence window (proximity — the query's terms together, not scattered), idf-
 * weighted coverage of the query's distinct terms, and, when an embedder is given, the cosine of
 * query and passage. Each signal is min-max normalised over the candidate list, then mixed.
 */
import type { Analyzer } from '../analyze/analyzer.js';
import type { Embedder } from '../embed/embedder.js';
import { splitSentences } from '../ingest/chunker.js';
import { SnippetSelector } from '../snippet/snippet.js';
import type { RerankCandidate, Reranker } from './reranker.js';

const minmax = (xs: number[]) => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return xs.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 0));
};

export class SimilarityReranker implements Reranker {
  readonly name = 'similarity';
  private readonly sentences: SnippetSelector;

  constructor(
    private readonly analyzer: Analyzer,
    private readonly idf: (term: string) => number,
    private readonly embedder?: Embedder,
    private readonly weights = { window: 1, coverage: 1, cosine: 0.5 },
  ) {
    this.sentences = new SnippetSelector(analyzer, idf);
  }

  async rerank(query: string, candidates: RerankCandidate[]): Promise<number[]> {
    if (candidates.length === 0) return [];
    const q = [...new Set(this.analyzer.analyze(query))];
    const qWeight = q.reduce((a, t) => a + this.idf(t), 0) || 1;
    const window: number[] = [];
    const coverage: number[] = [];
    for (const c of candidates) {
      const spans = splitSentences(c.text);
      const sents = spans.map((s) => c.text.slice(s.start, s.end));
      // Best window of two consecutive sentences.
      const windows = sents.length > 1 ? sents.slice(0, -1).map((s, i) => `${s} ${sents[i + 1]}`) : sents;
      const coarse = this.sentences.coarse(query, windows.length ? windows : [c.text]);
      window.push(Math.max(0, ...coarse));
      const terms = new Set(this.analyzer.analyze(c.text));
      coverage.push(q.reduce((a, t) => a + (terms.has(t) ? this.idf(t) : 0), 0) / qWeight);
    }
    let cosine: number[] = candidates.map(() => 0);
    if (this.embedder) {
      const [qv, ...dv] = await this.embedder.embed([query, ...candidates.map((c) => c.text)], {
        role: 'symmetric',
      });
      cosine = dv.map((v) => v.reduce((s, x, i) => s + x * qv![i]!, 0));
    }
    const [w, cov, cos] = [minmax(window), minmax(coverage), minmax(cosine)];
    return candidates.map(
      (_, i) => this.weights.window * w[i]! + this.weights.coverage * cov[i]! + this.weights.cosine * cos[i]!,
    );
  }
}
