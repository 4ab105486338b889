/** Fusion with learned-sparse lists: the default sparse weight and the tuning grid. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Qrels } from '../eval/metrics.js';
import { DEFAULT_FUSION, withSparseDefault } from './defaults.js';
import type { RankedList } from './fusion.js';
import { fuse, weightOf } from './index.js';
import { defaultGrid, sparseGrid, tuneFusion } from './tune.js';

describe('sparse lists in fusion', () => {
  it('default: sparse weighs what lexical weighs, unless a weight names sparse', () => {
    const d = withSparseDefault(DEFAULT_FUSION);
    assert.equal(weightOf(d, 'sparse:splade'), weightOf(d, 'lexical'));
    assert.equal(weightOf(d, 'dense'), 0.1, 'other weights untouched');
    const named = withSparseDefault({ ...DEFAULT_FUSION, weights: { lexical: 0.9, 'sparse:splade': 0.2 } });
    assert.equal(weightOf(named, 'sparse:splade'), 0.2);
    assert.equal(
      weightOf(withSparseDefault({ method: 'rrf' }), 'sparse:x'),
      1,
      'no weights at all: all equal',
    );
    // A document found only by sparse scores like one found only by lexical at the same rank.
    const lists: RankedList[] = [
      {
        name: 'lexical',
        hits: [
          { key: 1, score: 9 },
          { key: 2, score: 3 },
        ],
      },
      {
        name: 'sparse:s',
        hits: [
          { key: 3, score: 40 },
          { key: 4, score: 10 },
        ],
      },
    ];
    const fused = fuse(lists, withSparseDefault(DEFAULT_FUSION));
    const score = (k: number) => fused.find((h) => h.key === k)!.score;
    assert.ok(Math.abs(score(1) - score(3)) < 1e-12 && Math.abs(score(2) - score(4)) < 1e-12);
  });

  it('tuning varies the sparse weight when sparse lists are present and finds the one that helps', () => {
    assert.equal(sparseGrid().length, defaultGrid().length * 7);
    // Lexical ranks the relevant document last; sparse ranks it first: the best setting weighs sparse.
    const perQuery = new Map<string, RankedList[]>();
    const qrels: Qrels = {};
    for (let q = 0; q < 5; q++) {
      const rel = q * 10 + 1;
      perQuery.set(`q${q}`, [
        { name: 'lexical', hits: [q * 10 + 2, q * 10 + 3, rel].map((key, i) => ({ key, score: 3 - i })) },
        { name: 'dense', hits: [q * 10 + 3, q * 10 + 2].map((key, i) => ({ key, score: 1 - i / 10 })) },
        { name: 'sparse:s', hits: [rel, q * 10 + 4].map((key, i) => ({ key, score: 5 - i })) },
      ]);
      qrels[`q${q}`] = { [String(rel)]: 1 };
    }
    const res = tuneFusion(perQuery, qrels);
    assert.equal(res.table.length, sparseGrid().length);
    assert.ok(res.table[0]!.ndcg10 > 0.99, 'the relevant document first');
    assert.ok((res.best.weights?.['sparse'] ?? 0) > 0);
    const without = res.table.filter((r) => r.options.weights?.['sparse'] === 0);
    assert.ok(
      without.every((r) => r.ndcg10 < 0.99),
      'leaving sparse out cannot put it first',
    );
  });
});
