/**
 * The store of record. Everything else (BM25 postings, ANN graphs, caches) is derived from it and
 * can be rebuilt from it. Implementations: SQLite (embedded default, ./sqlite) and Postgres
 * (./postgres). Every implementation passes ./store.conformance.ts.
 *
 * All methods are async because the Postgres backend is; the SQLite one resolves immediately.
 * A write is acknowledged when its promise resolves: from then on it must survive `kill -9`.
 */
import type { CollectionConfig, JsonValue, QuiverDocument, StoredDocument } from '../types.js';
import type { DatabaseLexicalIndex } from '../index/lexical/lexical-index.js';
import type { DatabaseSparseIndex } from '../index/sparse/sparse-index.js';
import type { VectorIndex, VectorMetric } from '../index/vector/vector-index.js';
import type { Analyzer } from '../analyze/analyzer.js';

/** One entry of the change log: derived indexes replay these to catch up after a crash. */
export interface Change {
  seq: number;
  id: string;
  key: number;
  op: 'upsert' | 'delete';
}

export interface UpsertResult {
  /** Keys assigned (new docs) or kept (replaced docs), in input order. */
  keys: number[];
  /** Sequence number after this batch. */
  seq: number;
  inserted: number;
  updated: number;
}

export interface ListPage {
  docs: StoredDocument[];
  /** Opaque cursor for the next page, undefined at the end. */
  next?: string;
}

export interface StoredVector {
  key: number;
  vector: Float32Array;
}

export interface CollectionStore {
  readonly name: string;
  getConfig(): Promise<CollectionConfig>;
  setConfig(config: CollectionConfig): Promise<void>;

  /** Atomic: either every document of the batch is written or none is. Same id replaces. */
  upsert(docs: QuiverDocument[]): Promise<UpsertResult>;
  /** Returns how many of the ids existed. Deleting a document deletes its vectors too. */
  delete(ids: string[]): Promise<{ deleted: number; keys: number[]; seq: number }>;
  /** Missing ids are simply absent from the result; order follows `ids`. */
  get(ids: string[]): Promise<StoredDocument[]>;
  getByKeys(keys: number[]): Promise<StoredDocument[]>;
  count(): Promise<number>;
  /** Cursor paging in id order. */
  list(opts: { cursor?: string; limit: number }): Promise<ListPage>;
  /** Every document, in key order, streamed (bounded memory). */
  scan(opts?: { batchSize?: number }): AsyncIterable<StoredDocument>;
  /** The latest sequence number (0 for an empty store). */
  headSeq(): Promise<number>;
  /** Changes with seq > since, in seq order; a document changed twice appears once, latest op. */
  changesSince(since: number): AsyncIterable<Change>;

  /** Vectors of record, per field, keyed by passage key. Upsert semantics per key. */
  putVectors(field: string, items: StoredVector[]): Promise<void>;
  getVectors(field: string, keys: number[]): Promise<StoredVector[]>;
  scanVectors(field: string): AsyncIterable<StoredVector>;
  deleteVectors(field: string, keys: number[]): Promise<void>;
  countVectors(field: string): Promise<number>;

  /** Small named JSON blobs for derived state (fitted SIF weights, index watermarks, eval runs). */
  getMeta(key: string): Promise<JsonValue | undefined>;
  setMeta(key: string, value: JsonValue): Promise<void>;

  close(): Promise<void>;
}

/** A place that holds collections: a data directory (SQLite) or a database (Postgres). */
export interface StorageBackend {
  readonly kind: string;
  /** Where this backend keeps a collection's derived index files, or undefined (e.g. Postgres). */
  indexDir(collection: string): string | undefined;
  listCollections(): Promise<string[]>;
  createCollection(name: string, config: CollectionConfig): Promise<CollectionStore>;
  openCollection(name: string): Promise<CollectionStore>;
  dropCollection(name: string): Promise<void>;
  /**
   * Backends that search inside the database (Postgres) provide their own indexes; when these are
   * absent the engine uses the embedded ones (in-memory BM25, usearch HNSW) kept in indexDir().
   */
  createLexicalIndex?(
    collection: string,
    opts: { analyzer: Analyzer; k1: number; b: number },
  ): Promise<DatabaseLexicalIndex>;
  createSparseIndex?(collection: string, field: string): Promise<DatabaseSparseIndex>;
  createVectorIndex?(
    collection: string,
    field: string,
    opts: { dims: number; metric: VectorMetric; quantization?: string },
  ): Promise<VectorIndex>;
  close(): Promise<void>;
}

/**
 * Meta keys the engine keeps in every store (and `quiver migrate` carries across): one place so
 * the writer and the copier cannot drift apart.
 */
export const META_KEYS = {
  /** A vector field's watermark and embedder fingerprint (src/engine/vector-field.ts). */
  vectorField: (field: string) => `vectors:${field}`,
  /** A fittable embedder's fitted state (e.g. SIF weights). */
  embedderState: (field: string) => `embedder-state:${field}`,
  /**
   * `{ seq }`: the store seq through which an in-database lexical index (Postgres) holds every
   * passage; the engine catches up from there on open (its writes and the store's commit are not
   * one transaction, so a killed process can leave committed documents unindexed).
   */
  lexical: 'lexical',
  /** `{ seq, fingerprint }`: the same for an in-database sparse field's index. */
  sparseField: (field: string) => `sparse:${field}`,
} as const;

/** Collection names become directory and table names: keep them boring. */
export const COLLECTION_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;
