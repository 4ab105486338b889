import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QuiverError } from '../../errors.js';
import { tempDir } from '../../testing/paths.js';
import { ExactVectorIndex } from './exact.js';
import { UsearchVectorIndex } from './usearch.js';
import { clusteredVectors, runVectorIndexConformance } from './vector-index.conformance.js';

const none = async () => undefined;
runVectorIndexConformance('exact', async ({ dims, metric }) => ({ index: new ExactVectorIndex(dims, metric), cleanup: none }), { metrics: ['cos', 'ip', 'l2'] });
// exactBelow: 0 forces the HNSW graph at this size.
runVectorIndexConformance('usearch f32', async ({ dims, metric }) => ({ index: new UsearchVectorIndex({ dims, metric, exactBelow: 0 }), cleanup: none }), { metrics: ['cos', 'l2'] });
runVectorIndexConformance('usearch i8 + rescore', async ({ dims, metric }) => ({ index: new UsearchVectorIndex({ dims, metric, quantization: 'i8', exactBelow: 0 }), cleanup: none }));
runVectorIndexConformance('usearch f16 + rescore', async ({ dims, metric }) => ({ index: new UsearchVectorIndex({ dims, metric, quantization: 'f16', exactBelow: 0 }), cleanup: none }));

describe('usearch persistence', () => {
  const data = clusteredVectors(2000, 16, 50, 3);
  const keys = data.map((_, i) => i * 65536);

  it('round-trips graph, vectors and watermark', async () => {
    const t = tempDir();
    try {
      const idx = new UsearchVectorIndex({ dims: 16, exactBelow: 0 });
      await idx.add(keys, data);
      const path = join(t.dir, 'v.usearch');
      await idx.save(path, 17);
      const { index, watermark } = await UsearchVectorIndex.open(path, { dims: 16, exactBelow: 0 });
      assert.equal(watermark, 17);
      assert.equal(index.size(), 2000);
      for (const q of data.slice(0, 20)) {
        const [a, b] = [await index.search(q, 5), await idx.search(q, 5)];
        assert.deepEqual(a.map((h) => h.key), b.map((h) => h.key));
        a.forEach((h, i) => assert.ok(Math.abs(h.score - b[i]!.score) < 1e-6));
      }
    } finally {
      t.cleanup();
    }
  });

  it('refuses torn, corrupted, mismatched or sidecar-less files', async () => {
    const t = tempDir();
    try {
      const idx = new UsearchVectorIndex({ dims: 16 });
      await idx.add(keys, data);
      const path = join(t.dir, 'v.usearch');
      const bad = (re: RegExp) => assert.rejects(UsearchVectorIndex.open(path, { dims: 16 }), (e: QuiverError) => e.code === 'INDEX_CORRUPT' && re.test(e.message));
      await idx.save(path, 1);
      truncateSync(path, statSync(path).size - 100);
      await bad(/size/);
      await idx.save(path, 1);
      const bytes = readFileSync(path);
      bytes[200] = bytes[200]! ^ 0xff;
      writeFileSync(path, bytes);
      await bad(/checksum/);
      await idx.save(path, 1);
      await assert.rejects(UsearchVectorIndex.open(path, { dims: 16, quantization: 'i8' }), (e: QuiverError) => e.code === 'INDEX_CORRUPT');
      rmSync(`${path}.json`);
      await bad(/sidecar/);
    } finally {
      t.cleanup();
    }
  });

  it('i8 with exact rescoring reaches recall@10 ≥ 0.99 on clustered data', async () => {
    const vecs = clusteredVectors(20000, 64, 1000, 11);
    const ks = vecs.map((_, i) => i);
    const exact = new ExactVectorIndex(64);
    await exact.add(ks, vecs);
    const raw = new UsearchVectorIndex({ dims: 64, quantization: 'i8', oversample: 1, exactBelow: 0 });
    const rescored = new UsearchVectorIndex({ dims: 64, quantization: 'i8', exactBelow: 0 });
    await raw.add(ks, vecs);
    await rescored.add(ks, vecs);
    let hitRaw = 0;
    let hitRescored = 0;
    for (const q of clusteredVectors(200, 64, 1000, 12)) {
      const truth = new Set((await exact.search(q, 10)).map((h) => h.key));
      hitRaw += (await raw.search(q, 10)).filter((h) => truth.has(h.key)).length;
      hitRescored += (await rescored.search(q, 10)).filter((h) => truth.has(h.key)).length;
    }
    assert.ok(hitRescored / 2000 >= 0.99, `rescored recall ${hitRescored / 2000}`);
    console.log(`i8 recall@10: raw ${hitRaw / 2000}, rescored ${hitRescored / 2000}`);
  });
});
