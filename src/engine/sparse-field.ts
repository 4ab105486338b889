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
 * In memory, the index file beside the store carries the store seq it reflects and what produced
 * it; one that disagrees is rebuilt (user vectors are re-read from the store, model vectors
 * re-encoded). In the database (Postgres), the field's meta row records the same, and the index is
 * caught up from there or rebuilt (see Collection.open).
 */
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { SparseEncoder } from '../embed/sparse/sparse-encoder.js';
import { QuiverError, isQuiverError } from '../errors.js';
import type { ScoredKey, LexicalSearchOptions } from '../index/lexical/lexical-index.js';
import { InvertedSparseIndex } from '../index/sparse/inverted-sparse.js';
import type { DatabaseSparseIndex, SparseItem, SparseVector } from '../index/sparse/sparse-index.js';
import type { CollectionStore } from '../store/store.js';
import { META_KEYS } from '../store/store.js';
import { sparseVectorProblem } from '../store/validate.js';
import type { Passage, SparseFieldConfig, StoredDocument } from '../types.js';
import { passageText } from './vector-field.js';

export const USER_SPARSE_MODEL = 'user';

/** How the engine obtains encoders for model-backed sparse fields. */
export type SparseEncoderSource = (field: SparseFieldConfig) => Promise<SparseEncoder>;

/** Passages per encoder call while (re)indexing. */
const ENCODE_BATCH = 64;

/** Where a field's index lives: in memory with a snapshot file, or in the database. */
type Backing =
  | { kind: 'memory'; index: InvertedSparseIndex; path: string | undefined }
  | { kind: 'database'; index: DatabaseSparseIndex; store: CollectionStore; fingerprint: string };

export class SparseField {
  /** Index changed since the last snapshot (in memory). */
  dirty = false;
  /** In the database: the seq last recorded as indexed through. */
  private recordedSeq = -1;

  private constructor(
    readonly config: SparseFieldConfig,
    private readonly backing: Backing,
    readonly encoder: SparseEncoder | undefined,
    /** Whether the index reflects the store's head or `catchUpFrom` (no full rebuild needed). */
    readonly fresh: boolean,
    /**
     * In the database: the seq the index is complete through, when behind the store's head (a
     * process died between a commit and its indexing); Collection.open re-indexes what changed since.
     */
    readonly catchUpFrom?: number,
  ) {}

  get name(): string {
    return this.config.name;
  }

  get isUser(): boolean {
    return this.config.model === USER_SPARSE_MODEL;
  }

  /** Filters reach an in-database index as SQL, an in-memory one bound to the document table. */
  get inDatabase(): boolean {
    return this.backing.kind === 'database';
  }

  /** Passages with a vector in the index. */
  async size(): Promise<number> {
    // Counted in the database: another process's writes change it too.
    return this.backing.kind === 'database' ? this.backing.index.countPassages() : this.backing.index.size();
  }

  async vocabularySize(): Promise<number> {
    return this.backing.index.vocabularySize();
  }

  /** What produced the vectors: a snapshot made from anything else is not served. */
  static fingerprint(config: SparseFieldConfig): string {
    if (config.model === USER_SPARSE_MODEL) return USER_SPARSE_MODEL;
    const { model, modelDir, url, source, topK, queryTopK } = config as SparseFieldConfig & {
      queryTopK?: number;
    };
    return JSON.stringify({ model, modelDir, url, source, topK, queryTopK });
  }

  /**
   * In memory (`dir` holds the snapshot; none for a backend without files), or in the database
   * when the backend keeps sparse indexes there (`database`).
   */
  static async open(
    config: SparseFieldConfig,
    encoder: SparseEncoder | undefined,
    where: {
      dir: string | undefined;
      head: number;
      database?: { index: DatabaseSparseIndex; store: CollectionStore };
    },
  ): Promise<SparseField> {
    const { dir, head, database } = where;
    const fingerprint = SparseField.fingerprint(config);
    if (database) {
      const backing = { kind: 'database' as const, ...database, fingerprint };
      const state = await database.store.getMeta(META_KEYS.sparseField(config.name));
      const recorded =
        state && typeof state === 'object' && !Array.isArray(state) ? state : ({} as Record<string, unknown>);
      if (recorded['fingerprint'] !== fingerprint || typeof recorded['seq'] !== 'number') {
        // Made by something else (another model), or never recorded: rebuilt from the store.
        await database.index.clear();
        return new SparseField(config, backing, encoder, false);
      }
      const seq = recorded['seq'];
      return new SparseField(config, backing, encoder, true, seq < head ? seq : undefined);
    }
    const path = dir === undefined ? undefined : join(dir, `sparse-${config.name}.idx`);
    if (path) {
      try {
        const loaded = await InvertedSparseIndex.load(path, { fingerprint });
        if (loaded.watermark === head)
          return new SparseField(config, { kind: 'memory', index: loaded.index, path }, encoder, true);
      } catch (e) {
        // Missing, torn, stale or foreign snapshot: rebuilt by the collection from the store.
        if (!isQuiverError(e) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return new SparseField(
      config,
      { kind: 'memory', index: new InvertedSparseIndex({ fingerprint }), path },
      encoder,
      false,
    );
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
        docKey: p.docKey,
        vector: (p.chunk === 0 ? docOf(p.docKey)?.sparse?.[this.name] : undefined) ?? {},
      }));
    } else {
      items = [];
      for (let i = 0; i < passages.length; i += ENCODE_BATCH) {
        const batch = passages.slice(i, i + ENCODE_BATCH);
        const vectors = await this.encoderOrThrow().encodeDocuments(
          batch.map((p) => passageText(p, this.config.source)),
        );
        batch.forEach((p, j) => items.push({ key: p.key, docKey: p.docKey, vector: vectors[j] ?? {} }));
      }
    }
    await this.backing.index.upsert(items);
    this.dirty = true;
  }

  async remove(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    await this.backing.index.remove(keys);
    this.dirty = true;
  }

  /** In the database: drop every passage of these documents (catch-up after a crash). */
  async removeDocuments(docKeys: number[]): Promise<void> {
    if (this.backing.kind === 'database') await this.backing.index.removeDocuments(docKeys);
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
    return this.backing.index.search(query, k, opts);
  }

  /**
   * Record that the index holds everything through store seq `watermark`: the snapshot file in
   * memory (written when dirty, at flush), the field's meta row in the database (after every
   * indexed batch, so a crash re-indexes little).
   */
  async persist(watermark: number): Promise<void> {
    const b = this.backing;
    if (b.kind === 'database') {
      if (watermark === this.recordedSeq) return;
      await b.store.setMeta(META_KEYS.sparseField(this.name), { seq: watermark, fingerprint: b.fingerprint });
      this.recordedSeq = watermark;
      return;
    }
    if (!b.path || !this.dirty) return;
    await b.index.save(b.path, { watermark });
    this.dirty = false;
  }

  async removeFile(): Promise<void> {
    if (this.backing.kind === 'memory' && this.backing.path) await rm(this.backing.path, { force: true });
  }
}
