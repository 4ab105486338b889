/**
 * A vector index finds the nearest stored vectors to a query. Implementations: HNSW on usearch
 * (./usearch), exact search (./exact), pgvector (../../store/postgres). All pass
 * ./vector-index.conformance.ts. Scores are similarities: higher is better, whatever the metric
 * (cos: cosine; ip: inner product; l2: negative squared distance).
 */
import type { CompiledFilter } from '../../retrieve/filter.js';

export type VectorMetric = 'cos' | 'ip' | 'l2';

export interface VectorHit {
  key: number;
  score: number;
}

export interface VectorSearchOptions {
  filter?: CompiledFilter;
  /** HNSW search breadth; ignored by exact search. */
  ef?: number;
}

export interface VectorIndex {
  readonly dims: number;
  readonly metric: VectorMetric;
  /** Upsert semantics per key. */
  add(keys: number[], vectors: Float32Array[]): Promise<void>;
  remove(keys: number[]): Promise<void>;
  search(query: Float32Array, k: number, opts?: VectorSearchOptions): Promise<VectorHit[]>;
  size(): number;
}
