/**
 * Score normalisers. Each maps one retriever's raw scores (best first) to comparable values so that
 * lists on different scales (BM25 in the tens, cosine in [−1, 1]) can be weighted against each
 * other. A candidate a retriever did not return gets 0 — the floor of every normaliser here — never
 * NaN. Non-finite raw scores (a retriever bug, or −Infinity for "no score") are treated as the
 * list's lowest finite score so one bad value cannot poison the whole list.
 *
 *   minmax  (s − min) / (max − min) ∈ [0, 1]; a list whose scores are all equal maps to 1 (being
 *           retrieved beats the floor).
 *   zscore  (s − min) / σ (population σ): z-scores shifted so the list's lowest score is 0, the
 *           floor a missing candidate gets. Differences are in σ units and not clamped (clamping
 *           at +3σ flattened BM25's outstanding top hits: −3 nDCG@10 on SciFact train); σ = 0 maps
 *           to 1.
 *   rank    1 − (rank − 1) / n: the best gets 1, the last 1/n; scores are ignored.
 *   dbsf    Qdrant's distribution-based normalisation (lib/segment/src/common/score_fusion.rs):
 *           (s − (mean − 3σ)) / (6σ) with the *sample* σ (n − 1), not clamped; a single score or
 *           σ = 0 maps to 0.5, as Qdrant does.
 */
import type { ScoreNormalization } from '../types.js';

export type Normalizer = ScoreNormalization | 'dbsf';

function sanitize(scores: number[]): number[] {
  if (scores.every(Number.isFinite)) return scores;
  const finite = scores.filter(Number.isFinite);
  const floor = finite.length ? Math.min(...finite) : 0;
  return scores.map((s) => (Number.isFinite(s) ? s : floor));
}

function mean(s: number[]): number {
  let t = 0;
  for (const x of s) t += x;
  return t / s.length;
}

function sumSquares(s: number[], m: number): number {
  let t = 0;
  for (const x of s) t += (x - m) ** 2;
  return t;
}

export function normalize(raw: number[], how: Normalizer): number[] {
  const n = raw.length;
  if (n === 0) return [];
  const scores = sanitize(raw);
  switch (how) {
    case 'minmax': {
      let max = -Infinity;
      let min = Infinity;
      for (const s of scores) {
        if (s > max) max = s;
        if (s < min) min = s;
      }
      return max === min ? scores.map(() => 1) : scores.map((s) => (s - min) / (max - min));
    }
    case 'zscore': {
      const m = mean(scores);
      const sd = Math.sqrt(sumSquares(scores, m) / n);
      if (!(sd > 0)) return scores.map(() => 1);
      const min = Math.min(...scores);
      return scores.map((s) => (s - min) / sd);
    }
    case 'rank':
      return scores.map((_, i) => 1 - i / n);
    case 'dbsf': {
      if (n < 2) return [0.5];
      const m = mean(scores);
      const sd = Math.sqrt(sumSquares(scores, m) / (n - 1));
      if (!(sd > 0)) return scores.map(() => 0.5);
      const lo = m - 3 * sd;
      return scores.map((s) => (s - lo) / (6 * sd));
    }
  }
}
