/**
 * Score normalisers for convex fusion. Each maps one retriever's raw scores (best first) to
 * [0, 1]-ish values so that lists on different scales (BM25 in the tens, cosine in [−1, 1]) can be
 * weighted against each other. A candidate a retriever did not return gets 0 ("the floor"), never NaN.
 */
import type { ScoreNormalization } from '../types.js';

export function normalize(scores: number[], how: ScoreNormalization): number[] {
  const n = scores.length;
  if (n === 0) return [];
  switch (how) {
    case 'minmax': {
      const max = Math.max(...scores);
      const min = Math.min(...scores);
      return max === min ? scores.map(() => 1) : scores.map((s) => (s - min) / (max - min));
    }
    case 'zscore': {
      // Shifted so the list's mean maps to 0.5 and ±3σ to [0, 1] (clamped): comparable across lists.
      const mean = scores.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
      if (sd === 0) return scores.map(() => 1);
      return scores.map((s) => Math.min(1, Math.max(0, 0.5 + (s - mean) / (6 * sd))));
    }
    case 'rank':
      // Linear in rank: the best gets 1, the last 1/n.
      return scores.map((_, i) => 1 - i / n);
  }
}
