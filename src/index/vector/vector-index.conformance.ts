/**
 * The vector-index conformance suite: every VectorIndex (exact, usearch HNSW in each quantization,
 * pgvector) runs exactly this, through the interface only. Data are Gaussian clusters — uniform
 * random vectors are unrealistically hard for graph indexes and nothing like embeddings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileFilter } from '../../retrieve/filter.js';
import type { VectorIndex, VectorMetric } from './vector-index.js';

export interface VectorFactory {
  index: VectorIndex;
  cleanup(): Promise<void>;
}

export interface ClusterOptions {
  /**
   * Draw the points' noise from this seed instead, keeping the centres (and subspace) of `seed`:
   * queries from the data's own distribution. Queries around other centres are points far from
   * everything, where all neighbours are nearly equidistant — unlike real queries.
   */
  querySeed?: number;
  /**
   * Spread each cluster along a random subspace of this many dimensions (plus a little isotropic
   * noise), as embeddings do, instead of isotropically: 100 isotropic points in 384-d are all at
   * nearly the same distance from each other, so their top-10 is a coin toss for any ANN index.
   */
  intrinsicDims?: number;
}

/** Deterministic Gaussian clusters: n vectors around `clusters` random centres. */
export function clusteredVectors(
  n: number,
  dims: number,
  clusters: number,
  seed = 1,
  opts: ClusterOptions = {},
): Float32Array[] {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dims }, gauss));
  const r = opts.intrinsicDims;
  // Subspace basis, r × dims, scaled so a point's spread along it has the isotropic case's size.
  const basis = r
    ? Array.from({ length: r }, () => Float32Array.from({ length: dims }, () => gauss() * Math.sqrt(1 / r)))
    : [];
  if (opts.querySeed !== undefined) s = opts.querySeed >>> 0 || 1;
  return Array.from({ length: n }, (_, i) => {
    const c = centres[i % clusters]!;
    if (!r) return Float32Array.from({ length: dims }, (_, d) => c[d]! + 0.35 * gauss());
    const v = Float32Array.from({ length: dims }, (_, d) => c[d]! + 0.05 * gauss());
    for (const row of basis) {
      const z = 0.35 * gauss();
      for (let d = 0; d < dims; d++) v[d] = v[d]! + z * row[d]!;
    }
    return v;
  });
}

/** Brute-force top-k keys (ties broken by key), computed in float64 from the stored vectors. */
function exactTop(
  vectors: Map<number, Float32Array>,
  q: Float32Array,
  k: number,
  metric: VectorMetric,
): number[] {
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  const qn = norm(q);
  const scored = [...vectors].map(([key, v]) => {
    let s = 0;
    if (metric === 'l2') for (let i = 0; i < v.length; i++) s -= (v[i]! - q[i]!) ** 2;
    else for (let i = 0; i < v.length; i++) s += v[i]! * q[i]!;
    if (metric === 'cos') s /= norm(v) * qn;
    return { key, s };
  });
  return scored
    .sort((a, b) => b.s - a.s || a.key - b.key)
    .slice(0, k)
    .map((x) => x.key);
}

/** Deterministic subset of `keys` of about `fraction` of them (at least one). */
function randomSubset(keys: number[], fraction: number, seed: number): Set<number> {
  let s = seed >>> 0 || 1;
  const out = new Set<number>();
  for (const k of keys) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    if (s / 4294967296 < fraction) out.add(k);
  }
  if (out.size === 0) out.add(keys[0]!);
  return out;
}

export interface VectorConformanceOptions {
  /** Vectors added (default 5,000) of `dims` dimensions (default 32) around `clusters` centres (default 100). */
  n?: number;
  dims?: number;
  clusters?: number;
  metrics?: VectorMetric[];
  /**
   * keysOnly: the implementation evaluates filters in its own query language and cannot call a
   * JS predicate (pgvector), so every filter also carries its allowed keys, as the engine sends
   * for selective filters.
   */
  keysOnly?: boolean;
  /**
   * false: the index claims exact results, so every top-k must equal brute force key for key.
   * true (default): recall@10 ≥ 0.99 against brute force, filtered recall ≥ 0.95.
   */
  approximate?: boolean;
}

export function runVectorIndexConformance(
  label: string,
  factory: (opts: { dims: number; metric: VectorMetric }) => Promise<VectorFactory>,
  opts: VectorConformanceOptions = {},
): void {
  const n = opts.n ?? 5000;
  const dims = opts.dims ?? 32;
  const clusters = opts.clusters ?? 100;
  const approximate = opts.approximate ?? true;
  for (const metric of opts.metrics ?? (['cos'] as VectorMetric[])) {
    describe(`vector index conformance: ${label} (${metric})`, () => {
      let f: VectorFactory;
      const data = clusteredVectors(n, dims, clusters, 7);
      const stored = new Map<number, Float32Array>();
      before(async () => {
        f = await factory({ dims, metric });
        const keys = data.map((_, i) => i * 3 + 1);
        for (let i = 0; i < keys.length; i += 1000)
          await f.index.add(keys.slice(i, i + 1000), data.slice(i, i + 1000));
        keys.forEach((k, i) => stored.set(k, data[i]!));
      });
      after(async () => f.cleanup());

      it('holds what was added and has the declared shape', () => {
        assert.equal(f.index.size(), n);
        assert.equal(f.index.dims, dims);
        assert.equal(f.index.metric, metric);
      });

      it(`${approximate ? 'reaches recall@10 ≥ 0.99 against' : 'equals'} exact search, scores descending`, async () => {
        const queries = clusteredVectors(100, dims, clusters, 7, { querySeed: 99 });
        let hit = 0;
        for (const q of queries) {
          const res = await f.index.search(q, 10);
          assert.equal(res.length, 10);
          for (let i = 1; i < res.length; i++)
            assert.ok(res[i - 1]!.score >= res[i]!.score - 1e-6, 'scores descend');
          const truthList = exactTop(stored, q, 10, metric);
          if (!approximate)
            assert.deepEqual(
              res.map((h) => h.key),
              truthList,
            );
          const truth = new Set(truthList);
          hit += res.filter((h) => truth.has(h.key)).length;
        }
        assert.ok(hit / 1000 >= 0.99, `recall@10 ${hit / 1000}`);
      });

      it('scores are the metric’s similarity (cos, ip, or −squared distance)', async () => {
        const q = clusteredVectors(1, dims, clusters, 7, { querySeed: 3 })[0]!;
        const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
        for (const h of await f.index.search(q, 5)) {
          const v = stored.get(h.key)!;
          let expected = 0;
          if (metric === 'l2') for (let i = 0; i < dims; i++) expected -= (v[i]! - q[i]!) ** 2;
          else for (let i = 0; i < dims; i++) expected += v[i]! * q[i]!;
          if (metric === 'cos') expected /= norm(v) * norm(q);
          assert.ok(
            Math.abs(h.score - expected) <= 1e-3 * Math.max(1, Math.abs(expected)),
            `key ${h.key}: score ${h.score}, ${metric} ${expected}`,
          );
        }
      });

      it('never returns a key the filter rejects, selective or broad, and still returns k', async () => {
        const q = clusteredVectors(1, dims, clusters, 7, { querySeed: 5 })[0]!;
        for (const mod of [2, 50, 997]) {
          const filter = compileFilter({});
          filter.allows = (key) => key % mod === 1;
          const allowed = [...stored.keys()].filter((k) => k % mod === 1);
          filter.selectivity = allowed.length / n;
          if (mod === 997 || opts.keysOnly) filter.allowedKeys = allowed;
          const res = await f.index.search(q, 10, { filter });
          assert.ok(
            res.every((h) => h.key % mod === 1),
            `filter mod ${mod} violated`,
          );
          assert.equal(res.length, Math.min(10, allowed.length), `k allowed hits for mod ${mod}`);
        }
      });

      it('keeps recall under random filters from 0.1% to 90% allowed, with and without known selectivity', async () => {
        const keys = [...stored.keys()];
        const queries = clusteredVectors(8, dims, clusters, 7, { querySeed: 17 });
        for (const [i, fraction] of [0.001, 0.01, 0.1, 0.5, 0.9].entries()) {
          const allowed = randomSubset(keys, fraction, 100 + i);
          for (const told of [true, false]) {
            if (!told && opts.keysOnly) continue; // such a backend always gets the keys
            let hit = 0;
            let expected = 0;
            for (const q of queries) {
              const filter = compileFilter({});
              filter.allows = (key) => allowed.has(key);
              if (told) filter.selectivity = allowed.size / n;
              // The engine enumerates keys for selective filters; keys-only backends always get them.
              if ((told && fraction <= 0.01) || opts.keysOnly) filter.allowedKeys = [...allowed];
              const res = await f.index.search(q, 10, { filter });
              const bad = res.find((h) => !allowed.has(h.key));
              assert.equal(bad, undefined, `${fraction * 100}% filter let key ${bad?.key} through`);
              assert.equal(res.length, Math.min(10, allowed.size), `${fraction * 100}% filter: k hits`);
              const truthList = exactTop(
                new Map([...allowed].map((k) => [k, stored.get(k)!])),
                q,
                10,
                metric,
              );
              if (!approximate)
                assert.deepEqual(
                  res.map((h) => h.key),
                  truthList,
                );
              const truth = new Set(truthList);
              hit += res.filter((h) => truth.has(h.key)).length;
              expected += truth.size;
            }
            assert.ok(
              hit / expected >= 0.95,
              `${fraction * 100}% filter (selectivity ${told ? 'known' : 'unknown'}): recall@10 ${hit / expected}`,
            );
          }
        }
      });

      it('rejects a query of the wrong dimensions', async () => {
        await assert.rejects(f.index.search(new Float32Array(dims + 1).fill(0.5), 10));
      });

      it('replaces on re-add and never returns removed keys', async () => {
        const victim = 1;
        const q = stored.get(victim)!;
        // Under inner product a vector need not be its own nearest neighbour; cos and l2 guarantee it.
        const selfFirst = metric !== 'ip';
        if (selfFirst) assert.equal((await f.index.search(q, 1))[0]!.key, victim);
        await f.index.remove([victim]);
        assert.ok(!(await f.index.search(q, 10)).some((h) => h.key === victim));
        assert.equal(f.index.size(), n - 1);
        const moved = Float32Array.from(q, (x) => -x);
        await f.index.add([victim], [moved]);
        if (selfFirst)
          assert.equal((await f.index.search(moved, 1))[0]!.key, victim, 'the new vector is found');
        await f.index.add([victim], [q]);
        assert.equal(f.index.size(), n);
      });

      it('never returns any of many removed keys, and removing twice is harmless', async () => {
        const removed = [...stored.keys()].filter((k) => k % 7 === 0);
        await f.index.remove(removed);
        await f.index.remove(removed.slice(0, 10));
        try {
          assert.equal(f.index.size(), n - removed.length);
          const gone = new Set(removed);
          for (const q of clusteredVectors(20, dims, clusters, 7, { querySeed: 23 })) {
            const res = await f.index.search(q, 10);
            assert.ok(!res.some((h) => gone.has(h.key)), 'a removed key came back');
            assert.equal(res.length, 10);
          }
        } finally {
          await f.index.add(
            removed,
            removed.map((k) => stored.get(k)!),
          );
        }
        assert.equal(f.index.size(), n);
      });
    });
  }
}
