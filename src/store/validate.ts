/**
 * Document validation shared by every backend: a batch is checked whole before anything is
 * written, so a bad document never leaves a batch half-stored.
 */
import { QuiverError } from '../errors.js';
import type { JsonValue, QuiverDocument } from '../types.js';

export const MAX_ID_LENGTH = 512;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Path of the first value that JSON cannot hold faithfully (undefined, NaN, functions, Dates…). */
function firstNonJson(v: unknown, path: string, depth = 0): string | undefined {
  if (depth > 64) return path; // deeper than any sane metadata; also guards against cycles
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : path;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = firstNonJson(v[i], `${path}[${i}]`, depth + 1);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const bad = firstNonJson(x, `${path}.${k}`, depth + 1);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  return path;
}

/** Throws INVALID_DOCUMENT naming the field; `index` is the document's position in its batch. */
export function validateDocument(doc: unknown, index: number): asserts doc is QuiverDocument {
  const at = (field: string) => ({ location: { field }, details: { index } });
  if (!isPlainObject(doc))
    throw new QuiverError('INVALID_DOCUMENT', `document ${index} is not an object`, at(''));
  const { id, text, title, metadata } = doc;
  if (typeof id !== 'string' || id.length === 0) {
    throw new QuiverError('INVALID_DOCUMENT', `document ${index}: id must be a non-empty string`, at('id'));
  }
  if (id.length > MAX_ID_LENGTH) {
    throw new QuiverError(
      'INVALID_DOCUMENT',
      `document "${id.slice(0, 40)}…": id is longer than ${MAX_ID_LENGTH} characters`,
      at('id'),
    );
  }
  if (typeof text !== 'string') {
    throw new QuiverError('INVALID_DOCUMENT', `document "${id}": text must be a string`, at('text'));
  }
  if (title !== undefined && title !== null && typeof title !== 'string') {
    throw new QuiverError('INVALID_DOCUMENT', `document "${id}": title must be a string`, at('title'));
  }
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) {
      throw new QuiverError(
        'INVALID_DOCUMENT',
        `document "${id}": metadata must be a JSON object`,
        at('metadata'),
      );
    }
    const bad = firstNonJson(metadata, 'metadata');
    if (bad !== undefined) {
      throw new QuiverError('INVALID_DOCUMENT', `document "${id}": ${bad} is not a JSON value`, at(bad));
    }
  }
  const { sparse } = doc;
  if (sparse !== undefined && sparse !== null) {
    if (!isPlainObject(sparse)) {
      throw new QuiverError(
        'INVALID_DOCUMENT',
        `document "${id}": sparse must be an object of field name → {term: weight}`,
        at('sparse'),
      );
    }
    for (const [field, vector] of Object.entries(sparse)) {
      const bad = sparseVectorProblem(vector, `sparse.${field}`);
      if (bad) throw new QuiverError('INVALID_DOCUMENT', `document "${id}": ${bad.message}`, at(bad.path));
    }
  }
}

/** Most terms one sparse vector may hold (SPLADE documents have hundreds; this is a sanity bound). */
export const MAX_SPARSE_TERMS = 65_536;
/**
 * Nonzero sparse weights must lie in this range: scores accumulate in float32, where a product of
 * two tinier weights would vanish and a sum of larger ones would overflow.
 */
export const SPARSE_WEIGHT_RANGE = [1e-12, 1e12] as const;

/**
 * Why a value is not a sparse vector (term → weight), naming the path of the first bad part, or
 * undefined when it is one. Terms are non-empty strings; weights finite numbers, 0 (ignored) or
 * positive within SPARSE_WEIGHT_RANGE — learned-sparse weights (SPLADE's log(1 + ReLU)) are never
 * negative, and dot-product pruning relies on it.
 */
export function sparseVectorProblem(v: unknown, path: string): { path: string; message: string } | undefined {
  if (!isPlainObject(v)) return { path, message: `${path} must be an object of term → weight` };
  const entries = Object.entries(v);
  if (entries.length > MAX_SPARSE_TERMS)
    return { path, message: `${path} has ${entries.length} terms (max ${MAX_SPARSE_TERMS})` };
  const [lo, hi] = SPARSE_WEIGHT_RANGE;
  for (const [term, w] of entries) {
    const at = `${path}.${term}`;
    if (term.length === 0) return { path, message: `${path} has an empty term` };
    if (typeof w !== 'number' || !Number.isFinite(w))
      return { path: at, message: `${at} must be a finite number (got ${JSON.stringify(w) ?? String(w)})` };
    if (w < 0) return { path: at, message: `${at} is negative (${w}); sparse weights are ≥ 0` };
    if (w !== 0 && (w < lo || w > hi))
      return { path: at, message: `${at} = ${w} is outside [${lo}, ${hi}] (use 0 to leave a term out)` };
  }
  return undefined;
}

/** Throws INVALID_ARGUMENT naming the bad part when a query's sparse vector is malformed. */
export function validateSparseQuery(v: unknown, field = 'sparseQuery'): asserts v is Record<string, number> {
  const bad = sparseVectorProblem(v, field);
  if (bad) throw new QuiverError('INVALID_ARGUMENT', bad.message, { location: { field: bad.path } });
}

/** Validates every document (throwing on the first bad one) before the caller writes any. */
export function validateBatch(docs: unknown[]): QuiverDocument[] {
  if (!Array.isArray(docs)) throw new QuiverError('INVALID_DOCUMENT', 'documents must be an array');
  docs.forEach((d, i) => validateDocument(d, i));
  return docs as QuiverDocument[];
}

/** Throws INVALID_ARGUMENT when a meta value cannot round-trip through JSON. */
export function validateJsonValue(value: unknown, field: string): asserts value is JsonValue {
  const bad = value === undefined ? field : firstNonJson(value, field);
  if (bad !== undefined) {
    throw new QuiverError('INVALID_ARGUMENT', `${bad} is not a JSON value`, { location: { field: bad } });
  }
}

/** Float32Array ⇄ bytes, bit-exact, little-endian as stored by every backend. */
export function vectorToBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function bytesToVector(b: Uint8Array): Float32Array {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}
