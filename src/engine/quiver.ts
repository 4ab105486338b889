/**
 * Quiver: a place that holds collections (a data directory on SQLite by default, or a Postgres
 * database when `store` is a postgres:// URL), plus the shared things collections use — loaded
 * embedding models and the evaluation-run log.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Embedder } from '../embed/embedder.js';
import { isFittable } from '../embed/embedder.js';
import { createEmbedder } from '../embed/index.js';
import { withCache } from '../embed/cache.js';
import { QuiverError } from '../errors.js';
import { EvalRunLog } from '../eval/runs.js';
import type { StorageBackend } from '../store/store.js';
import { COLLECTION_NAME } from '../store/store.js';
import { openSqliteBackend } from '../store/sqlite/sqlite-backend.js';
import type { CollectionConfig, SparseFieldConfig, VectorFieldConfig } from '../types.js';
import type { SparseEncoder } from '../embed/sparse/sparse-encoder.js';
import { SparseField, USER_SPARSE_MODEL } from './sparse-field.js';
import { sparseEncoderFingerprint, withSparseCache } from './sparse-cache.js';
import { Collection } from './collection.js';
import type { DeepPartial } from './config.js';
import { resolveConfig } from './config.js';

export interface OpenOptions {
  /** Data directory for the embedded store and derived files (default ./.quiver). */
  data?: string;
  /** A postgres:// URL to keep collections in Postgres instead of the data directory. */
  store?: string;
}

export const DEFAULT_DATA_DIR = '.quiver';

export function isPostgresUrl(s: string | undefined): s is string {
  return !!s && /^postgres(ql)?:\/\//.test(s);
}

export async function openBackend(opts: OpenOptions): Promise<StorageBackend> {
  if (isPostgresUrl(opts.store)) {
    const { openPostgresBackend } = await import('../store/postgres/postgres-backend.js');
    return openPostgresBackend(opts.store);
  }
  if (opts.store && opts.store !== 'sqlite') {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `unknown store "${opts.store}" (use a postgres:// URL, or omit it)`,
      {
        location: { field: 'store' },
      },
    );
  }
  const dir = resolve(opts.data ?? DEFAULT_DATA_DIR);
  await mkdir(dir, { recursive: true });
  return openSqliteBackend(dir);
}

export class Quiver {
  private readonly open = new Map<string, Promise<Collection>>();
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private readonly sparseEncoders = new Map<string, Promise<SparseEncoder>>();
  readonly evalRuns: EvalRunLog;

  private constructor(
    readonly dataDir: string,
    readonly backend: StorageBackend,
  ) {
    this.evalRuns = new EvalRunLog(dataDir);
  }

  static async open(opts: OpenOptions = {}): Promise<Quiver> {
    const dataDir = resolve(opts.data ?? DEFAULT_DATA_DIR);
    await mkdir(dataDir, { recursive: true });
    return new Quiver(dataDir, await openBackend({ ...opts, data: dataDir }));
  }

  get storeKind(): string {
    return this.backend.kind;
  }

  listCollections(): Promise<string[]> {
    return this.backend.listCollections();
  }

  async createCollection(name: string, config: DeepPartial<CollectionConfig> = {}): Promise<Collection> {
    if (!COLLECTION_NAME.test(name)) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `invalid collection name "${name}": use letters, digits, _ and -, starting with a letter or digit (max 63)`,
        { location: { field: 'name' } },
      );
    }
    const resolved = resolveConfig(config);
    // Fail before creating anything if a model is unknown.
    for (const f of resolved.vectors) await this.embedderFor(f);
    for (const f of resolved.sparse ?? []) if (f.model !== USER_SPARSE_MODEL) await this.sparseEncoderFor(f);
    const store = await this.backend.createCollection(name, resolved);
    const opening = Collection.open(
      name,
      store,
      this.backend,
      (f) => this.embedderFor(f),
      (f) => this.sparseEncoderFor(f),
    );
    this.open.set(name, opening);
    try {
      return await opening;
    } catch (e) {
      this.open.delete(name);
      throw e;
    }
  }

  getCollection(name: string): Promise<Collection> {
    let c = this.open.get(name);
    if (!c) {
      c = this.backend.openCollection(name).then((store) =>
        Collection.open(
          name,
          store,
          this.backend,
          (f) => this.embedderFor(f),
          (f) => this.sparseEncoderFor(f),
        ),
      );
      this.open.set(name, c);
      c.catch(() => this.open.delete(name));
    }
    return c;
  }

  async dropCollection(name: string): Promise<void> {
    const c = this.open.get(name);
    if (c) {
      this.open.delete(name);
      await (await c.catch(() => undefined))?.close();
    }
    await this.backend.dropCollection(name);
  }

  /** A shared embedder for a model (loaded once per process). */
  getEmbedder(model: string, opts: { modelDir?: string } = {}): Promise<Embedder> {
    const id = `${model}\u0000${opts.modelDir ?? ''}`;
    let e = this.embedders.get(id);
    if (!e) {
      // Model embeddings are cached by (fingerprint, exact input) in the data directory, so
      // re-indexing and re-evaluating never recompute; corpus-fitted static vectors are cheap
      // and change with every fit, so they are not cached.
      e = createEmbedder(model, opts).then((emb) =>
        isFittable(emb) || model.startsWith('static:')
          ? emb
          : withCache(emb, join(this.dataDir, 'embed-cache.sqlite')),
      );
      this.embedders.set(id, e);
      e.catch(() => this.embedders.delete(id));
    }
    return e;
  }

  /** Corpus-fitted embedders (static SIF) hold per-collection state, so they are never shared. */
  private async embedderFor(f: VectorFieldConfig): Promise<Embedder> {
    const shared = await this.getEmbedder(f.model, f.modelDir ? { modelDir: f.modelDir } : {});
    if (!isFittable(shared)) return shared;
    return createEmbedder(f.model, f.modelDir ? { modelDir: f.modelDir } : {});
  }

  /** A shared sparse encoder per field configuration (loaded once per process). */
  sparseEncoderFor(f: SparseFieldConfig): Promise<SparseEncoder> {
    const id = SparseField.fingerprint(f);
    let e = this.sparseEncoders.get(id);
    if (!e) {
      // Encodings are cached in the data directory (like dense embeddings), so rebuilding a sparse
      // index — a lost snapshot, every open on Postgres — does not re-run the model.
      e = import('../embed/sparse/index.js')
        .then(({ createSparseEncoder }) => createSparseEncoder(f))
        .then((enc) =>
          withSparseCache(enc, join(this.dataDir, 'sparse-cache.sqlite'), sparseEncoderFingerprint(id, enc)),
        );
      this.sparseEncoders.set(id, e);
      e.catch(() => this.sparseEncoders.delete(id));
    }
    return e;
  }

  async close(): Promise<void> {
    for (const c of this.open.values()) await (await c.catch(() => undefined))?.close();
    this.open.clear();
    for (const e of this.sparseEncoders.values()) await (await e.catch(() => undefined))?.close?.();
    this.sparseEncoders.clear();
    for (const e of this.embedders.values()) await (await e.catch(() => undefined))?.close();
    this.embedders.clear();
    await this.backend.close();
  }
}

export async function openQuiver(opts: OpenOptions = {}): Promise<Quiver> {
  return Quiver.open(opts);
}
