/**
 * The reranking stage: re-score the top candidates of any retrieval mode jointly with the query.
 * Implementations: an offline lexical/embedding-similarity reranker (./similarity), a local ONNX
 * cross-encoder (./cross-encoder) and remote /rerank endpoints (./remote).
 */
export interface RerankCandidate {
  key: number;
  text: string;
}

export interface Reranker {
  readonly name: string;
  /** One score per candidate, in input order; higher is better. */
  rerank(query: string, candidates: RerankCandidate[]): Promise<number[]>;
  close?(): Promise<void>;
}
