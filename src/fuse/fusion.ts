/**
 * Fusion merges the ranked lists of several retrievers (lexical, dense, sparse) into one.
 * Methods are interchangeable (./rrf, ./convex, ./dbsf) and all take and return the same shapes,
 * so `explain` can show each retriever's rank and score next to the fused score.
 */
import type { FusionOptions, RetrieverExplain } from '../types.js';

export interface RankedList {
  /** Retriever name: "lexical", "dense", "dense:title", "sparse". */
  name: string;
  /** Best first. Scores are the retriever's raw scores. */
  hits: { key: number; score: number }[];
}

export interface FusedHit {
  key: number;
  score: number;
  retrievers: Record<string, RetrieverExplain>;
}

export interface FusionMethodImpl {
  readonly name: string;
  fuse(lists: RankedList[], opts: FusionOptions): FusedHit[];
}
