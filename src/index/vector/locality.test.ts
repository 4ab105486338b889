import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOCALITY_MIN_BATCH, localityOrder } from './locality.js';
import { UsearchVectorIndex } from './usearch.js';
import { clusteredVectors } from './vector-index.conformance.js';

const flatten = (vs: Float32Array[], dims: number) => {
  const f = new Float32Array(vs.length * dims);
  vs.forEach((v, i) => f.set(v, i * dims));
  return f;
};

describe('localityOrder', () => {
  it('keeps a small batch as it is', () => {
    const vs = clusteredVectors(LOCALITY_MIN_BATCH - 1, 16, 50, 3);
    const order = localityOrder(flatten(vs, 16), 16, 'cos');
    assert.deepEqual(
      order,
      vs.map((_, i) => i),
    );
  });

  it('is a permutation that puts rows of one cluster next to each other', () => {
    // clusteredVectors gives row i to cluster i % 100: as scattered as an input order can be.
    const n = 8192;
    const clusters = 100;
    const vs = clusteredVectors(n, 32, clusters, 5);
    const order = localityOrder(flatten(vs, 32), 32, 'cos');
    assert.equal(order.length, n);
    assert.equal(new Set(order).size, n);
    assert.ok(order.every((r) => Number.isInteger(r) && r >= 0 && r < n));
    // What the graph walk feels is how many 64-row blocks of memory a neighbourhood touches: in
    // the input order each cluster's 82 rows fall in ~64 of the 128 blocks; grouped, in a few.
    const blocksTouched: number[] = [];
    for (let c = 0; c < clusters; c++)
      blocksTouched.push(new Set(order.flatMap((row, pos) => (row % clusters === c ? [pos >> 6] : []))).size);
    blocksTouched.sort((a, b) => a - b);
    const median = blocksTouched[clusters / 2]!;
    assert.ok(median <= 6, `a cluster's rows touch ${median} blocks of 64 (median)`);
  });

  it('leaves a zero vector (no nearest pivot under cos) in the permutation', () => {
    const vs = clusteredVectors(LOCALITY_MIN_BATCH, 8, 10, 7);
    vs[17] = new Float32Array(8);
    const order = localityOrder(flatten(vs, 8), 8, 'cos');
    assert.equal(new Set(order).size, vs.length);
  });
});

describe('usearch add of a batch large enough to be grouped', () => {
  it('keeps every key with its own vector', async () => {
    const n = 6000;
    const vs = clusteredVectors(n, 24, 60, 9);
    // Keys unrelated to row numbers, so a permutation applied to one side only would show.
    const keys = vs.map((_, i) => 1_000_000 - 7 * i);
    const index = new UsearchVectorIndex({ dims: 24, exactBelow: 0 });
    await index.add(keys, vs);
    assert.equal(index.size(), n);
    let self = 0;
    for (let i = 0; i < n; i += 37) {
      const [top] = await index.search(vs[i]!, 1);
      if (top!.key === keys[i]) self++;
    }
    const probed = Math.ceil(n / 37);
    assert.ok(self / probed >= 0.99, `a vector's own key first for ${self} of ${probed}`);
  });
});
