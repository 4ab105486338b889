/**
 * The default hybrid fusion.
 *
 * Naive equal-weight fusion lets a weak retriever drag a strong one down. SciFact test nDCG@10,
 * BM25 67.89 ⊕ static GloVe vectors 36.52, 100 candidates per retriever, equal weights:
 *   RRF k=60 54.13 · convex min-max 60.73 · convex z-score 64.41 · convex rank 54.09 · DBSF 62.76
 * (with the older 24.9 GloVe model, RRF was the 42-point trap).
 *
 * The default is what the grid search (./tune.ts defaultGrid: methods × normalisations × lexical
 * weight 0.5–1) picks on SciFact's *train* queries (809; test never used): distribution-based
 * score fusion (Qdrant's DBSF, mean ± 3σ per list) with lexical 0.9 / dense 0.1 — train 70.52 vs
 * BM25 69.97 and dense 41.72 (convex min-max 0.8/0.2 ties at 70.52, z-score 0.8/0.2 70.50; the
 * method matters less than the weighting). Test: 68.44, above both inputs (67.89 / 36.52).
 * Reproduce: /tmp scratch script in the evaluation owner's report; summary in docs/quality.md.
 *
 * These weights suit a weak dense model. A strong one (E5-family, ≈ BM25 or better on SciFact)
 * deserves more weight: set `fusion.weights` on the collection or per query, or run
 * `quiver tune-fusion` on a train/dev split.
 */
import type { FusionOptions } from '../types.js';

export const DEFAULT_FUSION: FusionOptions = {
  method: 'dbsf',
  weights: { lexical: 0.9, dense: 0.1 },
  candidates: 100,
};

/**
 * Learned-sparse lists ("sparse:<field>") get, unless a weight names them ("sparse" or
 * "sparse:<field>"), the lexical list's weight — not the implicit 1 of unnamed retrievers, which
 * under DBSF would outweigh BM25's 0.9. Why lexical's: a sparse field is a term-matching
 * retriever like BM25 (its DBSF-normalised scores behave alike), and learned-sparse models
 * (SPLADE family) are usually at least as good as BM25, so an equal say is the neutral prior;
 * giving it the weak dense model's 0.1 would waste a strong SPLADE, and more than lexical would
 * let unmeasured (e.g. user-supplied) vectors override the one retriever Quiver has measured.
 * No sparse weight is measured here (no SPLADE weights can be downloaded): tune per collection
 * with `fusion.weights.sparse` or `quiver tune-fusion`.
 */
export function withSparseDefault(opts: FusionOptions): FusionOptions {
  const w = opts.weights ?? {};
  if (Object.keys(w).some((k) => k === 'sparse' || k.startsWith('sparse:'))) return opts;
  const lexical = w['lexical'];
  return {
    ...opts,
    weights: { ...w, sparse: typeof lexical === 'number' && Number.isFinite(lexical) ? lexical : 1 },
  };
}
