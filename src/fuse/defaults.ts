/**
 * The default hybrid fusion. Naive equal-weight RRF lets a weak retriever drag a strong one down
 * (SciFact: BM25 67.9 ⊕ GloVe 25 → ≈ 42 with RRF). A convex combination of min-max normalised
 * scores with the lexical side weighted higher keeps hybrid at or above its best input when the
 * dense side is weak, and still adds recall when it is strong. Measured in docs/quality.md.
 */
import type { FusionOptions } from '../types.js';

export const DEFAULT_FUSION: FusionOptions = {
  method: 'convex',
  normalization: 'minmax',
  weights: { lexical: 0.8, dense: 0.2 },
  candidates: 100,
};
