/**
 * pgvector index through the wire protocol (PGlite + pglite-socket + pg): every metric with the
 * exact and the quantized (halfvec, binary) HNSW indexes against brute force computed here —
 * recall, exact scores after re-ranking, upsert/remove semantics, filters joined in SQL, and
 * collections isolated by the `collection` key column.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { VectorMetric } from '../../index/vector/vector-index.js';
import { compileFilter } from '../../retrieve/filter.js';
import { DEFAULT_COLLECTION_CONFIG, MAX_CHUNKS_PER_DOC } from '../../types.js';
import type { PostgresBackend } from './postgres-backend.js';
import { openPostgresBackend } from './postgres-backend.js';
import { PgVectorIndex } from './pg-vector.js';
import { startPgliteServer } from './testing/pglite-server.js';
import type { PgliteServer } from './testing/pglite-server.js';

const DIMS = 24;
const N = 300;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVectors(n: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: DIMS }, () => r() * 2 - 1));
}

/** Similarity as the VectorIndex contract defines it (higher is better), in float64. */
function similarity(metric: VectorMetric, a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
    l2 += (a[i]! - b[i]!) ** 2;
  }
  return metric === 'cos' ? dot / Math.sqrt(na * nb) : metric === 'ip' ? dot : -l2;
}

// Passage keys of documents 1..N (chunk 0), so filters can join quiver_docs on docKey.
const keyOf = (i: number) => (i + 1) * MAX_CHUNKS_PER_DOC;

describe('pgvector index', () => {
  let server: PgliteServer;
  let backend: PostgresBackend;
  const vectors = randomVectors(N, 7);
  const queries = randomVectors(20, 99);

  before(async () => {
    server = await startPgliteServer();
    backend = await openPostgresBackend(server.url);
    const store = await backend.createCollection('vecs', DEFAULT_COLLECTION_CONFIG);
    await store.upsert(
      vectors.map((_, i) => ({
        id: `d${i}`,
        text: `doc ${i}`,
        metadata: { parity: i % 2 === 0 ? 'even' : 'odd' },
      })),
    );
    await backend.createCollection('other', DEFAULT_COLLECTION_CONFIG);
  });
  after(async () => {
    await backend.close();
    await server.stop();
  });

  for (const quantization of ['f32', 'f16', 'b1'] as const) {
    for (const metric of ['cos', 'ip', 'l2'] as const) {
      it(`${metric} with a ${quantization} index: high recall and exact scores`, async () => {
        const field = `f_${quantization}_${metric}`;
        const idx = (await backend.createVectorIndex('vecs', field, {
          dims: DIMS,
          metric,
          quantization,
        })) as PgVectorIndex;
        assert.equal(
          idx.indexKind,
          quantization === 'f32' ? 'vector' : quantization === 'f16' ? 'halfvec' : 'bit',
        );
        await idx.add(
          vectors.map((_, i) => keyOf(i)),
          vectors,
        );
        assert.equal(idx.size(), N);
        let hit = 0;
        for (const q of queries) {
          const got = await idx.search(q, 10);
          assert.equal(got.length, 10);
          const exact = vectors
            .map((v, i) => ({ key: keyOf(i), score: similarity(metric, q, v) }))
            .sort((a, b) => b.score - a.score)
            .slice(0, 10);
          const want = new Set(exact.map((h) => h.key));
          hit += got.filter((h) => want.has(h.key)).length;
          for (const h of got) {
            const v = vectors[h.key / MAX_CHUNKS_PER_DOC - 1]!;
            const s = similarity(metric, q, v);
            assert.ok(
              Math.abs(h.score - s) < 1e-5 * Math.max(1, Math.abs(s)),
              `exact score for ${h.key}: ${h.score} vs ${s}`,
            );
          }
          for (let i = 1; i < got.length; i++)
            assert.ok(got[i - 1]!.score >= got[i]!.score, 'sorted by score');
        }
        const recall = hit / (queries.length * 10);
        assert.ok(recall >= (quantization === 'b1' ? 0.85 : 0.95), `recall@10 ${recall}`);
      });
    }
  }

  it('upserts per key, removes, filters in SQL, and keeps collections apart', async () => {
    const idx = (await backend.createVectorIndex('vecs', 'crud', {
      dims: DIMS,
      metric: 'cos',
    })) as PgVectorIndex;
    const other = (await backend.createVectorIndex('other', 'crud', {
      dims: DIMS,
      metric: 'cos',
    })) as PgVectorIndex;
    await idx.add(
      vectors.slice(0, 50).map((_, i) => keyOf(i)),
      vectors.slice(0, 50),
    );
    // The other collection holds the exact query vector under a key that does not exist in 'vecs'.
    await other.add([keyOf(999)], [queries[0]!]);
    assert.equal(other.size(), 1);
    let hits = await idx.search(queries[0]!, 5);
    assert.ok(!hits.some((h) => h.key === keyOf(999)), 'no hits from another collection');

    // Same key again with a new vector: replaced, not duplicated.
    await idx.add([keyOf(3), keyOf(3)], [vectors[200]!, queries[0]!]);
    assert.equal(idx.size(), 50);
    hits = await idx.search(queries[0]!, 1);
    assert.equal(hits[0]!.key, keyOf(3));
    assert.ok(Math.abs(hits[0]!.score - 1) < 1e-5);

    const even = await idx.search(queries[0]!, 10, { filter: compileFilter({ parity: 'even' }) });
    assert.equal(even.length, 10);
    assert.ok(
      even.every((h) => (h.key / MAX_CHUNKS_PER_DOC - 1) % 2 === 0),
      'only even documents',
    );
    assert.ok(!even.some((h) => h.key === keyOf(3)), 'the best (odd) match is filtered out inside the query');
    const evil = await idx.search(queries[0]!, 10, {
      filter: compileFilter({ parity: "even'); DROP TABLE quiver_docs; --" }),
    });
    assert.deepEqual(evil, []);

    await idx.remove([keyOf(3), keyOf(4), keyOf(12345)]);
    assert.equal(idx.size(), 48);
    hits = await idx.search(queries[0]!, 50);
    assert.equal(hits.length, 48);
    assert.ok(!hits.some((h) => h.key === keyOf(3) || h.key === keyOf(4)));
    await assert.rejects(() => idx.add([keyOf(1)], [new Float32Array(DIMS + 1)]), {
      code: 'DIMENSION_MISMATCH',
    });
    await assert.rejects(() => backend.createVectorIndex('vecs', 'bad', { dims: 0, metric: 'cos' }), {
      code: 'INVALID_CONFIG',
    });

    // The planner uses the HNSW index, not an exact scan of the collection's rows (which it picks
    // when it has no statistics for the table).
    const big = (await backend.createVectorIndex('vecs', 'planned', {
      dims: DIMS,
      metric: 'cos',
    })) as PgVectorIndex;
    const many = randomVectors(5000, 3);
    for (let i = 0; i < many.length; i += 1000) {
      await big.add(
        many.slice(i, i + 1000).map((_, j) => keyOf(i + j)),
        many.slice(i, i + 1000),
      );
    }
    assert.match(await big.explain(queries[0]!, 10), /Index Scan using "?qv_\w+_hnsw/);

    // Reopening counts only this collection's rows.
    const again = await backend.createVectorIndex('vecs', 'crud', { dims: DIMS, metric: 'cos' });
    assert.equal(again.size(), 48);
    const cols = await backend.pool.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name LIKE 'qv\\_%' ESCAPE '\\' GROUP BY column_name ORDER BY column_name",
    );
    assert.deepEqual(
      cols.rows.map((r) => r.column_name),
      ['collection', 'embedding', 'key'],
      'vector tables carry the distribution key',
    );
  });
});
