/**
 * A lexical index scores passages against a query with BM25 (or, for sparse fields, a dot product
 * of term weights). Implementations: the in-memory inverted index (./bm25) and the Postgres one.
 */
import type { Passage } from '../../types.js';
import type { CompiledFilter } from '../../retrieve/filter.js';

export interface ScoredKey {
  key: number;
  score: number;
  /** Per-term contributions, when explain was asked for. */
  terms?: Record<string, number>;
}

export interface LexicalSearchOptions {
  filter?: CompiledFilter;
  explain?: boolean;
}

export interface LexicalIndex {
  /** Upsert semantics per passage key. */
  add(passages: Passage[]): Promise<void>;
  remove(keys: number[]): Promise<void>;
  search(query: string, k: number, opts?: LexicalSearchOptions): Promise<ScoredKey[]>;
  size(): number;
}

/**
 * A lexical index kept in a database (Postgres): it outlives the engine process and may hold
 * passages the engine no longer knows about (written before a crash), so the engine can remove
 * every passage of a document by document key when it catches up (see Collection.open).
 */
export interface DatabaseLexicalIndex extends LexicalIndex {
  removeDocuments(docKeys: number[]): Promise<void>;
}
