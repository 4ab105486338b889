import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusteredVectors } from '../index/vector/vector-index.conformance.js';
import { assignIds, beamSearch, collisionRate, fitSemanticIds, utilisation } from './semantic-ids.js';

describe('balanced semantic IDs', () => {
  // Skewed data: a few big clusters, where plain k-means crowds codes.
  // Unit vectors, as embeddings are: inner-product beam scores then track closeness.
  const unit = (v: Float32Array) => v.map((x) => x / Math.hypot(...v));
  const vecs = [...clusteredVectors(1200, 16, 3, 1), ...clusteredVectors(300, 16, 60, 2)].map(unit);

  it('balanced assignment spreads codes evenly where plain k-means does not', () => {
    const bal = fitSemanticIds(vecs, { levels: 2, codes: 16, balanced: true, seed: 1 });
    const plain = fitSemanticIds(vecs, { levels: 2, codes: 16, balanced: false, seed: 1 });
    const ub = utilisation(bal.codes, 2, 16);
    const up = utilisation(plain.codes, 2, 16);
    assert.ok(ub[0]! > 0.99, `balanced level-1 utilisation ${ub[0]}`);
    assert.ok(ub[0]! > up[0]!, `${ub[0]} vs ${up[0]}`);
    // Capacity: no code holds more than ⌈n/k⌉ documents at level 1.
    const load = new Map<number, number>();
    for (const c of bal.codes) load.set(c[0]!, (load.get(c[0]!) ?? 0) + 1);
    assert.ok(Math.max(...load.values()) <= Math.ceil(vecs.length / 16));
  });

  it('assigns IDs to new documents without retraining, and beam search finds documents by prefix', () => {
    const fit = fitSemanticIds(vecs, { levels: 2, codes: 16, balanced: false, seed: 3 });
    const again = assignIds(fit.quantizer, vecs.slice(0, 50));
    again.forEach((c, i) =>
      assert.deepEqual(Array.from(c), Array.from(fit.codes[i]!), 'plain k-means codes are nearest codewords'),
    );
    const all = beamSearch(fit.quantizer, fit.codes, vecs[0]!, 16 * 16);
    assert.equal(all.length, vecs.length, 'a beam as wide as the tree reaches every document');
    const narrow = beamSearch(fit.quantizer, fit.codes, vecs[0]!, 8);
    assert.ok(narrow.includes(0), 'the query document is under the best prefixes');
  });

  it('reports perfect utilisation for uniform codes and collisions for duplicates', () => {
    const codes = [0, 1, 2, 3].map((c) => Uint16Array.from([c, 0]));
    assert.ok(Math.abs(utilisation(codes, 1, 4)[0]! - 1) < 1e-12);
    assert.equal(
      collisionRate([Uint16Array.from([1, 2]), Uint16Array.from([1, 2]), Uint16Array.from([3, 4])]),
      2 / 3,
    );
  });
});
