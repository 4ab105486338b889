/**
 * The default hybrid fusion. Naive equal-weight RRF lets a weak retriever drag a strong one down
 * (SciFact test: BM25 67.89 ⊕ GloVe static vectors 36.52 → 53.46 with RRF k=60; with the older
 * 24.9 static model it was the 42-point trap). The default is what `quiver tune-fusion` picked on
 * SciFact's *train* queries (never test): distribution-based score fusion (each list scaled by its
 * mean ± 3σ, as Qdrant's DBSF) with the lexical side weighted 0.9. Train: 70.52 vs BM25 69.97;
 * test: 68.44 vs BM25 67.89 and dense 36.52 — above the better input. A strong dense model deserves
 * more weight: set `fusion.weights` per collection or query, or tune on a dev split.
 * Numbers and commands: docs/quality.md.
 */
import type { FusionOptions } from '../types.js';

export const DEFAULT_FUSION: FusionOptions = {
  method: 'dbsf',
  weights: { lexical: 0.9, dense: 0.1 },
  candidates: 100,
};
