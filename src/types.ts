/**
 * The shared vocabulary of Quiver: documents, filters, search requests and results, collection
 * configuration. Every stage imports its types from here, never from another stage's internals.
 */

import type { SparseVector } from './embed/sparse/sparse-encoder.js';

export type { SparseVector } from './embed/sparse/sparse-encoder.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type Metadata = { [key: string]: JsonValue };

/** A document as the user gives it. */
export interface QuiverDocument {
  id: string;
  title?: string;
  text: string;
  metadata?: Metadata;
  /**
   * Sparse vectors supplied by the user, per sparse field with model "user": term → weight
   * (finite, ≥ 0). They describe the whole document and are indexed on its first passage.
   */
  sparse?: Record<string, SparseVector>;
}

/**
 * A document as the store of record holds it. `key` is a stable integer the store assigns on first
 * insert and keeps across updates: derived indexes (BM25, ANN) address documents by key, not by id.
 * `seq` is the store's change sequence number of the last write to this document.
 */
export interface StoredDocument extends QuiverDocument {
  key: number;
  seq: number;
}

/**
 * A passage is the unit the indexes see: a whole document, or one chunk of a long one.
 * passageKey = docKey * MAX_CHUNKS_PER_DOC + chunk, so a passage finds its parent without a lookup.
 */
export const MAX_CHUNKS_PER_DOC = 65536;
export interface Passage {
  key: number;
  docKey: number;
  docId: string;
  chunk: number;
  title: string;
  text: string;
  /** Character offsets of this chunk within the parent's text. */
  start: number;
  end: number;
}
export const passageKey = (docKey: number, chunk: number): number => docKey * MAX_CHUNKS_PER_DOC + chunk;
export const docKeyOf = (passageKey: number): number => Math.floor(passageKey / MAX_CHUNKS_PER_DOC);
export const chunkOf = (passageKey: number): number => passageKey % MAX_CHUNKS_PER_DOC;

/**
 * Metadata filters, Mongo-style, evaluated inside retrieval (never by post-filtering a short list).
 *   {"year": 2020}                      equality (on arrays: contains)
 *   {"lang": {"$in": ["en", "fr"]}}     membership
 *   {"year": {"$gte": 2000, "$lt": 2010}} numeric range; ISO date strings compare as dates
 *   {"$and": [f1, f2]}, {"$or": [...]}, {"$not": f}
 * Field names may use dots for nested metadata ("source.path"). `id` filters on the document id.
 */
export type FilterValue = JsonPrimitive;
export interface FieldCondition {
  $eq?: FilterValue;
  $ne?: FilterValue;
  $in?: FilterValue[];
  $nin?: FilterValue[];
  $gt?: number | string;
  $gte?: number | string;
  $lt?: number | string;
  $lte?: number | string;
  $exists?: boolean;
}
export type Filter =
  | { $and: Filter[] }
  | { $or: Filter[] }
  | { $not: Filter }
  | { [field: string]: FilterValue | FieldCondition };

export type SearchMode = 'lexical' | 'dense' | 'hybrid' | 'sparse';
export type FusionMethod = 'rrf' | 'convex' | 'dbsf';
export type ScoreNormalization = 'minmax' | 'zscore' | 'rank';

export interface FusionOptions {
  method?: FusionMethod;
  /** RRF constant (default 60). */
  rrfK?: number;
  /** Normalisation used by `convex`. */
  normalization?: ScoreNormalization;
  /** Weight per retriever name ("lexical", "dense", "dense:<field>", "sparse"). */
  weights?: Record<string, number>;
  /** How many candidates each retriever contributes before fusion. */
  candidates?: number;
}

export interface SearchRequest {
  query: string;
  mode?: SearchMode;
  k?: number;
  filter?: Filter;
  fusion?: FusionOptions;
  /** Vector field to search (default: the collection's first). */
  vectorField?: string;
  /** Sparse field for mode "sparse" (default: the collection's first); hybrid uses every sparse field. */
  sparseField?: string;
  /** The query as a sparse vector (term → weight), for sparse fields with model "user". */
  sparseQuery?: SparseVector;
  /** Instruction for instruct models, overriding the collection's default task. */
  task?: string;
  explain?: boolean;
  /** 'document' (best chunk wins, default) or 'chunk'. */
  groupBy?: 'document' | 'chunk';
  /** Include stored text/title/metadata in hits (default true). */
  includeDocument?: boolean;
  /** Rerank the top candidates: true = offline similarity reranker; model: 'cross-encoder:<folder>' or a /rerank URL. */
  rerank?:
    | boolean
    | {
        model?: string;
        topN?: number;
        /** share of the reranker in the final score (0–1) */ weight?: number;
      };
  snippets?: boolean | { maxChars?: number; maxSentences?: number };
}

/** What one retriever said about a hit, for `explain`. */
export interface RetrieverExplain {
  rank: number;
  score: number;
  /** Lexical and sparse: per-term contributions. */
  terms?: Record<string, number>;
  /** Normalised score used by fusion, when fusion normalises. */
  normalized?: number;
}

export interface SearchHit {
  id: string;
  score: number;
  rank: number;
  chunk?: number;
  title?: string;
  text?: string;
  metadata?: Metadata;
  snippet?: { text: string; html: string; sentences: number[] };
  explain?: {
    retrievers: Record<string, RetrieverExplain>;
    fused?: number;
    rerank?: number;
  };
}

export interface SearchResponse {
  hits: SearchHit[];
  mode: SearchMode;
  tookMs: number;
  /** Notes such as "query truncated to 512 tokens". */
  warnings?: string[];
}

/** Language codes with a stemmer + stopword list; anything else gets tokenization + case folding. */
export type AnalyzerLanguage = string;

export interface AnalyzerConfig {
  /** 'en' (Lucene EnglishAnalyzer-compatible default), 'fr', 'de', 'es', 'pt', 'it', 'nl', 'ru', … or 'none'. */
  language: AnalyzerLanguage;
  stopwords?: boolean | string[];
  stemming?: boolean;
}

export interface Bm25Config {
  k1: number;
  b: number;
  /** Field weights for multi-field scoring; omitted = title+text indexed as one field (Pyserini "flat"). */
  fields?: { title: number; text: number };
}

export interface ChunkingConfig {
  /** Documents longer than this many characters are split. 0 disables chunking. */
  maxChars: number;
  /** Sentences of overlap between consecutive chunks. */
  overlapSentences: number;
}

export interface VectorFieldConfig {
  name: string;
  /** Registry model name, e.g. "intfloat/e5-small-v2" or "static:glove-100". */
  model: string;
  /** Local folder with the model files, when not downloaded from the hub. */
  modelDir?: string;
  /** Which document part is embedded: 'text' (title + text), 'title', 'body', or 'image'. */
  source?: 'text' | 'title' | 'body' | 'image';
  metric?: 'cos' | 'ip' | 'l2';
  dims?: number;
  /** 'f32' | 'f16' | 'i8' candidate search; rescoring with exact f32 vectors applies to quantized ones. */
  quantization?: 'f32' | 'f16' | 'i8' | 'b1';
  /** Default task instruction for instruct models. */
  task?: string;
  /** Matryoshka truncation. */
  truncateDims?: number;
}

/**
 * A learned-sparse field (SPLADE-style term weights) scored by dot product in an inverted index.
 * model "user": vectors come with the documents (`QuiverDocument.sparse[name]`) and with the query
 * (`SearchRequest.sparseQuery`); otherwise a sparse encoder — a registry name or a local folder
 * (`modelDir`) for ONNX MLM-head models, or `url` for a remote endpoint.
 */
export interface SparseFieldConfig {
  name: string;
  model: string;
  modelDir?: string;
  /** Remote sparse-embedding endpoint (TEI-style `/embed_sparse`). */
  url?: string;
  /** Which document part is encoded: 'text' (title + text, default), 'title' or 'body'. */
  source?: 'text' | 'title' | 'body';
  /** Keep only the k largest document weights (top-k pruning; default 256, 0 keeps all). */
  topK?: number;
  /** The same for queries (default 0: queries keep every term). */
  queryTopK?: number;
}

export interface CollectionConfig {
  version: 1;
  analyzer: AnalyzerConfig;
  bm25: Bm25Config;
  chunking: ChunkingConfig;
  vectors: VectorFieldConfig[];
  /** Learned-sparse fields (optional; absent in configs written before they existed). */
  sparse?: SparseFieldConfig[];
  fusion: FusionOptions;
  /** Free-form state derived from the corpus (e.g. SIF weights) is stored separately, not here. */
}

export const DEFAULT_COLLECTION_CONFIG: CollectionConfig = {
  version: 1,
  analyzer: { language: 'en' },
  bm25: { k1: 0.9, b: 0.4 },
  chunking: { maxChars: 8000, overlapSentences: 1 },
  vectors: [],
  fusion: { method: 'convex', normalization: 'minmax' },
};
