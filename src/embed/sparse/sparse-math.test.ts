import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dotSparse, pruneTopK, spladePool } from './sparse-math.js';

describe('pruneTopK', () => {
  const v = { a: 0.5, b: 2, c: 1, d: 1, e: 0.1 };

  it('keeps the k heaviest terms, heaviest first, ties by term', () => {
    const p = pruneTopK(v, 3);
    assert.deepEqual(Object.entries(p), [
      ['b', 2],
      ['c', 1],
      ['d', 1],
    ]);
    assert.deepEqual(Object.keys(pruneTopK(v, 2)), ['b', 'c']); // c before d on the tie
  });

  it('keeps everything for k = 0, k ≥ size or k = Infinity, without mutating the input', () => {
    for (const k of [0, 5, 99, Infinity]) assert.deepEqual(pruneTopK(v, k), v);
    assert.equal(Object.keys(pruneTopK(v, 1)).length, 1);
    assert.deepEqual(Object.keys(v), ['a', 'b', 'c', 'd', 'e']);
  });
});

describe('dotSparse', () => {
  it('sums products over shared terms, whichever side is smaller', () => {
    const a = { x: 2, y: 3 };
    const b = { y: 4, z: 5, w: 1 };
    assert.equal(dotSparse(a, b), 12);
    assert.equal(dotSparse(b, a), 12);
    assert.equal(dotSparse(a, {}), 0);
    assert.equal(dotSparse({ x: 1.5, y: 2 }, { x: 2, y: 0.5 }), 4);
  });
});

describe('spladePool', () => {
  it('is max over real tokens of log(1 + ReLU(logit)), ignoring padding positions', () => {
    // batch 2, len 3, vocab 4; sequence 1 has 2 real tokens, its padding position holds big logits.
    const logits = Float32Array.from([
      // seq 0
      -1,
      0.5,
      2,
      -3,
      1,
      -0.5,
      0,
      -2,
      0.25,
      3,
      -1,
      -1,
      // seq 1
      -1,
      -1,
      1,
      0,
      -2,
      4,
      -1,
      -5,
      9,
      9,
      9,
      9, // padding: must not count
    ]);
    const s0 = spladePool(logits, 0, 3, 4, 3);
    assert.deepEqual([...s0], [Math.log1p(1), Math.log1p(3), Math.log1p(2), 0]);
    const s1 = spladePool(logits, 1, 3, 4, 2);
    assert.deepEqual([...s1], [0, Math.log1p(4), Math.log1p(1), 0]);
  });
});
