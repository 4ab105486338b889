/**
 * Copy a collection between storage backends (data directory ⇄ Postgres), streaming in batches,
 * resumable (a checkpoint in the target's meta), and verified: document counts plus an
 * order-independent checksum of ids, titles, texts and metadata, and of every vector's bytes.
 *
 * The target must be usable at once, without re-embedding: the engine's per-field state (the
 * fitted embedder and the "every passage has a vector through seq N" watermark) is copied with the
 * watermark moved to the target's seq, and a target that keeps its indexes in the database
 * (Postgres) gets them filled here, since the engine trusts those to be maintained with the
 * documents. Embedded targets rebuild their index files from the store of record when opened.
 */
import { createHash } from 'node:crypto';
import { createAnalyzer } from '../analyze/index.js';
import { QuiverError } from '../errors.js';
import type { LexicalIndex } from '../index/lexical/lexical-index.js';
import type { VectorIndex } from '../index/vector/vector-index.js';
import { chunkDocument } from '../ingest/chunker.js';
import type { CollectionConfig, JsonValue, StoredDocument } from '../types.js';
import { MAX_CHUNKS_PER_DOC } from '../types.js';
import type { CollectionStore, StorageBackend } from './store.js';
import { META_KEYS } from './store.js';
import { vectorToBytes } from './validate.js';

export interface MigrateReport {
  documents: number;
  vectors: Record<string, number>;
  checksum: string;
  verified: boolean;
  resumed: boolean;
}

const CHECKPOINT = 'migrate:checkpoint';
const fieldStateKey = META_KEYS.vectorField;
const embedderStateKey = META_KEYS.embedderState;

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
  // Sparse vectors only add parts when present, so digests of collections without them are unchanged.
  return [
    d.id,
    d.title ?? '\u0001',
    d.text,
    d.metadata ? canonical(d.metadata) : '\u0001',
    ...(d.sparse ? ['sparse', canonical(d.sparse)] : []),
  ];
}

/** Digest of a whole collection: documents, and vectors keyed by (doc id, chunk) so keys may differ. */
export async function collectionDigest(
  store: CollectionStore,
  fields: string[],
): Promise<{ checksum: string; documents: number; vectors: Record<string, number> }> {
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
      docs.add(
        'vec',
        f,
        idOfKey.get(docKey) ?? `?${docKey}`,
        String(v.key % MAX_CHUNKS_PER_DOC),
        vectorToBytes(v.vector),
      );
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
        throw new QuiverError('COLLECTION_EXISTS', `the target already has a collection "${name}"`, {
          location: { field: 'to' },
        });
      }
      resumed = true;
    } else {
      dst = await to.createCollection(name, config as CollectionConfig);
      await dst.setMeta(CHECKPOINT, { lastId: null, done: false });
    }
    try {
      const cp = (await dst.getMeta(CHECKPOINT)) as { lastId: string | null; done: boolean };
      // In-database indexes of the target (Postgres), filled batch by batch with the documents.
      const lexical: LexicalIndex | undefined = to.createLexicalIndex
        ? await to.createLexicalIndex(name, {
            analyzer: createAnalyzer(config.analyzer),
            k1: config.bm25.k1,
            b: config.bm25.b,
          })
        : undefined;
      const vectorIndexes = new Map<string, VectorIndex>();
      const vectorIndex = async (
        f: CollectionConfig['vectors'][number],
        dims: number,
      ): Promise<VectorIndex | undefined> => {
        if (!to.createVectorIndex) return undefined;
        let idx = vectorIndexes.get(f.name);
        if (!idx) {
          idx = await to.createVectorIndex(name, f.name, {
            dims,
            metric: f.metric ?? 'cos',
            ...(f.quantization ? { quantization: f.quantization } : {}),
          });
          vectorIndexes.set(f.name, idx);
        }
        return idx;
      };
      if (!cp.done) {
        // Documents in id order so the checkpoint (last id copied) is a valid resume point.
        let cursor: string | undefined;
        let copied = 0;
        for (;;) {
          const page = await src.list({ ...(cursor ? { cursor } : {}), limit: batchSize });
          const docs = page.docs.filter((d) => cp.lastId === null || d.id > cp.lastId);
          if (docs.length) {
            const res = await dst.upsert(
              docs.map(({ id, title, text, metadata, sparse }) => ({
                id,
                text,
                ...(title !== undefined ? { title } : {}),
                ...(metadata ? { metadata } : {}),
                ...(sparse ? { sparse } : {}),
              })),
            );
            if (lexical) {
              // The passages the engine would index (Collection.passagesOf), under the target's keys.
              await lexical.add(
                docs.flatMap((d, i) =>
                  chunkDocument({ ...d, key: res.keys[i]!, seq: res.seq }, config.chunking),
                ),
              );
            }
            // Vectors are keyed by passage key = docKey * 65536 + chunk: re-key onto the target's doc keys.
            for (const f of config.vectors.map((v) => v.name)) {
              const items: { key: number; vector: Float32Array }[] = [];
              for (const [i, d] of docs.entries()) {
                const lo = d.key * MAX_CHUNKS_PER_DOC;
                for await (const v of scanDocVectors(src, f, lo)) {
                  items.push({ key: res.keys[i]! * MAX_CHUNKS_PER_DOC + (v.key - lo), vector: v.vector });
                }
              }
              if (items.length) {
                await dst.putVectors(f, items);
                const idx = await vectorIndex(
                  config.vectors.find((v) => v.name === f)!,
                  items[0]!.vector.length,
                );
                await idx?.add(
                  items.map((x) => x.key),
                  items.map((x) => x.vector),
                );
              }
            }
            copied += docs.length;
            await dst.setMeta(CHECKPOINT, { lastId: docs[docs.length - 1]!.id, done: false });
            opts.onProgress?.(copied);
          }
          if (!page.next) break;
          cursor = page.next;
        }
        await dst.setConfig(config);
        await copyFieldState(src, dst, fields);
        // The target's in-database lexical index now holds every copied passage.
        if (lexical) await dst.setMeta(META_KEYS.lexical, { seq: await dst.headSeq() });
        await dst.setMeta(CHECKPOINT, { lastId: null, done: true } as unknown as JsonValue);
      }
      const a = await collectionDigest(src, fields);
      const b = await collectionDigest(dst, fields);
      const verified = a.checksum === b.checksum && a.documents === b.documents;
      if (!verified) {
        throw new QuiverError(
          'STORE_ERROR',
          `migration of "${name}" did not verify: ${a.documents} vs ${b.documents} documents, checksums ${a.checksum.slice(0, 12)} vs ${b.checksum.slice(0, 12)}`,
        );
      }
      return { documents: b.documents, vectors: b.vectors, checksum: b.checksum, verified, resumed };
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/**
 * The engine's per-field state: the fitted embedder as is; the vector watermark moved to the
 * target's head when the source had a vector for every passage (else 0: the target re-embeds).
 */
async function copyFieldState(src: CollectionStore, dst: CollectionStore, fields: string[]): Promise<void> {
  const srcHead = await src.headSeq();
  const dstHead = await dst.headSeq();
  for (const f of fields) {
    const embedder = await src.getMeta(embedderStateKey(f));
    if (embedder !== undefined) await dst.setMeta(embedderStateKey(f), embedder);
    const state = await src.getMeta(fieldStateKey(f));
    if (state && typeof state === 'object' && !Array.isArray(state)) {
      const complete = state['seq'] === srcHead;
      await dst.setMeta(fieldStateKey(f), { ...state, seq: complete ? dstHead : 0 });
    }
  }
}

/** Vectors of one document (all its chunks), found by scanning keys from its first passage key. */
async function* scanDocVectors(
  store: CollectionStore,
  field: string,
  lo: number,
): AsyncIterable<{ key: number; vector: Float32Array }> {
  // Chunks are numbered from 0 without gaps, so a block that is not full is the last one.
  for (let chunk = 0; chunk < MAX_CHUNKS_PER_DOC; chunk += 64) {
    const got = await store.getVectors(
      field,
      Array.from({ length: 64 }, (_, i) => lo + chunk + i),
    );
    for (const v of got) yield v;
    if (got.length < 64) return;
  }
}
