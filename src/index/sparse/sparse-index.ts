/**
 * A sparse index scores passages against a sparse query vector (term → weight) by dot product:
 *   score(p) = Σ_t  q[t] · d_p[t]
 * Learned-sparse encoders (SPLADE and kin) produce such vectors; users may also supply their own.
 * Implementations: the in-memory inverted index (./inverted-sparse.ts), on the same postings and
 * top-k machinery as BM25 (../inverted/term-at-a-time.ts), and the Postgres one
 * (src/store/postgres/pg-sparse.ts). Every implementation passes ./sparse-index.conformance.ts.
 */
import type { SparseVector } from '../../embed/sparse/sparse-encoder.js';
import type { LexicalSearchOptions, ScoredKey } from '../lexical/lexical-index.js';

export type { SparseVector } from '../../embed/sparse/sparse-encoder.js';

export interface SparseItem {
  /** Passage key. */
  key: number;
  /**
   * The passage's document key, for indexes that filter by joining documents in a database
   * (default: key / MAX_CHUNKS_PER_DOC, the engine's passage-key layout).
   */
  docKey?: number;
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

/**
 * A sparse index kept in a database (Postgres), shared by every engine process: the engine
 * catches it up from a watermark after a crash (removing every passage of a changed document,
 * also ones it never knew), clears it when what produces the vectors changes, and counts its
 * vocabulary with a query.
 */
export interface DatabaseSparseIndex extends SparseIndex {
  removeDocuments(docKeys: number[]): Promise<void>;
  clear(): Promise<void>;
  vocabularySize(): Promise<number>;
  /** Passages with a vector, counted in the database (size() is this process's running count). */
  countPassages(): Promise<number>;
}
