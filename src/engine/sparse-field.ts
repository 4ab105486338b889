/**
 * One learned-sparse field of a collection: an inverted index of term → weight vectors scored by
 * dot product (src/index/sparse), kept in step with the store's change log like the lexical index.
 *
 * Where vectors come from:
 *   model "user"  the document's own `sparse[<field>]` (stored with it in the store of record),
 *                 indexed on its first passage, since it describes the whole document; queries
 *                 bring theirs in `sparseQuery`.
 *   any other     a sparse encoder (ONNX SPLADE-style or remote) over each passage's text;
 *                 queries are encoded from the query text.
 * The index file beside the store carries the store seq it reflects and what produced it; one
 * that disagrees is rebuilt (user vectors are re-read from the store, model vectors re-encoded).
 */
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { SparseEncoder } from '../embed/sparse/sparse-encoder.js';
import { QuiverError, isQuiverError } from '../errors.js';
import type { ScoredKey, LexicalSearchOptions } from '../index/lexical/lexical-index.js';
import { InvertedSparseIndex } from '../index/sparse/inverted-sparse.js';
import type { SparseItem, SparseVector } from '../index/sparse/sparse-index.js';
import { sparseVectorProblem } from '../store/validate.js';
import type { Passage, SparseFieldConfig, StoredDocument } from '../types.js';
import { passageText } from './vector-field.js';

export const USER_SPARSE_MODEL = 'user';

/** How the engine obtains encoders for model-backed sparse fields. */
export type SparseEncoderSource = (field: SparseFieldConfig) => Promise<SparseEncoder>;

/** Passages per encoder call while (re)indexing. */
const ENCODE_BATCH = 64;

export class SparseField {
  /** Index changed since the last snapshot. */
  dirty = false;

  private constructor(
    readonly config: SparseFieldConfig,
    private index: InvertedSparseIndex,
    readonly encoder: SparseEncoder | undefined,
    private readonly path: string | undefined,
    /** Whether the loaded snapshot reflects the store's head (no rebuild needed). */
    readonly fresh: boolean,
  ) {}

  get name(): string {
    return this.config.name;
  }

  get isUser(): boolean {
    return this.config.model === USER_SPARSE_MODEL;
  }

  /** Passages with a vector in the index. */
  size(): number {
    return this.index.size();
  }

  vocabularySize(): number {
    return this.index.vocabularySize();
  }

  /** What produced the vectors: a snapshot made from anything else is not served. */
  static fingerprint(config: SparseFieldConfig): string {
    if (config.model === USER_SPARSE_MODEL) return USER_SPARSE_MODEL;
    const { model, modelDir, url, source, topK, queryTopK } = config as SparseFieldConfig & {
      queryTopK?: number;
    };
    return JSON.stringify({ model, modelDir, url, source, topK, queryTopK });
  }

  static async open(
    config: SparseFieldConfig,
    encoder: SparseEncoder | undefined,
    dir: string | undefined,
    head: number,
  ): Promise<SparseField> {
    const fingerprint = SparseField.fingerprint(config);
    const path = dir === undefined ? undefined : join(dir, `sparse-${config.name}.idx`);
    if (path) {
      try {
        const loaded = await InvertedSparseIndex.load(path, { fingerprint });
        if (loaded.watermark === head) return new SparseField(config, loaded.index, encoder, path, true);
      } catch (e) {
        // Missing, torn, stale or foreign snapshot: rebuilt by the collection from the store.
        if (!isQuiverError(e) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return new SparseField(config, new InvertedSparseIndex({ fingerprint }), encoder, path, false);
  }

  /**
   * (Re)index the given passages of the given documents (every current passage of each): user
   * vectors from the document, model vectors from the encoder. Passages left without a vector
   * (no user vector, or nothing the encoder weighed) are removed from the index.
   */
  async indexPassages(
    passages: Passage[],
    docOf: (docKey: number) => StoredDocument | undefined,
  ): Promise<void> {
    if (passages.length === 0) return;
    let items: SparseItem[];
    if (this.isUser) {
      items = passages.map((p) => ({
        key: p.key,
        vector: (p.chunk === 0 ? docOf(p.docKey)?.sparse?.[this.name] : undefined) ?? {},
      }));
    } else {
      items = [];
      for (let i = 0; i < passages.length; i += ENCODE_BATCH) {
        const batch = passages.slice(i, i + ENCODE_BATCH);
        const vectors = await this.encoderOrThrow().encodeDocuments(
          batch.map((p) => passageText(p, this.config.source)),
        );
        batch.forEach((p, j) => items.push({ key: p.key, vector: vectors[j] ?? {} }));
      }
    }
    await this.index.upsert(items);
    this.dirty = true;
  }

  async remove(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    await this.index.remove(keys);
    this.dirty = true;
  }

  private encoderOrThrow(): SparseEncoder {
    if (!this.encoder) {
      throw new QuiverError(
        'INTERNAL',
        `sparse field "${this.name}" (model ${this.config.model}) has no encoder`,
      );
    }
    return this.encoder;
  }

  /**
   * The query vector: the user's (required for model "user", optional override otherwise) or the
   * encoder's for the query text.
   */
  async queryVector(query: string, userQuery: SparseVector | undefined): Promise<SparseVector> {
    if (userQuery !== undefined) {
      const bad = sparseVectorProblem(userQuery, 'sparseQuery');
      if (bad) throw new QuiverError('INVALID_ARGUMENT', bad.message, { location: { field: bad.path } });
      return userQuery;
    }
    if (this.isUser) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `sparse field "${this.name}" has model "user": give the query's sparse vector in sparseQuery (term → weight)`,
        { location: { field: 'sparseQuery' } },
      );
    }
    const [v] = await this.encoderOrThrow().encodeQueries([query]);
    return v ?? {};
  }

  search(query: SparseVector, k: number, opts: LexicalSearchOptions): Promise<ScoredKey[]> {
    return this.index.search(query, k, opts);
  }

  /** Write the snapshot with the store seq it reflects (embedded backends only). */
  async persist(watermark: number): Promise<void> {
    if (!this.path || !this.dirty) return;
    await this.index.save(this.path, { watermark });
    this.dirty = false;
  }

  async removeFile(): Promise<void> {
    if (this.path) await rm(this.path, { force: true });
  }
}
