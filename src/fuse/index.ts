/**
 * Fusion methods behind one function. All return FusedHits carrying each retriever's rank, raw
 * score and (where used) normalised score, for `explain`. Ties are broken by key so results are
 * deterministic.
 */
import type { FusionOptions, RetrieverExplain } from '../types.js';
import type { FusedHit, FusionMethodImpl, RankedList } from './fusion.js';
import { normalize } from './normalize.js';

export type { FusedHit, RankedList } from './fusion.js';
export { DEFAULT_FUSION } from './defaults.js';

function weightOf(opts: FusionOptions, name: string): number {
  const w = opts.weights?.[name] ?? (name.startsWith('dense:') ? opts.weights?.['dense'] : undefined);
  return w ?? 1;
}

function collect(lists: RankedList[], score: (list: RankedList, i: number, norm: number[]) => number, norms?: number[][]): FusedHit[] {
  const byKey = new Map<number, FusedHit>();
  lists.forEach((list, li) => {
    list.hits.forEach((h, i) => {
      let f = byKey.get(h.key);
      if (!f) byKey.set(h.key, (f = { key: h.key, score: 0, retrievers: {} }));
      const ex: RetrieverExplain = { rank: i + 1, score: h.score };
      if (norms) ex.normalized = norms[li]![i]!;
      f.retrievers[list.name] = ex;
      f.score += score(list, i, norms?.[li] ?? []);
    });
  });
  return [...byKey.values()].sort((a, b) => b.score - a.score || a.key - b.key);
}

export const rrf: FusionMethodImpl = {
  name: 'rrf',
  fuse(lists, opts) {
    const k = opts.rrfK ?? 60;
    return collect(lists, (list, i) => weightOf(opts, list.name) / (k + i + 1));
  },
};

export const convex: FusionMethodImpl = {
  name: 'convex',
  fuse(lists, opts) {
    const how = opts.normalization ?? 'minmax';
    const norms = lists.map((l) => normalize(l.hits.map((h) => h.score), how));
    const total = lists.reduce((s, l) => s + weightOf(opts, l.name), 0) || 1;
    return collect(lists, (list, i, norm) => (weightOf(opts, list.name) / total) * norm[i]!, norms);
  },
};

/**
 * Distribution-based score fusion (as Qdrant's DBSF): each list is scaled with its own
 * mean ± 3σ as the [0, 1] range, then the (weighted) scaled scores are summed.
 */
export const dbsf: FusionMethodImpl = {
  name: 'dbsf',
  fuse(lists, opts) {
    const norms = lists.map((l) => {
      const s = l.hits.map((h) => h.score);
      const n = s.length || 1;
      const mean = s.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
      const lo = mean - 3 * sd;
      const hi = mean + 3 * sd;
      return s.map((x) => (hi === lo ? 1 : (x - lo) / (hi - lo)));
    });
    return collect(lists, (list, i, norm) => weightOf(opts, list.name) * norm[i]!, norms);
  },
};

export const FUSION_METHODS: Record<string, FusionMethodImpl> = { rrf, convex, dbsf };

export function fuse(lists: RankedList[], opts: FusionOptions): FusedHit[] {
  const method = FUSION_METHODS[opts.method ?? 'convex'] ?? convex;
  return method.fuse(lists, opts);
}
