import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { QuiverError } from '../../errors.js';
import { compileFilter } from '../../retrieve/filter.js';
import { tempDir } from '../../testing/paths.js';
import { InvertedSparseIndex } from './inverted-sparse.js';
import { bruteForce, randomSparse, runSparseConformance } from './sparse-index.conformance.js';
import type { SparseVector } from './sparse-index.js';

runSparseConformance('in-memory inverted index (MaxScore)', async () => ({
  index: new InvertedSparseIndex(),
  cleanup: async () => undefined,
}));
runSparseConformance('in-memory inverted index (exhaustive)', async () => ({
  index: new InvertedSparseIndex({ pruning: false }),
  cleanup: async () => undefined,
}));

let seed = 3;
const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;

describe('sparse index internals', () => {
  it('MaxScore pruning returns exactly what exhaustive scoring returns', async () => {
    const pruned = new InvertedSparseIndex();
    const exhaustive = new InvertedSparseIndex({ pruning: false });
    const items = Array.from({ length: 3000 }, (_, i) => ({
      key: i,
      vector: randomSparse(rand, 5 + Math.floor(rand() * 80), 2000),
    }));
    const filter = compileFilter({});
    filter.allows = (key) => key % 3 !== 0;
    for (const idx of [pruned, exhaustive]) {
      await idx.upsert(items);
      await idx.remove(Array.from({ length: 200 }, (_, i) => i * 11));
    }
    for (let q = 0; q < 40; q++) {
      const query = randomSparse(rand, 2 + Math.floor(rand() * 40), 2000);
      for (const k of [1, 10, 50]) {
        for (const opts of [{}, { filter }]) {
          assert.deepEqual(
            await pruned.search(query, k, opts),
            await exhaustive.search(query, k, opts),
            `q${q} k=${k}`,
          );
        }
      }
    }
  });

  it('compacts postings after many deletes without changing results', async () => {
    const idx = new InvertedSparseIndex();
    const truth = new Map<number, SparseVector>();
    const items = Array.from({ length: 4000 }, (_, i) => ({ key: i, vector: randomSparse(rand, 20) }));
    await idx.upsert(items);
    for (const it of items) truth.set(it.key, it.vector);
    const gone = items.filter((_, i) => i % 3 !== 0).map((x) => x.key); // 2/3 dead: compaction runs
    await idx.remove(gone);
    for (const k of gone) truth.delete(k);
    assert.equal(idx.size(), truth.size);
    for (let q = 0; q < 10; q++) {
      const query = randomSparse(rand, 10);
      const got = (await idx.search(query, 20)).map((h) => h.key);
      const want = bruteForce(truth, query, 20).map((h) => h.key);
      assert.deepEqual(new Set(got), new Set(want));
    }
  });
});

describe('sparse index snapshots', () => {
  const items = Array.from({ length: 300 }, (_, i) => ({
    key: i * 65536,
    vector: { [`topic${i % 17}`]: 1 + (i % 5), shared: 0.25, 'odd\nterm "quoted"': i % 2 ? 0.5 : 0 },
  }));

  it('round-trips: a loaded snapshot answers exactly like the original', async () => {
    const t = tempDir();
    try {
      const idx = new InvertedSparseIndex({ fingerprint: 'user' });
      await idx.upsert(items);
      await idx.remove([0, 65536]);
      // A deleted heavy weight leaves a stale bound on "shared": clause order (and with it the
      // float32 sums) must survive the reload bit for bit.
      await idx.upsert([{ key: 7, vector: { shared: 50, topic5: 0.001 } }]);
      await idx.remove([7]);
      const path = join(t.dir, 'sparse.idx');
      await idx.save(path, { watermark: 42 });
      const { index, watermark } = await InvertedSparseIndex.load(path, { fingerprint: 'user' });
      assert.equal(watermark, 42);
      assert.equal(index.size(), 298);
      for (const q of [
        { topic3: 1 },
        { shared: 1, topic5: 0.5 },
        { 'odd\nterm "quoted"': 2 },
      ] as SparseVector[])
        assert.deepEqual(
          await index.search(q, 10, { explain: true }),
          await idx.search(q, 10, { explain: true }),
        );
    } finally {
      t.cleanup();
    }
  });

  it('detects torn, corrupted, foreign and mismatched snapshots', async () => {
    const t = tempDir();
    try {
      const idx = new InvertedSparseIndex({ fingerprint: 'user' });
      await idx.upsert(items);
      const path = join(t.dir, 'sparse.idx');
      const corrupt = async (why: RegExp, fingerprint = 'user') =>
        assert.rejects(
          InvertedSparseIndex.load(path, { fingerprint }),
          (e: QuiverError) => e.code === 'INDEX_CORRUPT' && why.test(e.message),
        );
      await idx.save(path, { watermark: 1 });
      truncateSync(path, statSync(path).size - 10);
      await corrupt(/truncated/);
      await idx.save(path, { watermark: 1 });
      const bytes = readFileSync(path);
      bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
      writeFileSync(path, bytes);
      await corrupt(/checksum/);
      writeFileSync(path, 'not an index');
      await corrupt(/magic/);
      await idx.save(path, { watermark: 1 });
      await corrupt(/built from user/, 'naver/splade-v3');
      rmSync(path);
      await assert.rejects(InvertedSparseIndex.load(path, { fingerprint: 'user' }), /ENOENT/);
    } finally {
      t.cleanup();
    }
  });
});
