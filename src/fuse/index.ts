/**
 * Fusion methods behind one function, `fuse(lists, opts)`, dispatching on `opts.method`.
 *
 *   rrf     Σ w · 1/(k + rank), k = `rrfK` (default 60). Scores are ignored.
 *   convex  Σ ŵ · norm(score) with ŵ the weights rescaled to sum to 1 and `normalization` one of
 *           minmax (default), zscore, rank (see ./normalize.ts).
 *   dbsf    Σ w · dbsf(score): Qdrant's distribution-based score fusion (mean ± 3σ per list).
 *
 * Weights are looked up by retriever name, then by its family ("dense:title" → "dense"), and
 * default to 1. A candidate missing from a list gets nothing from it — that list's floor, 0 after
 * normalisation — never NaN (LanceDB's hybrid search produced NaN there). A key listed twice in one
 * list counts once, at its best rank. Every FusedHit carries, per retriever that returned it, the
 * rank, raw score and the normalised value fusion used (for rrf: 1/(k + rank)), for `explain`.
 * Ties are broken by key ascending, so results are deterministic.
 */
import { QuiverError } from '../errors.js';
import type { FusionOptions, RetrieverExplain } from '../types.js';
import type { FusedHit, FusionMethodImpl, RankedList } from './fusion.js';
import { normalize } from './normalize.js';

export type { FusedHit, FusionMethodImpl, RankedList } from './fusion.js';
export { DEFAULT_FUSION } from './defaults.js';
export { normalize } from './normalize.js';

/** The weight of a retriever: exact name, then its family before ':', then 1. */
export function weightOf(opts: FusionOptions, name: string): number {
  const w = opts.weights?.[name] ?? opts.weights?.[name.split(':')[0]!];
  return typeof w === 'number' && Number.isFinite(w) ? w : 1;
}

/** Each list's hits with later duplicates of a key removed (the first is the best-ranked). */
function dedupe(list: RankedList): RankedList {
  const seen = new Set<number>();
  let dup = false;
  for (const h of list.hits) {
    if (seen.has(h.key)) {
      dup = true;
      break;
    }
    seen.add(h.key);
  }
  if (!dup) return list;
  seen.clear();
  return { name: list.name, hits: list.hits.filter((h) => !seen.has(h.key) && (seen.add(h.key), true)) };
}

/**
 * Sum per-list contributions: `values[li][i]` is the normalised value of hit i of list li, and
 * `weight(li)` its multiplier.
 */
function combine(lists: RankedList[], values: number[][], weight: (li: number) => number): FusedHit[] {
  const byKey = new Map<number, FusedHit>();
  lists.forEach((list, li) => {
    const w = weight(li);
    list.hits.forEach((h, i) => {
      let f = byKey.get(h.key);
      if (!f) byKey.set(h.key, (f = { key: h.key, score: 0, retrievers: {} }));
      const v = values[li]![i]!;
      const ex: RetrieverExplain = { rank: i + 1, score: h.score, normalized: v };
      f.retrievers[list.name] = ex;
      f.score += w * v;
    });
  });
  return [...byKey.values()].sort((a, b) => b.score - a.score || a.key - b.key);
}

export const rrf: FusionMethodImpl = {
  name: 'rrf',
  fuse(input, opts) {
    const lists = input.map(dedupe);
    const k = opts.rrfK ?? 60;
    return combine(
      lists,
      lists.map((l) => l.hits.map((_, i) => 1 / (k + i + 1))),
      (li) => weightOf(opts, lists[li]!.name),
    );
  },
};

export const convex: FusionMethodImpl = {
  name: 'convex',
  fuse(input, opts) {
    const lists = input.map(dedupe);
    const how = opts.normalization ?? 'minmax';
    const weights = lists.map((l) => Math.max(0, weightOf(opts, l.name)));
    const total = weights.reduce((s, w) => s + w, 0);
    return combine(
      lists,
      lists.map((l) =>
        normalize(
          l.hits.map((h) => h.score),
          how,
        ),
      ),
      (li) => (total > 0 ? weights[li]! / total : 1 / lists.length),
    );
  },
};

export const dbsf: FusionMethodImpl = {
  name: 'dbsf',
  fuse(input, opts) {
    const lists = input.map(dedupe);
    return combine(
      lists,
      lists.map((l) =>
        normalize(
          l.hits.map((h) => h.score),
          'dbsf',
        ),
      ),
      (li) => weightOf(opts, lists[li]!.name),
    );
  },
};

export const FUSION_METHODS: Record<string, FusionMethodImpl> = { rrf, convex, dbsf };

/** Fuse ranked lists; `opts.method` picks the method (default convex). */
export function fuse(lists: RankedList[], opts: FusionOptions): FusedHit[] {
  const method = FUSION_METHODS[opts.method ?? 'convex'];
  if (!method) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `unknown fusion method "${String(opts.method)}" (rrf, convex or dbsf)`,
      {
        location: { field: 'fusion.method' },
      },
    );
  }
  return method.fuse(lists, opts);
}
