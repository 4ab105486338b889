/**
 * npm run bench:ann — approximate nearest-neighbour search on clustered 384-d vectors (1,000
 * Gaussian clusters): Quiver's index (f32; i8 + exact rescoring) against raw usearch with the same
 * graph parameters, hnswlib-node, and brute force, in one run. For each: build time, memory (RSS
 * delta), and recall@10 vs brute force with queries/s at several ef settings. Ratios are to raw
 * usearch at the same ef.
 *
 * ef is applied the same way to both usearch-based engines: the graph is searched for max(ef, k)
 * candidates (usearch's JS binding fixes expansion_search at construction), and Quiver keeps the
 * best k after exact rescoring.
 *
 *   npx tsx bench/ann.ts [--sizes 100000,1000000] [--dims 384] [--queries 200]
 */
import hnswlib from 'hnswlib-node';
import usearchModule from 'usearch';
import type { MetricKind, ScalarKind } from 'usearch';
import { ExactVectorIndex } from '../src/index/vector/exact.js';
import { UsearchVectorIndex } from '../src/index/vector/usearch.js';
import { clusteredVectors } from '../src/index/vector/vector-index.conformance.js';

const argOf = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const sizes = argOf('sizes', '100000,1000000').split(',').map(Number);
const dims = Number(argOf('dims', '384'));
const nQueries = Number(argOf('queries', '200'));
const EFS = [16, 32, 64, 128, 256];
const K = 10;

const rss = () => process.memoryUsage().rss / 2 ** 20;

interface Engine {
  name: string;
  build(keys: number[], vecs: Float32Array[]): void | Promise<void>;
  /** Top-K keys at breadth ef. */
  search(q: Float32Array, ef: number): number[] | Promise<number[]>;
}

function engines(): Engine[] {
  let quiverF32: UsearchVectorIndex;
  let quiverI8: UsearchVectorIndex;
  let raw: InstanceType<typeof usearchModule.Index>;
  let hnsw: InstanceType<typeof hnswlib.HierarchicalNSW>;
  const flat = (vecs: Float32Array[]) => {
    const f = new Float32Array(vecs.length * dims);
    vecs.forEach((v, i) => f.set(v, i * dims));
    return f;
  };
  return [
    {
      name: 'raw usearch f32',
      build(keys, vecs) {
        raw = new usearchModule.Index({ dimensions: dims, metric: 'cos' as MetricKind, quantization: 'f32' as ScalarKind, connectivity: 16, expansion_add: 128, expansion_search: 16, multi: false });
        raw.add(BigUint64Array.from(keys.map(BigInt)), flat(vecs));
      },
      search(q, ef) {
        const m = raw.search(q, Math.max(ef, K), 1);
        return Array.from(m.keys.slice(0, K), Number);
      },
    },
    {
      name: 'Quiver f32',
      async build(keys, vecs) {
        quiverF32 = new UsearchVectorIndex({ dims, expansionSearch: 16, exactBelow: 0 });
        for (let i = 0; i < keys.length; i += 50_000) await quiverF32.add(keys.slice(i, i + 50_000), vecs.slice(i, i + 50_000));
      },
      async search(q, ef) {
        return (await quiverF32.searchWithCandidates(q, K, ef)).map((h) => h.key);
      },
    },
    {
      name: 'Quiver i8 + rescore',
      async build(keys, vecs) {
        quiverI8 = new UsearchVectorIndex({ dims, quantization: 'i8', expansionSearch: 16, exactBelow: 0 });
        for (let i = 0; i < keys.length; i += 50_000) await quiverI8.add(keys.slice(i, i + 50_000), vecs.slice(i, i + 50_000));
      },
      async search(q, ef) {
        return (await quiverI8.searchWithCandidates(q, K, ef)).map((h) => h.key);
      },
    },
    {
      name: 'hnswlib-node',
      build(keys, vecs) {
        hnsw = new hnswlib.HierarchicalNSW('cosine', dims);
        hnsw.initIndex(keys.length, 16, 128, 100);
        vecs.forEach((v, i) => hnsw.addPoint(Array.from(v), keys[i]!));
      },
      search(q, ef) {
        hnsw.setEf(Math.max(ef, K));
        return hnsw.searchKnn(Array.from(q), K).neighbors;
      },
    },
  ];
}

interface Row {
  size: number;
  engine: string;
  buildSecs: number;
  memMb: number;
  ef: number | string;
  recall: number;
  qps: number;
}
const rows: Row[] = [];

for (const size of sizes) {
  const vecs = clusteredVectors(size, dims, 1000, 1);
  const keys = vecs.map((_, i) => i);
  const queries = clusteredVectors(nQueries, dims, 1000, 2);
  // Brute force: ground truth and the baseline.
  const exact = new ExactVectorIndex(dims, 'cos');
  const t0 = performance.now();
  exact.addSync(keys, vecs);
  const truth: Set<number>[] = [];
  const q0 = performance.now();
  for (const q of queries) truth.push(new Set(exact.searchSync(q, K).map((h) => h.key)));
  const bruteQps = queries.length / ((performance.now() - q0) / 1000);
  rows.push({ size, engine: 'brute force (exact)', buildSecs: (q0 - t0) / 1000, memMb: (size * dims * 4) / 2 ** 20, ef: '—', recall: 1, qps: bruteQps });
  console.error(`size ${size}: ground truth done`);

  for (const e of engines()) {
    global.gc?.();
    const m0 = rss();
    const b0 = performance.now();
    await e.build(keys, vecs);
    const buildSecs = (performance.now() - b0) / 1000;
    const memMb = rss() - m0;
    for (const ef of EFS) {
      let hit = 0;
      const s0 = performance.now();
      for (let i = 0; i < queries.length; i++) {
        const got = await e.search(queries[i]!, ef);
        hit += got.filter((k) => truth[i]!.has(k)).length;
      }
      const qps = queries.length / ((performance.now() - s0) / 1000);
      rows.push({ size, engine: e.name, buildSecs, memMb, ef, recall: hit / (queries.length * K), qps });
    }
    console.error(`size ${size}: ${e.name} built in ${buildSecs.toFixed(1)} s`);
  }
}

console.log(`\nANN on clustered ${dims}-d vectors (1,000 clusters), ${nQueries} queries, k=${K}, node ${process.version}, single-threaded search\n`);
console.log('| vectors | engine | build s | memory MB | ef | recall@10 | queries/s | QPS vs raw usearch |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const rawRow = rows.find((x) => x.size === r.size && x.engine === 'raw usearch f32' && x.ef === r.ef);
  console.log(
    `| ${r.size} | ${r.engine} | ${r.buildSecs.toFixed(1)} | ${r.memMb.toFixed(0)} | ${r.ef} | ${r.recall.toFixed(3)} | ${r.qps.toFixed(0)} | ${rawRow ? (r.qps / rawRow.qps).toFixed(2) : '—'} |`,
  );
}
