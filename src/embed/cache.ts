/**
 * A persistent embedding cache, so re-indexing and re-evaluating never recompute a vector.
 *
 * Key: (embedder fingerprint, sha256 of the exact formatted input, Matryoshka size). The
 * fingerprint covers the model weights and every convention (prefixes, pooling, normalisation,
 * fitted state), and the formatted input includes the role's prefix or task instruction, so a hit
 * is always the vector the embedder would compute. Values are raw little-endian float32.
 * SQLite in WAL mode: readers do not block the writer and several processes can share one file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { JsonValue } from '../types.js';
import type {
  EmbedExplain,
  EmbedOptions,
  EmbedStats,
  Embedder,
  FittableEmbedder,
  ImageInput,
} from './embedder.js';
import { isFittable } from './embedder.js';

export interface CacheStats {
  hits: number;
  misses: number;
}

export interface CachedEmbedder extends Embedder {
  readonly inner: Embedder;
  cacheStats(): CacheStats;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function fromBlob(b: Buffer): Float32Array {
  // Copy: the Buffer may share a pool slab and have an offset that is not 4-byte aligned.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * A cache database (dense embeddings, sparse encodings): WAL so readers never wait, NORMAL sync
 * because a lost cache entry is only recomputed, a busy timeout for several processes.
 */
export function openCacheDatabase(cachePath: string): Database.Database {
  if (cachePath !== ':memory:') mkdirSync(dirname(cachePath), { recursive: true });
  const db = new Database(cachePath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Wrap an embedder so only inputs not seen before (under the same fingerprint) are computed. */
export function withCache(embedder: Embedder, cachePath: string): CachedEmbedder {
  const db = openCacheDatabase(cachePath);
  db.exec(`CREATE TABLE IF NOT EXISTS embeddings (
    fingerprint TEXT NOT NULL,
    input_sha256 BLOB NOT NULL,
    dims INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (fingerprint, input_sha256, dims)
  ) WITHOUT ROWID`);
  const get = db.prepare<[string, Buffer, number], { vector: Buffer }>(
    'SELECT vector FROM embeddings WHERE fingerprint = ? AND input_sha256 = ? AND dims = ?',
  );
  const put = db.prepare<[string, Buffer, number, Buffer]>(
    'INSERT OR REPLACE INTO embeddings (fingerprint, input_sha256, dims, vector) VALUES (?, ?, ?, ?)',
  );
  const putMany = db.transaction((fp: string, rows: { key: Buffer; dims: number; v: Float32Array }[]) => {
    for (const r of rows) put.run(fp, r.key, r.dims, toBlob(r.v));
  });

  const counters = { texts: 0, hits: 0, misses: 0 };

  const wrapper: CachedEmbedder = {
    inner: embedder,
    get modelId() {
      return embedder.modelId;
    },
    get dims() {
      return embedder.dims;
    },
    get maxTokens() {
      return embedder.maxTokens;
    },
    get modalities() {
      return embedder.modalities;
    },
    get fingerprint() {
      return embedder.fingerprint;
    },
    formatInputs: (texts: string[], opts: EmbedOptions) => embedder.formatInputs(texts, opts),
    explain: (text: string, opts: EmbedOptions): Promise<EmbedExplain> => embedder.explain(text, opts),

    async embed(texts: string[], opts: EmbedOptions): Promise<Float32Array[]> {
      counters.texts += texts.length;
      const fp = embedder.fingerprint; // read per call: fitting a static embedder changes it
      const dims = opts.dimensions ?? 0;
      const keys = embedder.formatInputs(texts, opts).map(sha256);
      const out = new Array<Float32Array | undefined>(texts.length);
      // Texts to compute, each once even when repeated within the call.
      const missing = new Map<string, number[]>();
      keys.forEach((key, i) => {
        const row = get.get(fp, key, dims);
        if (row) {
          out[i] = fromBlob(row.vector);
          counters.hits++;
          return;
        }
        const k = key.toString('hex');
        const slot = missing.get(k);
        if (slot) slot.push(i);
        else missing.set(k, [i]);
      });
      if (missing.size > 0) {
        const firsts = [...missing.values()].map((ix) => ix[0]!);
        const vecs = await embedder.embed(
          firsts.map((i) => texts[i]!),
          opts,
        );
        counters.misses += firsts.length;
        const rows = firsts.map((i, j) => ({ key: keys[i]!, dims, v: vecs[j]! }));
        putMany(fp, rows);
        [...missing.values()].forEach((ix, j) => {
          for (const i of ix) out[i] = ix[0] === i ? vecs[j]! : vecs[j]!.slice();
        });
      }
      return out as Float32Array[];
    },

    stats(): EmbedStats {
      // Texts asked of the cache; tokens and truncations are the inner embedder's (misses only).
      return { ...embedder.stats(), texts: counters.texts };
    },
    cacheStats: () => ({ hits: counters.hits, misses: counters.misses }),
    async close(): Promise<void> {
      db.close();
      await embedder.close();
    },
  };

  if (embedder.embedImages) {
    const images = embedder.embedImages.bind(embedder);
    (wrapper as { embedImages?: (i: ImageInput[]) => Promise<Float32Array[]> }).embedImages = images;
  }
  if (isFittable(embedder)) {
    // Keep fitted providers fittable through the wrapper (isFittable checks for `fit`).
    const fittable = wrapper as CachedEmbedder & Partial<FittableEmbedder>;
    Object.defineProperty(fittable, 'fitted', { get: () => embedder.fitted, enumerable: true });
    fittable.fit = (corpus: Iterable<string> | AsyncIterable<string>) => embedder.fit(corpus);
    fittable.exportState = (): JsonValue => embedder.exportState();
    fittable.importState = (state: JsonValue) => embedder.importState(state);
  }
  return wrapper;
}
