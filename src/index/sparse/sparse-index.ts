/**
 * A sparse index scores passages against a sparse query vector (term → weight) by dot product:
 *   score(p) = Σ_t  q[t] · d_p[t]
 * Learned-sparse encoders (SPLADE and kin) produce such vectors; users may also supply their own.
 * Implementation: the in-memory inverted index (./inverted-sparse.ts), on the same postings and
 * top-k machinery as BM25 (../inverted/term-at-a-time.ts). Every implementation passes
 * ./sparse-index.conformance.ts.
 */
import type { SparseVector } from '../../embed/sparse/sparse-encoder.js';
import type { LexicalSearchOptions, ScoredKey } from '../lexical/lexical-index.js';

export type { SparseVector } from '../../embed/sparse/sparse-encoder.js';

export interface SparseItem {
  /** Passage key. */
  key: number;
  vector: SparseVector;
}

export interface SparseIndex {
  /** Upsert semantics per passage key; an empty vector removes the key. */
  upsert(items: SparseItem[]): Promise<void>;
  remove(keys: number[]): Promise<void>;
  /** Top-k by dot product; only passages sharing at least one term with the query are returned. */
  search(query: SparseVector, k: number, opts?: LexicalSearchOptions): Promise<ScoredKey[]>;
  size(): number;
}
