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
 * "Quiver i8 + rescore, f32 on disk" is the same i8 graph saved and reopened with its f32 copies
 * spilled to a scratch file (what the engine does above 20,000 vectors per field): rescoring reads
 * each candidate with a positional read instead of from memory.
 *
 *   node --expose-gc --import tsx bench/ann.ts [--sizes 100000,1000000] [--dims 384] [--queries 200]
 *        [--efs 12,16,20,24,32,48,64,128] [--engines raw,f32,i8,hnswlib] [--i8-connectivity 16]
 *   (npm run bench:ann works too; --expose-gc lets each engine's memory delta start from a clean heap;
 *   ANN_SIZES / ANN_EFS / ANN_QUERIES in the environment set the defaults of the flags)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const sizes = argOf('sizes', process.env.ANN_SIZES ?? '100000,1000000')
  .split(',')
  .map(Number);
const dims = Number(argOf('dims', '384'));
const nQueries = Number(argOf('queries', process.env.ANN_QUERIES ?? '200'));
/** A fine grid at the low end, where each engine first reaches recall@10 ≥ 0.99. */
const EFS = argOf('efs', process.env.ANN_EFS ?? '12,16,20,24,32,48,64,128')
  .split(',')
  .map(Number);
/** HNSW M of the i8 graphs (the f32 graphs keep 16). */
const i8Connectivity = Number(argOf('i8-connectivity', '16'));
/** --engines raw,f32,i8,hnswlib: a subset (names are matched as substrings, case-insensitively). */
const only = argOf('engines', '').toLowerCase().split(',').filter(Boolean);
const K = 10;

const rss = () => process.memoryUsage().rss / 2 ** 20;
const cpuSecs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Engine {
  name: string;
  build(keys: number[], vecs: Float32Array[]): void | Promise<void>;
  /** Top-K keys at breadth ef. */
  search(q: Float32Array, ef: number): number[] | Promise<number[]>;
  /** Drop the index so the next engine's memory delta starts clean (1M × 384 f32 is 1.5 GB). */
  release(): void;
}

function engines(): Engine[] {
  let quiverF32: UsearchVectorIndex;
  let quiverI8: UsearchVectorIndex;
  let quiverI8Disk: UsearchVectorIndex;
  const scratch = mkdtempSync(join(tmpdir(), 'quiver-bench-ann-'));
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
        raw = new usearchModule.Index({
          dimensions: dims,
          metric: 'cos' as MetricKind,
          quantization: 'f32' as ScalarKind,
          connectivity: 16,
          expansion_add: 128,
          expansion_search: 16,
          multi: false,
        });
        raw.add(BigUint64Array.from(keys.map(BigInt)), flat(vecs));
      },
      search(q, ef) {
        const m = raw.search(q, Math.max(ef, K), 1);
        return Array.from(m.keys.slice(0, K), Number);
      },
      release() {
        raw = undefined!;
      },
    },
    {
      name: 'Quiver f32',
      async build(keys, vecs) {
        quiverF32 = new UsearchVectorIndex({ dims, expansionSearch: 16, exactBelow: 0 });
        for (let i = 0; i < keys.length; i += 50_000)
          await quiverF32.add(keys.slice(i, i + 50_000), vecs.slice(i, i + 50_000));
      },
      async search(q, ef) {
        return (await quiverF32.searchWithCandidates(q, K, ef)).map((h) => h.key);
      },
      release() {
        quiverF32 = undefined!;
      },
    },
    {
      name: 'Quiver i8 + rescore',
      async build(keys, vecs) {
        quiverI8 = new UsearchVectorIndex({
          dims,
          quantization: 'i8',
          connectivity: i8Connectivity,
          expansionSearch: 16,
          exactBelow: 0,
        });
        for (let i = 0; i < keys.length; i += 50_000)
          await quiverI8.add(keys.slice(i, i + 50_000), vecs.slice(i, i + 50_000));
      },
      async search(q, ef) {
        return (await quiverI8.searchWithCandidates(q, K, ef)).map((h) => h.key);
      },
      release() {
        quiverI8 = undefined!;
      },
    },
    {
      name: 'Quiver i8 + rescore, f32 on disk',
      async build() {
        // The graph above, saved and reopened as the engine opens a large field: no f32 in memory.
        const path = join(scratch, 'i8.usearch');
        await quiverI8.save(path, 0);
        quiverI8Disk = (
          await UsearchVectorIndex.open(path, {
            dims,
            quantization: 'i8',
            connectivity: i8Connectivity,
            expansionSearch: 16,
            exactBelow: 0,
            spill: { dir: scratch },
          })
        ).index;
        if (quiverI8Disk.residentVectors() !== 0) throw new Error('expected the f32 copies on disk');
      },
      async search(q, ef) {
        return (await quiverI8Disk.searchWithCandidates(q, K, ef)).map((h) => h.key);
      },
      release() {
        quiverI8Disk.close();
        quiverI8Disk = undefined!;
        rmSync(scratch, { recursive: true, force: true });
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
      release() {
        hnsw = undefined!;
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
/** Print one size's results as soon as they exist: the 1M run takes long enough to be cut short. */
function report(size: number): void {
  console.log(
    `\nANN on clustered ${dims}-d vectors (1,000 clusters), ${nQueries} queries, k=${K}, node ${process.version}, single-threaded search, queries/s in process CPU time (median of 5 passes, engines interleaved), build in wall seconds\n`,
  );
  console.log('| vectors | engine | build s | memory MB | ef | recall@10 | queries/s | QPS vs raw usearch |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows.filter((x) => x.size === size)) {
    const rawRow = rows.find((x) => x.size === r.size && x.engine === 'raw usearch f32' && x.ef === r.ef);
    console.log(
      `| ${r.size} | ${r.engine} | ${r.buildSecs.toFixed(1)} | ${r.memMb.toFixed(0)} | ${r.ef} | ${r.recall.toFixed(3)} | ${r.qps.toFixed(0)} | ${rawRow ? (r.qps / rawRow.qps).toFixed(2) : '—'} |`,
    );
  }

  // At equal recall: each engine's fastest setting that reaches recall@10 ≥ 0.99.
  console.log('\nFastest setting with recall@10 ≥ 0.99\n');
  console.log('| vectors | engine | ef | recall@10 | queries/s | vs raw usearch | vs Quiver f32 |');
  console.log('|---|---|---|---|---|---|---|');
  {
    const best = (engine: string) =>
      rows
        .filter((r) => r.size === size && r.engine === engine && r.recall >= 0.99)
        .sort((a, b) => b.qps - a.qps)[0];
    const raw = best('raw usearch f32');
    const f32 = best('Quiver f32');
    for (const engine of [...new Set(rows.filter((r) => r.size === size).map((r) => r.engine))]) {
      const r = best(engine);
      if (!r) {
        console.log(`| ${size} | ${engine} | — | < 0.99 at every ef | — | — | — |`);
        continue;
      }
      const ratio = (base: Row | undefined) => (base ? (r.qps / base.qps).toFixed(2) : '—');
      console.log(
        `| ${size} | ${engine} | ${r.ef} | ${r.recall.toFixed(3)} | ${r.qps.toFixed(0)} | ${ratio(raw)} | ${ratio(f32)} |`,
      );
    }
  }
}

for (const size of sizes) {
  const vecs = clusteredVectors(size, dims, 1000, 1, { intrinsicDims: 32 });
  const keys = vecs.map((_, i) => i);
  const queries = clusteredVectors(nQueries, dims, 1000, 1, { intrinsicDims: 32, querySeed: 2 });
  // Brute force: ground truth and the baseline.
  let exact: ExactVectorIndex | undefined = new ExactVectorIndex(dims, 'cos');
  const t0 = performance.now();
  exact.addSync(keys, vecs);
  const truth: Set<number>[] = [];
  const q0 = performance.now();
  const c0 = cpuSecs();
  for (const q of queries) truth.push(new Set(exact.searchSync(q, K).map((h) => h.key)));
  const bruteQps = queries.length / (cpuSecs() - c0);
  rows.push({
    size,
    engine: 'brute force (exact)',
    buildSecs: (q0 - t0) / 1000,
    memMb: (size * dims * 4) / 2 ** 20,
    ef: '—',
    recall: 1,
    qps: bruteQps,
  });
  exact = undefined; // free its 1.5 GB (at 1M) before the engines are measured
  console.error(`size ${size}: ground truth done`);

  const built: { e: Engine; buildSecs: number; memMb: number }[] = [];
  for (const e of engines().filter(
    (x) => only.length === 0 || only.some((o) => x.name.toLowerCase().includes(o)),
  )) {
    global.gc?.();
    const m0 = rss();
    const b0 = performance.now();
    await e.build(keys, vecs);
    const buildSecs = (performance.now() - b0) / 1000;
    global.gc?.();
    built.push({ e, buildSecs, memMb: rss() - m0 });
    console.error(`size ${size}: ${e.name} built in ${buildSecs.toFixed(1)} s`);
  }
  for (const ef of EFS) {
    const recall = new Map<Engine, number>();
    for (const { e } of built) {
      let hit = 0;
      for (let i = 0; i < queries.length; i++) {
        const got = await e.search(queries[i]!, ef);
        hit += got.filter((k) => truth[i]!.has(k)).length;
      }
      recall.set(e, hit / (queries.length * K));
    }
    // Queries/s: median of five passes, the engines interleaved pass by pass so that load from
    // other processes hits all of them alike, timed in process CPU seconds (search is
    // single-threaded; on a shared machine wall time mostly measures the neighbours).
    const passes = new Map<Engine, number[]>(built.map(({ e }) => [e, []]));
    for (let pass = 0; pass < 5; pass++) {
      for (const { e } of built) {
        const s0 = cpuSecs();
        for (const q of queries) await e.search(q, ef);
        passes.get(e)!.push(queries.length / (cpuSecs() - s0));
      }
    }
    for (const { e, buildSecs, memMb } of built) {
      const qps = passes.get(e)!.sort((a, b) => a - b)[2]!;
      rows.push({ size, engine: e.name, buildSecs, memMb, ef, recall: recall.get(e)!, qps });
    }
    // Progress with numbers: a 1M run can be cut short before its table is printed.
    for (const r of rows.slice(-built.length))
      console.error(
        `size ${size}: ef ${ef} ${r.engine}: recall@10 ${r.recall.toFixed(3)}, ${r.qps.toFixed(0)} queries/s (build ${r.buildSecs.toFixed(1)} s, ${r.memMb.toFixed(0)} MB)`,
      );
  }
  for (const { e } of built) e.release();
  global.gc?.();
  report(size);
}
