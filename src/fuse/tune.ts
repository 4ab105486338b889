/**
 * Grid search of fusion settings on a training/dev split (never test): each query's retriever lists
 * are fixed, only the fusion varies, and nDCG@10 is measured with trec_eval semantics (../eval).
 * The table is sorted best first; ties keep grid order, so the result is deterministic.
 */
import { QuiverError } from '../errors.js';
import type { Qrels, Run } from '../eval/metrics.js';
import { evaluate } from '../eval/metrics.js';
import type { FusionOptions } from '../types.js';
import type { RankedList } from './fusion.js';
import { fuse } from './index.js';

export interface TuneOptions {
  /** Map a key in the lists to the document id used by the qrels (default String(key)). */
  idOf?: (key: number) => string;
  grid?: FusionOptions[];
  /** Fused hits kept per query before scoring (default 100). */
  depth?: number;
}

/** The lexical weights tried; the dense weight is 1 − w. */
const LEXICAL_WEIGHTS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1];

/** methods × normalisations × (lexical, dense) weights, for the usual two-retriever hybrid. */
export function defaultGrid(): FusionOptions[] {
  const pairs = LEXICAL_WEIGHTS.map((w) => ({ lexical: w, dense: +(1 - w).toFixed(2) }));
  const grid: FusionOptions[] = [];
  for (const weights of pairs) grid.push({ method: 'dbsf', weights });
  for (const normalization of ['minmax', 'zscore', 'rank'] as const) {
    for (const weights of pairs) grid.push({ method: 'convex', normalization, weights });
  }
  for (const rrfK of [10, 60]) for (const weights of pairs) grid.push({ method: 'rrf', rrfK, weights });
  return grid;
}

/** The sparse weights tried when the lists include learned-sparse ones ("sparse:<field>"). */
const SPARSE_WEIGHTS = [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1];

/** defaultGrid() × a weight for the "sparse" family (0 = sparse left out), for three-way hybrids. */
export function sparseGrid(): FusionOptions[] {
  return defaultGrid().flatMap((o) =>
    SPARSE_WEIGHTS.map((sparse) => ({ ...o, weights: { ...o.weights, sparse } })),
  );
}

/** Mean nDCG@10 (a fraction) of one fusion setting over the queries. */
export function scoreFusion(
  perQuery: Map<string, RankedList[]>,
  qrels: Qrels,
  options: FusionOptions,
  idOf: (k: number) => string = String,
  depth = 100,
): number {
  const run: Run = {};
  for (const [qid, lists] of perQuery) {
    const row: Record<string, number> = {};
    // Scores by fused rank, so trec_eval's re-sort keeps fusion's own order (including its ties).
    fuse(lists, options)
      .slice(0, depth)
      .forEach((h, i) => {
        const id = idOf(h.key);
        if (!(id in row)) row[id] = depth - i;
      });
    run[qid] = row;
  }
  return evaluate(qrels, run).aggregate['ndcg@10'] ?? 0;
}

export function tuneFusion(
  perQuery: Map<string, RankedList[]>,
  qrels: Qrels,
  gridOrOptions: FusionOptions[] | TuneOptions = {},
): { best: FusionOptions; table: { options: FusionOptions; ndcg10: number }[] } {
  const opts: TuneOptions = Array.isArray(gridOrOptions) ? { grid: gridOrOptions } : gridOrOptions;
  const idOf = opts.idOf ?? String;
  const hasSparse = [...perQuery.values()].some((lists) =>
    lists.some((l) => l.name.split(':')[0] === 'sparse'),
  );
  const grid = opts.grid ?? (hasSparse ? sparseGrid() : defaultGrid());
  if (grid.length === 0) {
    throw new QuiverError('INVALID_ARGUMENT', 'tuneFusion needs at least one setting in the grid', {
      location: { field: 'grid' },
    });
  }
  const table = grid
    .map((options) => ({ options, ndcg10: scoreFusion(perQuery, qrels, options, idOf, opts.depth ?? 100) }))
    .sort((a, b) => b.ndcg10 - a.ndcg10);
  return { best: { ...table[0]!.options, candidates: opts.depth ?? 100 }, table };
}
