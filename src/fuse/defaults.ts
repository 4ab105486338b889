/**
 * The default hybrid fusion. Naive equal-weight RRF lets a weak retriever drag a strong one down
 * (SciFact test: BM25 67.89 ⊕ GloVe-SIF 24.85 → 55.99 with RRF k=60). The default is the setting
 * `quiver tune-fusion` picked on SciFact's *train* queries (never test): a convex combination of
 * min-max normalised scores with the lexical side dominant. It keeps hybrid within noise of its
 * best input when the dense side is weak (test: 67.71 vs 67.89), and a strong dense model can be
 * given more weight per collection or per query (`fusion.weights`), or tuned on a dev split.
 * Numbers and commands: docs/quality.md.
 */
import type { FusionOptions } from '../types.js';

export const DEFAULT_FUSION: FusionOptions = {
  method: 'convex',
  normalization: 'minmax',
  weights: { lexical: 0.95, dense: 0.05 },
  candidates: 100,
};
