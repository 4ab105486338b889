/**
 * Remote rerankers over HTTP: Cohere/Jina-style `POST /v1/rerank {model, query, documents}` →
 * `{results: [{index, relevance_score}]}` and TEI's `POST /rerank {query, texts}` → `[{index, score}]`.
 */
import { QuiverError } from '../errors.js';
import type { RerankCandidate, Reranker } from './reranker.js';

export interface RemoteRerankOptions {
  url: string;
  apiKey?: string;
  model?: string;
  timeoutMs?: number;
}

export class RemoteReranker implements Reranker {
  readonly name = 'remote';
  constructor(private readonly opts: RemoteRerankOptions) {}

  async rerank(query: string, candidates: RerankCandidate[]): Promise<number[]> {
    if (candidates.length === 0) return [];
    const tei = /\/rerank$/.test(this.opts.url) && !/\/v1\/rerank$/.test(this.opts.url);
    const body = tei
      ? { query, texts: candidates.map((c) => c.text), raw_scores: false }
      : { model: this.opts.model, query, documents: candidates.map((c) => c.text), top_n: candidates.length };
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new QuiverError('REMOTE_ERROR', `${this.opts.url}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok)
      throw new QuiverError('REMOTE_ERROR', `${this.opts.url} answered ${res.status}: ${text.slice(0, 200)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new QuiverError('REMOTE_ERROR', `${this.opts.url} returned invalid JSON`);
    }
    const items = (Array.isArray(json) ? json : (json as { results?: unknown[] }).results) as
      { index: number; score?: number; relevance_score?: number }[] | undefined;
    if (!Array.isArray(items))
      throw new QuiverError('REMOTE_ERROR', `${this.opts.url}: no results in the response`);
    const scores = candidates.map(() => -Infinity);
    for (const it of items) {
      const s = it.relevance_score ?? it.score;
      if (
        typeof it.index !== 'number' ||
        typeof s !== 'number' ||
        it.index < 0 ||
        it.index >= scores.length
      ) {
        throw new QuiverError(
          'REMOTE_ERROR',
          `${this.opts.url}: malformed result ${JSON.stringify(it).slice(0, 100)}`,
        );
      }
      scores[it.index] = s;
    }
    return scores;
  }
}
