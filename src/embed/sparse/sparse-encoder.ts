/**
 * Learned sparse retrieval (lexicon weighting, as in SPLADE / LexMAE): a text becomes a sparse
 * vector over the encoder's vocabulary, term → weight, scored against documents by dot product in
 * an inverted index (src/index/sparse). Terms are vocabulary tokens (e.g. "protein", "##ase") for
 * model encoders and any strings for vectors the user supplies with documents and queries.
 */

/** term → weight (weights > 0; zero weights are dropped). */
export type SparseVector = Record<string, number>;

export interface SparseEncoder {
  /** Model id, recorded with the collection so vectors from different encoders never mix. */
  readonly model: string;
  /** Queries and documents may be encoded differently (e.g. query-side top-k, inference-free queries). */
  encodeQueries(texts: string[]): Promise<SparseVector[]>;
  encodeDocuments(texts: string[]): Promise<SparseVector[]>;
  close?(): Promise<void>;
  /** Texts encoded, tokens seen and inputs truncated at the model's limit, where the encoder knows. */
  stats?(): SparseEncodeStats;
}

export interface SparseEncodeStats {
  texts: number;
  tokens: number;
  truncated: number;
}
