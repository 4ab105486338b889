/**
 * Copy a collection between storage backends (data directory ⇄ Postgres), streaming in batches,
 * resumable (a checkpoint in the target's meta), and verified: document counts plus an
 * order-independent checksum of ids, titles, texts and metadata, and of every vector's bytes.
 * Derived indexes are not copied: the target rebuilds them from its store of record.
 */
import { createHash } from 'node:crypto';
import { QuiverError } from '../errors.js';
import type { CollectionConfig, JsonValue, StoredDocument } from '../types.js';
import { MAX_CHUNKS_PER_DOC } from '../types.js';
import type { CollectionStore, StorageBackend } from './store.js';
import { vectorToBytes } from './validate.js';

export interface MigrateReport {
  documents: number;
  vectors: Record<string, number>;
  checksum: string;
  verified: boolean;
  resumed: boolean;
}

const CHECKPOINT = 'migrate:checkpoint';

/** XOR of per-item sha256 digests: equal for equal sets, whatever the order. */
class SetDigest {
  private readonly acc = Buffer.alloc(32);
  add(...parts: (string | Buffer)[]): void {
    const h = createHash('sha256');
    for (const p of parts) h.update(typeof p === 'string' ? p : p).update('\u0000');
    const d = h.digest();
    for (let i = 0; i < 32; i++) this.acc[i]! ^= d[i]!;
  }
  hex(): string {
    return this.acc.toString('hex');
  }
}

/** JSON with object keys sorted, so backends that reorder keys (jsonb) digest the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function docDigestParts(d: StoredDocument): string[] {
  return [d.id, d.title ?? '\u0001', d.text, d.metadata ? canonical(d.metadata) : '\u0001'];
}

/** Digest of a whole collection: documents, and vectors keyed by (doc id, chunk) so keys may differ. */
export async function collectionDigest(store: CollectionStore, fields: string[]): Promise<{ checksum: string; documents: number; vectors: Record<string, number> }> {
  const docs = new SetDigest();
  const idOfKey = new Map<number, string>();
  let n = 0;
  for await (const d of store.scan({ batchSize: 1000 })) {
    docs.add(...docDigestParts(d));
    idOfKey.set(d.key, d.id);
    n++;
  }
  const vectors: Record<string, number> = {};
  for (const f of fields) {
    let count = 0;
    for await (const v of store.scanVectors(f)) {
      const docKey = Math.floor(v.key / MAX_CHUNKS_PER_DOC);
      docs.add('vec', f, idOfKey.get(docKey) ?? `?${docKey}`, String(v.key % MAX_CHUNKS_PER_DOC), vectorToBytes(v.vector));
      count++;
    }
    vectors[f] = count;
  }
  return { checksum: docs.hex(), documents: n, vectors };
}

export async function migrateCollection(
  from: StorageBackend,
  to: StorageBackend,
  name: string,
  opts: { batchSize?: number; resume?: boolean; onProgress?: (copied: number) => void } = {},
): Promise<MigrateReport> {
  const batchSize = opts.batchSize ?? 500;
  const src = await from.openCollection(name);
  try {
    const config = await src.getConfig();
    const fields = config.vectors.map((v) => v.name);
    let dst: CollectionStore;
    let resumed = false;
    if ((await to.listCollections()).includes(name)) {
      dst = await to.openCollection(name);
      const cp = (await dst.getMeta(CHECKPOINT)) as { done?: boolean } | undefined;
      if (!opts.resume || !cp) {
        await dst.close();
        throw new QuiverError('COLLECTION_EXISTS', `the target already has a collection "${name}"`, { location: { field: 'to' } });
      }
      resumed = true;
    } else {
      dst = await to.createCollection(name, config as CollectionConfig);
      await dst.setMeta(CHECKPOINT, { lastId: null, done: false });
    }
    try {
      const cp = (await dst.getMeta(CHECKPOINT)) as { lastId: string | null; done: boolean };
      if (!cp.done) {
        // Documents in id order so the checkpoint (last id copied) is a valid resume point.
        let cursor: string | undefined;
        let copied = 0;
        for (;;) {
          const page = await src.list({ ...(cursor ? { cursor } : {}), limit: batchSize });
          const docs = page.docs.filter((d) => cp.lastId === null || d.id > cp.lastId);
          if (docs.length) {
            const res = await dst.upsert(docs.map(({ id, title, text, metadata }) => ({ id, text, ...(title !== undefined ? { title } : {}), ...(metadata ? { metadata } : {}) })));
            // Vectors are keyed by passage key = docKey * 65536 + chunk: re-key onto the target's doc keys.
            for (const f of fields) {
              const items: { key: number; vector: Float32Array }[] = [];
              for (const [i, d] of docs.entries()) {
                const lo = d.key * MAX_CHUNKS_PER_DOC;
                for await (const v of scanDocVectors(src, f, lo)) {
                  items.push({ key: res.keys[i]! * MAX_CHUNKS_PER_DOC + (v.key - lo), vector: v.vector });
                }
              }
              if (items.length) await dst.putVectors(f, items);
            }
            copied += docs.length;
            await dst.setMeta(CHECKPOINT, { lastId: docs[docs.length - 1]!.id, done: false });
            opts.onProgress?.(copied);
          }
          if (!page.next) break;
          cursor = page.next;
        }
        await dst.setConfig(config);
        await dst.setMeta(CHECKPOINT, { lastId: null, done: true } as unknown as JsonValue);
      }
      const a = await collectionDigest(src, fields);
      const b = await collectionDigest(dst, fields);
      const verified = a.checksum === b.checksum && a.documents === b.documents;
      if (!verified) {
        throw new QuiverError('STORE_ERROR', `migration of "${name}" did not verify: ${a.documents} vs ${b.documents} documents, checksums ${a.checksum.slice(0, 12)} vs ${b.checksum.slice(0, 12)}`);
      }
      return { documents: b.documents, vectors: b.vectors, checksum: b.checksum, verified, resumed };
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/** Vectors of one document (all its chunks), found by scanning keys from its first passage key. */
async function* scanDocVectors(store: CollectionStore, field: string, lo: number): AsyncIterable<{ key: number; vector: Float32Array }> {
  // Chunks are numbered from 0 without gaps, so a block that is not full is the last one.
  for (let chunk = 0; chunk < MAX_CHUNKS_PER_DOC; chunk += 64) {
    const got = await store.getVectors(field, Array.from({ length: 64 }, (_, i) => lo + chunk + i));
    for (const v of got) yield v;
    if (got.length < 64) return;
  }
}
