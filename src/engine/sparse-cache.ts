/**
 * A persistent cache of sparse encodings, so rebuilding a sparse index (a lost or stale snapshot,
 * every open on Postgres, re-indexing into a new collection) never re-runs the model for a text it
 * has seen. The counterpart of the dense embedding cache (src/embed/cache.ts).
 *
 * Key: (fingerprint, role, sha256 of the exact text). The fingerprint covers the field's encoder
 * configuration (model, folder, URL, top-k settings) and, for local models, the size and mtime of
 * the model and tokenizer files, so replacing the weights in place invalidates it. Values are the
 * vectors as JSON. SQLite in WAL mode, shared by processes like the dense cache.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openCacheDatabase } from '../embed/cache.js';
import type { SparseEncoder, SparseVector } from '../embed/sparse/sparse-encoder.js';

export interface SparseCacheStats {
  hits: number;
  misses: number;
}

export interface CachedSparseEncoder extends SparseEncoder {
  readonly inner: SparseEncoder;
  readonly fingerprint: string;
  cacheStats(): SparseCacheStats;
}

/** size:mtime of a file, or "-" when absent (part of the fingerprint, so edits invalidate). */
function fileStamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.size}:${Math.round(s.mtimeMs)}`;
  } catch {
    return '-';
  }
}

/**
 * The fingerprint of an encoder for a field: its configuration plus, for local ONNX encoders (which
 * expose `modelPath`), the stamps of the model file and the tokenizer beside it.
 */
export function sparseEncoderFingerprint(configFingerprint: string, encoder: SparseEncoder): string {
  const modelPath = (encoder as { modelPath?: unknown }).modelPath;
  const files =
    typeof modelPath === 'string'
      ? [
          modelPath,
          join(dirname(modelPath), 'tokenizer.json'),
          join(dirname(dirname(modelPath)), 'tokenizer.json'),
        ]
      : [];
  return createHash('sha256')
    .update(
      JSON.stringify({
        config: configFingerprint,
        model: encoder.model,
        files: files.map((f) => [f, fileStamp(f)]),
      }),
    )
    .digest('hex');
}

export function withSparseCache(
  encoder: SparseEncoder,
  cachePath: string,
  fingerprint: string,
): CachedSparseEncoder {
  const db = openCacheDatabase(cachePath);
  db.exec(`CREATE TABLE IF NOT EXISTS sparse_encodings (
    fingerprint TEXT NOT NULL,
    role TEXT NOT NULL,
    input_sha256 BLOB NOT NULL,
    vector TEXT NOT NULL,
    PRIMARY KEY (fingerprint, role, input_sha256)
  ) WITHOUT ROWID`);
  const get = db.prepare<[string, string, Buffer], { vector: string }>(
    'SELECT vector FROM sparse_encodings WHERE fingerprint = ? AND role = ? AND input_sha256 = ?',
  );
  const put = db.prepare<[string, string, Buffer, string]>(
    'INSERT OR REPLACE INTO sparse_encodings (fingerprint, role, input_sha256, vector) VALUES (?, ?, ?, ?)',
  );
  const putMany = db.transaction((role: string, rows: { key: Buffer; v: SparseVector }[]) => {
    for (const r of rows) put.run(fingerprint, role, r.key, JSON.stringify(r.v));
  });
  const counters = { hits: 0, misses: 0 };

  const encode = async (role: 'query' | 'document', texts: string[]): Promise<SparseVector[]> => {
    const keys = texts.map((t) => createHash('sha256').update(t, 'utf8').digest());
    const out = new Array<SparseVector | undefined>(texts.length);
    const missing = new Map<string, number[]>();
    keys.forEach((key, i) => {
      const row = get.get(fingerprint, role, key);
      if (row) {
        out[i] = JSON.parse(row.vector) as SparseVector;
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
      const inputs = firsts.map((i) => texts[i]!);
      const vecs =
        role === 'query' ? await encoder.encodeQueries(inputs) : await encoder.encodeDocuments(inputs);
      counters.misses += firsts.length;
      putMany(
        role,
        firsts.map((i, j) => ({ key: keys[i]!, v: vecs[j]! })),
      );
      [...missing.values()].forEach((ix, j) => {
        for (const i of ix) out[i] = ix[0] === i ? vecs[j]! : { ...vecs[j]! };
      });
    }
    return out as SparseVector[];
  };

  return {
    inner: encoder,
    fingerprint,
    get model() {
      return encoder.model;
    },
    encodeQueries: (texts) => encode('query', texts),
    encodeDocuments: (texts) => encode('document', texts),
    cacheStats: () => ({ ...counters }),
    async close(): Promise<void> {
      db.close();
      await encoder.close?.();
    },
  };
}
