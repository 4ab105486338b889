/** Small vector helpers shared by the providers, so every provider finishes vectors the same way. */
import { QuiverError } from '../errors.js';

/** Scale to unit L2 norm in place (a zero vector stays zero). */
export function l2normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

/** Refuse a Matryoshka size the vectors cannot honour, before any work is done. */
export function checkDimensions(dimensions: number | undefined, dims: number): void {
  if (dimensions === undefined) return;
  if (!Number.isInteger(dimensions) || dimensions < 1 || (dims > 0 && dimensions > dims)) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `dimensions must be an integer in 1..${dims}, got ${dimensions}`,
      {
        location: { field: 'dimensions' },
      },
    );
  }
}

/**
 * Matryoshka truncation then normalisation: keep the first `dimensions` values and re-normalise
 * (a truncated prefix of a unit vector is not unit any more), else normalise when the spec says so.
 */
export function finishVector(v: Float32Array, normalize: boolean, dimensions?: number): Float32Array {
  const truncated = dimensions !== undefined && dimensions < v.length;
  const out = truncated ? v.slice(0, dimensions) : v;
  return normalize || truncated ? l2normalize(out) : out;
}
