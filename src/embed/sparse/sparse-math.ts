/**
 * Sparse-vector arithmetic shared by the encoders and the sparse index: SPLADE pooling of MLM
 * logits, top-k pruning, dot product.
 */
import type { SparseVector } from './sparse-encoder.js';

/**
 * SPLADE pooling of one sequence of a [batch, len, vocab] logits tensor:
 * w_j = max over the `real` (non-padding, padding is on the right) tokens i of log(1 + ReLU(logit_ij)).
 * Because log1p∘ReLU is monotone, that is log1p(ReLU(max_i logit_ij)): one max per column, one
 * log per column. Zero weights (no positive logit) stay 0.
 */
export function spladePool(
  logits: Float32Array,
  seq: number,
  len: number,
  vocab: number,
  real: number,
): Float64Array {
  const best = new Float32Array(vocab); // starts at 0 = ReLU's floor
  const base = seq * len * vocab;
  for (let t = 0; t < real; t++) {
    const row = base + t * vocab;
    for (let j = 0; j < vocab; j++) {
      const x = logits[row + j]!;
      if (x > best[j]!) best[j] = x;
    }
  }
  const out = new Float64Array(vocab);
  for (let j = 0; j < vocab; j++) if (best[j]! > 0) out[j] = Math.log1p(best[j]!);
  return out;
}

/** term → weight entries, heaviest first (ties by term, so the order is deterministic). */
export function sortedEntries(v: SparseVector): [string, number][] {
  return Object.entries(v).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * The k heaviest terms of `v` (ties broken by term). `k` ≤ 0 or not finite keeps every term:
 * that is how configurations say "no pruning". The result lists terms heaviest first.
 */
export function pruneTopK(v: SparseVector, k: number): SparseVector {
  const entries = sortedEntries(v);
  const keep = Number.isFinite(k) && k > 0 ? entries.slice(0, Math.floor(k)) : entries;
  const out: SparseVector = {};
  for (const [term, w] of keep) out[term] = w;
  return out;
}

/** Σ over shared terms of a[t]·b[t], iterating the smaller vector. */
export function dotSparse(a: SparseVector, b: SparseVector): number {
  let small = a;
  let large = b;
  // Object.keys is O(n); comparing sizes first keeps the loop on the shorter side.
  if (Object.keys(a).length > Object.keys(b).length) {
    small = b;
    large = a;
  }
  let sum = 0;
  for (const term in small) {
    const w = large[term];
    if (w !== undefined) sum += small[term]! * w;
  }
  return sum;
}

/** Number of terms with a non-zero weight. */
export function sparseSize(v: SparseVector): number {
  return Object.keys(v).length;
}
