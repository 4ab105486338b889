/**
 * One vector field of a collection: its embedder, its vectors of record (in the store) and the
 * ANN index derived from them (a file beside the store, rebuilt when its watermark disagrees).
 *
 * Vectors are derived data with their own watermark (`seq`): `sync()` embeds every passage of the
 * documents changed since then, so a crash between writing a document and embedding it only means
 * the next sync does the work.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Embedder } from '../embed/embedder.js';
import { isFittable } from '../embed/embedder.js';
import { QuiverError } from '../errors.js';
import type { VectorIndex } from '../index/vector/vector-index.js';
import { UsearchVectorIndex } from '../index/vector/usearch.js';
import { openVectorIndex, saveVectorIndex } from './ann-files.js';
import type { CollectionStore, StorageBackend } from '../store/store.js';
import { META_KEYS } from '../store/store.js';
import type { Passage, VectorFieldConfig } from '../types.js';

export interface VectorFieldState {
  fingerprint: string;
  model: string;
  dims: number;
  /** Store change seq through which every passage has a vector. */
  seq: number;
}

const metaKey = META_KEYS.vectorField;
const stateKey = META_KEYS.embedderState;

/** Below this many documents a fittable embedder keeps its priors (fitting on 3 docs is noise). */
export const MIN_FIT_DOCS = 1000;

export function passageText(p: Passage, source: VectorFieldConfig['source']): string {
  switch (source) {
    case 'title':
      return p.title;
    case 'body':
      return p.text;
    default:
      return p.title ? `${p.title} ${p.text}` : p.text;
  }
}

export class VectorField {
  private constructor(
    readonly config: VectorFieldConfig,
    readonly embedder: Embedder,
    readonly index: VectorIndex,
    private state: VectorFieldState,
    private readonly store: CollectionStore,
    private readonly indexPath: string | undefined,
    /** The index lives in the database (pgvector), shared by every process, not per process. */
    readonly inDatabase: boolean,
  ) {}

  /**
   * How far the vectors of record are complete, as recorded by any process sharing this store:
   * changes up to this seq need no embedding here, their vectors can be read back. 0 when the
   * record was made with another embedder state (e.g. before a refit).
   */
  async sharedSeq(): Promise<number> {
    const shared = (await this.store.getMeta(metaKey(this.name))) as VectorFieldState | undefined;
    return shared && shared.fingerprint === this.embedder.fingerprint ? shared.seq : 0;
  }

  /**
   * Put passages' vectors of record (written by another process) into this process's index; an
   * in-database index has them already. Returns how many passages had a vector.
   */
  async loadPassages(keys: number[]): Promise<number> {
    const stored = await this.store.getVectors(this.name, keys);
    if (!this.inDatabase && stored.length)
      await this.index.add(
        stored.map((v) => v.key),
        stored.map((v) => v.vector),
      );
    return stored.length;
  }

  get name(): string {
    return this.config.name;
  }

  get dims(): number {
    return this.index.dims;
  }

  get seq(): number {
    return this.state.seq;
  }

  static async open(
    config: VectorFieldConfig,
    embedder: Embedder,
    store: CollectionStore,
    backend: StorageBackend,
    collection: string,
  ): Promise<VectorField> {
    if (isFittable(embedder)) {
      const saved = await store.getMeta(stateKey(config.name));
      if (saved !== undefined) embedder.importState(saved);
    }
    const dims = config.truncateDims ?? embedder.dims;
    const stored = (await store.getMeta(metaKey(config.name))) as VectorFieldState | undefined;
    if (stored && stored.fingerprint !== embedder.fingerprint) {
      throw new QuiverError(
        'EMBEDDER_MISMATCH',
        `vector field "${config.name}" was built with ${stored.model} (fingerprint ${stored.fingerprint.slice(0, 12)}), ` +
          `but ${embedder.modelId} now gives fingerprint ${embedder.fingerprint.slice(0, 12)}`,
        { location: { field: `vectors.${config.name}` } },
      );
    }
    const state: VectorFieldState = stored ?? {
      fingerprint: embedder.fingerprint,
      model: embedder.modelId,
      dims,
      seq: 0,
    };
    const metric = config.metric ?? 'cos';
    const dir = backend.indexDir(collection);
    let index: VectorIndex;
    let indexPath: string | undefined;
    if (backend.createVectorIndex) {
      index = await backend.createVectorIndex(collection, config.name, {
        dims,
        metric,
        ...(config.quantization ? { quantization: config.quantization } : {}),
      });
    } else {
      indexPath = join(dir ?? '.', `vectors-${config.name}.usearch`);
      const opened = await openVectorIndex(indexPath, {
        dims,
        metric,
        quantization: config.quantization ?? 'f32',
        spillDir: dir ?? '.',
        expectWatermark: state.seq,
      });
      index = opened.index;
      if (!opened.fresh) {
        // Stale, torn or missing: rebuild from the vectors of record.
        const batch: { keys: number[]; vecs: Float32Array[] } = { keys: [], vecs: [] };
        for await (const v of store.scanVectors(config.name)) {
          batch.keys.push(v.key);
          batch.vecs.push(v.vector);
          if (batch.keys.length >= 2048) {
            await index.add(batch.keys, batch.vecs);
            batch.keys = [];
            batch.vecs = [];
          }
        }
        if (batch.keys.length) await index.add(batch.keys, batch.vecs);
      }
    }
    return new VectorField(
      config,
      embedder,
      index,
      state,
      store,
      indexPath,
      backend.createVectorIndex !== undefined,
    );
  }

  /**
   * Embed passages and store their vectors (of record + index). Image fields embed the document's
   * image (metadata.image: a path or URL) with the image tower; documents without one get no vector.
   */
  async addPassages(passages: Passage[], imageOf?: (p: Passage) => string | undefined): Promise<void> {
    if (this.config.source === 'image') {
      if (!this.embedder.embedImages) {
        throw new QuiverError('INVALID_CONFIG', `${this.embedder.modelId} cannot embed images`, {
          location: { field: `vectors.${this.name}.model` },
        });
      }
      passages = passages.filter((p) => p.chunk === 0 && imageOf?.(p) !== undefined);
    }
    if (passages.length === 0) return;
    const vectors =
      this.config.source === 'image'
        ? await this.embedder.embedImages!(passages.map((p) => imageOf!(p)!))
        : await this.embedder.embed(
            passages.map((p) => passageText(p, this.config.source)),
            {
              role: 'document',
              ...(this.config.task ? { task: this.config.task } : {}),
              ...(this.config.truncateDims ? { dimensions: this.config.truncateDims } : {}),
            },
          );
    for (const v of vectors) {
      if (v.length !== this.dims) {
        throw new QuiverError(
          'DIMENSION_MISMATCH',
          `embedder returned ${v.length} dims, field has ${this.dims}`,
          {
            location: { field: `vectors.${this.name}` },
          },
        );
      }
    }
    const keys = passages.map((p) => p.key);
    await this.store.putVectors(
      this.name,
      keys.map((key, i) => ({ key, vector: vectors[i]! })),
    );
    await this.index.add(keys, vectors);
  }

  async removeKeys(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    await this.index.remove(keys);
    await this.store.deleteVectors(this.name, keys);
  }

  async embedQuery(query: string, task?: string): Promise<Float32Array> {
    const t = task ?? this.config.task;
    const [v] = await this.embedder.embed([query], {
      role: 'query',
      ...(t ? { task: t } : {}),
      ...(this.config.truncateDims ? { dimensions: this.config.truncateDims } : {}),
    });
    return v!;
  }

  /** Fit a corpus-dependent embedder; every vector must then be recomputed (seq reset to 0). */
  async fit(corpus: AsyncIterable<string>): Promise<boolean> {
    const e = this.embedder;
    if (!isFittable(e)) return false;
    await e.fit(corpus);
    await this.store.setMeta(stateKey(this.name), e.exportState());
    this.state = { ...this.state, fingerprint: e.fingerprint, seq: 0 };
    await this.store.setMeta(metaKey(this.name), { ...this.state });
    return true;
  }

  needsFit(): boolean {
    return isFittable(this.embedder) && !this.embedder.fitted;
  }

  async setSeq(seq: number): Promise<void> {
    this.state = { ...this.state, seq, fingerprint: this.embedder.fingerprint };
    await this.store.setMeta(metaKey(this.name), { ...this.state });
  }

  async persist(): Promise<void> {
    if (this.indexPath) await saveVectorIndex(this.index, this.indexPath, this.state.seq);
  }

  /** Release the index's scratch file, if its f32 copies spilled to one. */
  close(): void {
    if (this.index instanceof UsearchVectorIndex) this.index.close();
  }

  indexFileExists(): boolean {
    return this.indexPath !== undefined && existsSync(this.indexPath);
  }
}
