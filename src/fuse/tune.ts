/**
 * Grid search of fusion settings on a training/dev split: each query's retriever lists are fixed,
 * only the fusion is varied, and nDCG@10 is measured with trec_eval semantics.
 */
import type { Qrels } from '../eval/metrics.js';
import { evaluate } from '../eval/metrics.js';
import type { FusionOptions } from '../types.js';
import type { RankedList } from './fusion.js';
import { fuse } from './index.js';

export interface TuneOptions {
  /** Map a key in the lists to the document id used by the qrels. */
  idOf?: (key: number) => string;
  grid?: FusionOptions[];
}

export function defaultGrid(): FusionOptions[] {
  const grid: FusionOptions[] = [];
  const ws = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1];
  for (const normalization of ['minmax', 'zscore', 'rank'] as const) {
    for (const w of ws) grid.push({ method: 'convex', normalization, weights: { lexical: w, dense: +(1 - w).toFixed(2) } });
  }
  for (const w of ws) grid.push({ method: 'dbsf', weights: { lexical: w, dense: +(1 - w).toFixed(2) } });
  for (const rrfK of [10, 60]) {
    for (const w of ws) grid.push({ method: 'rrf', rrfK, weights: { lexical: w, dense: +(1 - w).toFixed(2) } });
  }
  return grid;
}

export function scoreFusion(perQuery: Map<string, RankedList[]>, qrels: Qrels, options: FusionOptions, idOf: (k: number) => string): number {
  const run: Record<string, Record<string, number>> = {};
  for (const [qid, lists] of perQuery) {
    const row: Record<string, number> = {};
    for (const h of fuse(lists, options).slice(0, 100)) {
      const id = idOf(h.key);
      if (!(id in row)) row[id] = h.score;
    }
    run[qid] = row;
  }
  return evaluate(qrels, run).aggregate['ndcg_cut_10'] ?? 0;
}

export function tuneFusion(
  perQuery: Map<string, RankedList[]>,
  qrels: Qrels,
  opts: TuneOptions = {},
): { best: FusionOptions; table: { options: FusionOptions; ndcg10: number }[] } {
  const idOf = opts.idOf ?? ((k: number) => String(k));
  const table = (opts.grid ?? defaultGrid())
    .map((options) => ({ options, ndcg10: scoreFusion(perQuery, qrels, options, idOf) }))
    .sort((a, b) => b.ndcg10 - a.ndcg10);
  return { best: { ...table[0]!.options, candidates: 100 }, table };
}
