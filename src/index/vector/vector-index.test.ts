import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compileFilter } from '../../retrieve/filter.js';
import { QuiverError } from '../../errors.js';
import { tempDir } from '../../testing/paths.js';
import { ExactVectorIndex } from './exact.js';
import { UsearchVectorIndex, indexFiles } from './usearch.js';
import type { UsearchOptions } from './usearch.js';
import type { VectorIndex, VectorMetric } from './vector-index.js';
import { clusteredVectors, runVectorIndexConformance } from './vector-index.conformance.js';

const none = async () => undefined;
const usearch =
  (opts: Omit<UsearchOptions, 'dims' | 'metric'>) =>
  async ({ dims, metric }: { dims: number; metric: VectorMetric }) => ({
    // exactBelow: 0 forces the HNSW graph at these sizes.
    index: new UsearchVectorIndex({ dims, metric, exactBelow: 0, ...opts }),
    cleanup: none,
  });

runVectorIndexConformance(
  'exact',
  async ({ dims, metric }) => ({ index: new ExactVectorIndex(dims, metric), cleanup: none }),
  {
    metrics: ['cos', 'ip', 'l2'],
    approximate: false,
  },
);
runVectorIndexConformance('usearch f32', usearch({}), { metrics: ['cos', 'ip', 'l2'] });
// The brief's realistic size: 20k × 64-d around 1,000 clusters (20 points each).
runVectorIndexConformance('usearch f32, 20k × 64-d', usearch({}), { n: 20_000, dims: 64, clusters: 1000 });
runVectorIndexConformance('usearch i8 + rescore', usearch({ quantization: 'i8' }));
/** A Map standing in for the store of record: the index fetches vectors instead of copying them. */
function storeBacked(opts: UsearchOptions): {
  index: VectorIndex;
  store: Map<number, Float32Array>;
  usearch: UsearchVectorIndex;
} {
  const store = new Map<number, Float32Array>();
  const getVectors = async (keys: number[]) =>
    keys.flatMap((key) => {
      const vector = store.get(key);
      return vector ? [{ key, vector }] : [];
    });
  const inner = new UsearchVectorIndex({ ...opts, getVectors });
  const index: VectorIndex = {
    dims: inner.dims,
    metric: inner.metric,
    size: () => inner.size(),
    async add(keys, vectors) {
      keys.forEach((k, i) => store.set(k, vectors[i]!));
      await inner.add(keys, vectors);
    },
    async remove(keys) {
      await inner.remove(keys);
      keys.forEach((k) => store.delete(k));
    },
    search: (q, k, o) => inner.search(q, k, o),
  };
  return { index, store, usearch: inner };
}
runVectorIndexConformance('usearch i8 + rescore from the store (getVectors)', async ({ dims, metric }) => ({
  index: storeBacked({ dims, metric, quantization: 'i8' }).index,
  cleanup: none,
}));
runVectorIndexConformance('usearch f16 + rescore', usearch({ quantization: 'f16' }), {
  metrics: ['cos', 'l2'],
});
// Copies spilled to a scratch file: residentMax 1,000 < 5,000 vectors, so every search, filter and
// removal below runs against the file (the suite removes 1/7, staying above half of residentMax).
const spillRoot = tempDir('quiver-spill-');
after(() => spillRoot.cleanup());
runVectorIndexConformance(
  'usearch i8 + rescore, f32 copies spilled to disk',
  usearch({ quantization: 'i8', spill: { dir: spillRoot.dir, residentMax: 1000 } }),
);
runVectorIndexConformance(
  'usearch f32, copies spilled to disk',
  usearch({ spill: { dir: spillRoot.dir, residentMax: 1000 } }),
  { metrics: ['cos', 'l2'] },
);

describe('usearch with f32 copies spilled to disk', () => {
  const data = clusteredVectors(3000, 24, 60, 5);
  const keys = data.map((_, i) => i * 5 + 2);
  const queries = clusteredVectors(30, 24, 60, 5, { querySeed: 6 });
  const topKeys = async (index: VectorIndex, q: Float32Array, opts = {}) =>
    (await index.search(q, 10, opts)).map((h) => `${h.key}:${h.score.toFixed(5)}`);

  /** Every hit scored exactly, recall@10 ≥ 0.97 unfiltered, and exact answers under a selective filter. */
  async function agrees(index: UsearchVectorIndex, truth: ExactVectorIndex): Promise<void> {
    const selective = compileFilter({});
    selective.allows = (k) => k % 3 === 0;
    selective.allowedKeys = truth.keys().filter(selective.allows);
    let hit = 0;
    for (const q of queries) {
      const got = await index.search(q, 10);
      const exactScores = new Map(
        truth
          .scoreKeys(
            q,
            got.map((h) => h.key),
          )
          .map((h) => [h.key, h.score]),
      );
      for (const h of got)
        assert.ok(Math.abs(h.score - exactScores.get(h.key)!) < 1e-5, `key ${h.key} rescored exactly`);
      const want = new Set(truth.searchSync(q, 10).map((h) => h.key));
      hit += got.filter((h) => want.has(h.key)).length;
      assert.deepEqual(
        await topKeys(index, q, { filter: selective }),
        await topKeys(truth, q, { filter: selective }),
      );
    }
    assert.ok(hit / (10 * queries.length) >= 0.97, `recall@10 ${hit / (10 * queries.length)}`);
  }

  it('holds no f32 copies in memory above residentMax, takes them back at half, with the same answers', async () => {
    const t = tempDir();
    try {
      const truth = new ExactVectorIndex(24);
      const spilled = new UsearchVectorIndex({
        dims: 24,
        quantization: 'i8',
        exactBelow: 0,
        spill: { dir: t.dir, residentMax: 1000 },
      });
      await spilled.add(keys.slice(0, 800), data.slice(0, 800));
      assert.equal(spilled.residentVectors(), 800, 'small: in memory');
      await spilled.add(keys.slice(800), data.slice(800));
      truth.addSync(keys, data);
      assert.equal(spilled.residentVectors(), 0, 'large: no copy in memory');
      assert.equal(spilled.size(), 3000);
      assert.deepEqual(readdirSync(t.dir), [], 'the scratch file is unlinked while open');
      await agrees(spilled, truth);
      // Replace and remove while spilled; then shrink to half of residentMax.
      await spilled.add([keys[0]!], [data[1]!]);
      truth.addSync([keys[0]!], [data[1]!]);
      await spilled.remove(keys.slice(100, 1500));
      truth.removeSync(keys.slice(100, 1500));
      assert.equal(spilled.residentVectors(), 0, 'above half of residentMax: still spilled');
      await agrees(spilled, truth);
      await spilled.remove(keys.slice(1500, 2600));
      truth.removeSync(keys.slice(1500, 2600));
      assert.equal(spilled.residentVectors(), 500, 'shrunk to half: back in memory');
      await agrees(spilled, truth);
      spilled.close();
    } finally {
      t.cleanup();
    }
  });

  it('saves the spilled rows and reopens spilled (or in memory without spill), with the same answers', async () => {
    const t = tempDir();
    try {
      const opts = { dims: 24, quantization: 'i8' as const, exactBelow: 0 };
      const spill = { dir: t.dir, residentMax: 1000 };
      const idx = new UsearchVectorIndex({ ...opts, spill });
      await idx.add(keys, data);
      await idx.remove(keys.slice(0, 50)); // free slots must not be saved
      await idx.add([1], [data[0]!]); // and are reused
      const path = join(t.dir, 'v.usearch');
      await idx.save(path, { watermark: 4 });
      assert.equal(statSync(indexFiles(path).vectors).size, 2951 * (8 + 24 * 4));
      const reopened = await UsearchVectorIndex.open(path, { ...opts, spill });
      const resident = await UsearchVectorIndex.open(path, opts);
      assert.equal(reopened.watermark, 4);
      assert.equal(reopened.index.residentVectors(), 0);
      assert.equal(resident.index.residentVectors(), 2951);
      for (const q of queries) {
        const expected = await topKeys(idx, q);
        assert.deepEqual(await topKeys(reopened.index, q), expected);
        assert.deepEqual(await topKeys(resident.index, q), expected);
      }
      // The reopened copy is writable without touching the saved file.
      await reopened.index.add([3], [queries[0]!]);
      assert.equal((await reopened.index.search(queries[0]!, 1))[0]!.key, 3);
      await UsearchVectorIndex.open(path, { ...opts, spill }); // still verifies
      for (const i of [idx, reopened.index]) i.close();
    } finally {
      t.cleanup();
    }
  });
});

describe('usearch configuration', () => {
  it('refuses i8 with l2 or ip, whose geometry usearch’s i8 rounding does not keep', () => {
    for (const metric of ['l2', 'ip'] as const) {
      assert.throws(
        () => new UsearchVectorIndex({ dims: 8, metric, quantization: 'i8' }),
        (e: QuiverError) => e.code === 'INVALID_CONFIG',
      );
    }
  });
});

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
        assert.deepEqual(
          a.map((h) => h.key),
          b.map((h) => h.key),
        );
        a.forEach((h, i) => assert.ok(Math.abs(h.score - b[i]!.score) < 1e-6));
      }
    } finally {
      t.cleanup();
    }
  });

  it('with getVectors, saves keys only and needs getVectors to open', async () => {
    const t = tempDir();
    try {
      const { index: wrapped, store, usearch: idx } = storeBacked({ dims: 16, quantization: 'i8' });
      await wrapped.add(keys, data);
      const path = join(t.dir, 'v.usearch');
      await idx.save(path, { watermark: 9 });
      assert.equal(statSync(indexFiles(path).vectors).size, keys.length * 8);
      await assert.rejects(
        UsearchVectorIndex.open(path, { dims: 16, quantization: 'i8' }),
        (e: QuiverError) => e.code === 'INDEX_CORRUPT' && /getVectors/.test(e.message),
      );
      const getVectors = async (ks: number[]) => ks.map((key) => ({ key, vector: store.get(key)! }));
      const { index, watermark } = await UsearchVectorIndex.open(path, {
        dims: 16,
        quantization: 'i8',
        getVectors,
      });
      assert.equal(watermark, 9);
      assert.equal(index.size(), keys.length);
      for (const q of data.slice(0, 10)) {
        assert.deepEqual(
          (await index.search(q, 5)).map((h) => h.key),
          (await idx.search(q, 5)).map((h) => h.key),
        );
      }
    } finally {
      t.cleanup();
    }
  });

  it('opens read-only by memory-mapping the graph, and refuses changes', async () => {
    const t = tempDir();
    try {
      const idx = new UsearchVectorIndex({ dims: 16, quantization: 'i8', exactBelow: 0 });
      await idx.add(keys, data);
      const path = join(t.dir, 'v.usearch');
      await idx.save(path, { watermark: 5 });
      const { index, watermark } = await UsearchVectorIndex.open(path, {
        dims: 16,
        quantization: 'i8',
        exactBelow: 0,
        readOnly: true,
      });
      assert.equal(watermark, 5);
      assert.deepEqual(
        (await index.search(data[7]!, 3)).map((h) => h.key),
        (await idx.search(data[7]!, 3)).map((h) => h.key),
      );
      await assert.rejects(index.add([1], [data[0]!]), (e: QuiverError) => e.code === 'NOT_IMPLEMENTED');
      await assert.rejects(index.remove([keys[0]!]), (e: QuiverError) => e.code === 'NOT_IMPLEMENTED');
    } finally {
      t.cleanup();
    }
  });

  it('refuses torn, corrupted, mismatched or incomplete files with INDEX_CORRUPT', async () => {
    const t = tempDir();
    try {
      const idx = new UsearchVectorIndex({ dims: 16 });
      await idx.add(keys, data);
      const path = join(t.dir, 'v.usearch');
      const files = indexFiles(path);
      const bad = (re: RegExp, opts: { dims: number; quantization?: 'i8' } = { dims: 16 }) =>
        assert.rejects(
          UsearchVectorIndex.open(path, opts),
          (e: QuiverError) => e.code === 'INDEX_CORRUPT' && re.test(e.message),
        );
      const flip = (file: string, at: number) => {
        const bytes = readFileSync(file);
        bytes[at] = bytes[at]! ^ 0xff;
        writeFileSync(file, bytes);
      };
      await idx.save(path, 1);
      await UsearchVectorIndex.open(path, { dims: 16 }); // the intact set opens
      truncateSync(files.graph, statSync(files.graph).size - 100);
      await bad(/graph file size/);
      await idx.save(path, 1);
      truncateSync(files.vectors, statSync(files.vectors).size - 1);
      await bad(/vectors file size/);
      await idx.save(path, 1);
      flip(files.graph, 200);
      await bad(/graph file checksum/);
      await idx.save(path, 1);
      flip(files.vectors, statSync(files.vectors).size - 3);
      await bad(/vectors file checksum/);
      await idx.save(path, 1);
      writeFileSync(files.sidecar, readFileSync(files.sidecar, 'utf8').slice(0, 40));
      await bad(/unreadable sidecar/);
      await idx.save(path, 1);
      await bad(/quantization/, { dims: 16, quantization: 'i8' });
      await bad(/dims/, { dims: 8 });
      // A crash between the renames of two saves: new graph, old sidecar.
      const other = new UsearchVectorIndex({ dims: 16 });
      await other.add(keys.slice(0, 100), data.slice(0, 100));
      const oldSidecar = readFileSync(files.sidecar);
      await other.save(path, 2);
      writeFileSync(files.sidecar, oldSidecar);
      await bad(/size|checksum/);
      await idx.save(path, 1);
      rmSync(files.vectors);
      await bad(/missing vectors/);
      rmSync(files.sidecar);
      await bad(/missing sidecar/);
    } finally {
      t.cleanup();
    }
  });

  it('leaves no temporary files and overwrites an earlier save', async () => {
    const t = tempDir();
    try {
      const idx = new UsearchVectorIndex({ dims: 16, exactBelow: 0 });
      await idx.add(keys, data);
      const path = join(t.dir, 'v.usearch');
      await idx.save(path, 1);
      await idx.remove(keys.slice(0, 500));
      await idx.add([3], [data[600]!]);
      await idx.save(path, 2);
      assert.deepEqual(readdirSync(t.dir).sort(), ['v.usearch', 'v.usearch.json', 'v.usearch.vectors']);
      const { index, watermark } = await UsearchVectorIndex.open(path, { dims: 16, exactBelow: 0 });
      assert.equal(watermark, 2);
      assert.equal(index.size(), 1501);
      assert.ok(!(await index.search(data[0]!, 10)).some((h) => h.key === keys[0]));
      assert.equal(
        (await index.search(data[600]!, 2)).filter((h) => h.key === 3 || h.key === keys[600]).length,
        2,
      );
      await index.add([5], [data[1]!]); // a loaded (not viewed) index stays writable
      assert.equal((await index.search(data[1]!, 1))[0]!.key, 5);
    } finally {
      t.cleanup();
    }
  });

  it('i8 with exact rescoring reaches recall@10 ≥ 0.99 on clustered data', async () => {
    const vecs = clusteredVectors(20000, 64, 1000, 11);
    const queries = clusteredVectors(200, 64, 1000, 11, { querySeed: 12 });
    const ks = vecs.map((_, i) => i);
    const exact = new ExactVectorIndex(64);
    await exact.add(ks, vecs);
    // One graph: its best 10 candidates are the raw i8 answer; search() rescores 8× as many.
    const rescored = new UsearchVectorIndex({ dims: 64, quantization: 'i8', exactBelow: 0 });
    await rescored.add(ks, vecs);
    let hitRaw = 0;
    let hitRescored = 0;
    for (const q of queries) {
      const truth = new Set((await exact.search(q, 10)).map((h) => h.key));
      hitRaw += (await rescored.searchWithCandidates(q, 10, 10)).filter((h) => truth.has(h.key)).length;
      hitRescored += (await rescored.search(q, 10)).filter((h) => truth.has(h.key)).length;
    }
    assert.ok(hitRescored / 2000 >= 0.99, `rescored recall ${hitRescored / 2000}`);
    console.log(`i8 recall@10: raw ${hitRaw / 2000}, rescored ${hitRescored / 2000}`);
  });
});
