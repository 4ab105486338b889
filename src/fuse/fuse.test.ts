/** Fusion on synthetic lists, with the fused scores computed by hand in the comments. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { DEFAULT_FUSION } from './defaults.js';
import type { RankedList } from './fusion.js';
import { fuse } from './index.js';
import { normalize } from './normalize.js';
import { defaultGrid, scoreFusion, tuneFusion } from './tune.js';

// lexical: 1 (12), 2 (8), 3 (2)      dense: 3 (0.9), 4 (0.5), 1 (0.1)
const lists: RankedList[] = [
  {
    name: 'lexical',
    hits: [
      { key: 1, score: 12 },
      { key: 2, score: 8 },
      { key: 3, score: 2 },
    ],
  },
  {
    name: 'dense',
    hits: [
      { key: 3, score: 0.9 },
      { key: 4, score: 0.5 },
      { key: 1, score: 0.1 },
    ],
  },
];
const close = (a: number | undefined, b: number, msg = '') =>
  assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${msg} ${a} vs ${b}`);
const scores = (opts: Parameters<typeof fuse>[1]) => new Map(fuse(lists, opts).map((h) => [h.key, h.score]));
const order = (opts: Parameters<typeof fuse>[1]) => fuse(lists, opts).map((h) => h.key);

describe('rrf', () => {
  it('sums w / (k + rank); equal sums tie-break by key', () => {
    const s = scores({ method: 'rrf' });
    close(s.get(1), 1 / 61 + 1 / 63); // lexical rank 1, dense rank 3
    close(s.get(3), 1 / 63 + 1 / 61); // the same sum → key 1 first
    close(s.get(2), 1 / 62);
    close(s.get(4), 1 / 62);
    assert.deepEqual(order({ method: 'rrf' }), [1, 3, 2, 4]);
  });

  it('weights and k change the sums', () => {
    // lexical ×2, k = 10: key1 = 2/11 + 1/13 = 0.258741; key3 = 2/13 + 1/11 = 0.244755; key2 = 2/12; key4 = 1/12
    const s = scores({ method: 'rrf', rrfK: 10, weights: { lexical: 2, dense: 1 } });
    close(s.get(1), 2 / 11 + 1 / 13);
    close(s.get(3), 2 / 13 + 1 / 11);
    close(s.get(2), 2 / 12);
    close(s.get(4), 1 / 12);
  });

  it('explains rank, raw score and the 1/(k + rank) used', () => {
    const h = fuse(lists, { method: 'rrf' }).find((x) => x.key === 3)!;
    assert.deepEqual(h.retrievers['dense'], { rank: 1, score: 0.9, normalized: 1 / 61 });
    assert.deepEqual(h.retrievers['lexical'], { rank: 3, score: 2, normalized: 1 / 63 });
  });
});

describe('convex', () => {
  it('minmax: (s − min)/(max − min), weights rescaled to sum 1', () => {
    // lexical 1 → 1, 2 → 0.6, 3 → 0; dense 3 → 1, 4 → 0.5, 1 → 0; weights 3:1 → 0.75 / 0.25
    const s = scores({ method: 'convex', normalization: 'minmax', weights: { lexical: 3, dense: 1 } });
    close(s.get(1), 0.75 * 1 + 0.25 * 0);
    close(s.get(2), 0.75 * 0.6);
    close(s.get(3), 0.75 * 0 + 0.25 * 1);
    close(s.get(4), 0.25 * 0.5, 'missing from lexical: that list gives its floor, 0');
    assert.deepEqual(
      order({ method: 'convex', normalization: 'minmax', weights: { lexical: 3, dense: 1 } }),
      [1, 2, 3, 4],
    );
  });

  it('zscore: (s − min)/σ with population σ', () => {
    // lexical mean 22/3, σ = sqrt(50.6667/3) = 4.109609 → 12: 10/σ = 2.433321, 8: 6/σ = 1.459993, 2: 0
    // dense mean 0.5, σ = sqrt(0.32/3) = 0.326599 → 0.9: 0.8/σ = 2.449490, 0.5: 1.224745, 0.1: 0
    const sdL = Math.sqrt(((12 - 22 / 3) ** 2 + (8 - 22 / 3) ** 2 + (2 - 22 / 3) ** 2) / 3);
    const sdD = Math.sqrt(0.32 / 3);
    const s = scores({ method: 'convex', normalization: 'zscore' });
    close(s.get(1), 0.5 * (10 / sdL) + 0.5 * 0);
    close(s.get(3), 0.5 * 0 + 0.5 * (0.8 / sdD));
    close(s.get(2), 0.5 * (6 / sdL));
    close(s.get(4), 0.5 * (0.4 / sdD));
    assert.deepEqual(order({ method: 'convex', normalization: 'zscore' }), [3, 1, 2, 4]);
  });

  it('rank: 1 − (rank − 1)/n', () => {
    // both lists: 1, 2/3, 1/3 → key1 = key3 = (1 + 1/3)/2; key2 = key4 = (2/3)/2
    const s = scores({ method: 'convex', normalization: 'rank' });
    close(s.get(1), (1 + 1 / 3) / 2);
    close(s.get(3), (1 / 3 + 1) / 2);
    close(s.get(2), 1 / 3);
    assert.deepEqual(order({ method: 'convex', normalization: 'rank' }), [1, 3, 2, 4]);
  });
});

describe('dbsf', () => {
  it('normalises like Qdrant: (s − (mean − 3σ)) / 6σ with the sample σ, then sums', () => {
    // lexical: mean 7.333333, sample σ = sqrt(50.6667/2) = 5.033223, lo = −7.766335, 6σ = 30.199338
    //   12 → 0.65453, 8 → 0.52208, 2 → 0.32340
    // dense: mean 0.5, σ = 0.4, lo = −0.7, 6σ = 2.4 → 0.9 → 0.666667, 0.5 → 0.5, 0.1 → 0.333333
    const sd = Math.sqrt(((12 - 22 / 3) ** 2 + (8 - 22 / 3) ** 2 + (2 - 22 / 3) ** 2) / 2);
    const lex = (x: number) => (x - (22 / 3 - 3 * sd)) / (6 * sd);
    const s = scores({ method: 'dbsf' });
    close(s.get(1), lex(12) + 0.8 / 2.4); // dense 0.1 → (0.1 + 0.7) / 2.4
    close(s.get(3), lex(2) + 1.6 / 2.4);
    close(s.get(2), lex(8));
    close(s.get(4), 1.2 / 2.4);
    assert.equal(lex(12).toFixed(5), '0.65453');
    assert.deepEqual(order({ method: 'dbsf' }), [3, 1, 2, 4]);
    // weighted: lexical 0.9, dense 0.1
    close(
      scores({ method: 'dbsf', weights: { lexical: 0.9, dense: 0.1 } }).get(3),
      0.9 * lex(2) + 0.1 * (1.6 / 2.4),
    );
  });

  it('a single score or a constant list maps to 0.5, as in Qdrant', () => {
    assert.deepEqual(normalize([3], 'dbsf'), [0.5]);
    assert.deepEqual(normalize([2, 2, 2], 'dbsf'), [0.5, 0.5, 0.5]);
  });
});

describe('robustness', () => {
  it('never produces NaN: empty lists, constant lists, non-finite raw scores', () => {
    for (const how of ['minmax', 'zscore', 'rank', 'dbsf'] as const) {
      assert.deepEqual(normalize([], how), []);
      assert.ok(normalize([5, 5, 5], how).every(Number.isFinite), how);
      assert.ok(normalize([3, Number.NaN, -Infinity, 1], how).every(Number.isFinite), how);
    }
    // NaN is treated as the list's lowest finite score: minmax of [3, NaN, 1] = [1, 0, 0]
    assert.deepEqual(normalize([3, Number.NaN, 1], 'minmax'), [1, 0, 0]);
    assert.deepEqual(normalize([3, 2, 1, 0], 'rank'), [1, 0.75, 0.5, 0.25]);
    for (const method of ['rrf', 'convex', 'dbsf'] as const) {
      const out = fuse(
        [...lists, { name: 'sparse', hits: [] }, { name: 'x', hits: [{ key: 9, score: Number.NaN }] }],
        { method },
      );
      assert.ok(
        out.every((h) => Number.isFinite(h.score)),
        method,
      );
      assert.equal(
        out.find((h) => h.key === 4)!.retrievers['lexical'],
        undefined,
        'absent from a list: no entry',
      );
    }
  });

  it('a key listed twice in one list counts once, at its best rank', () => {
    const dup: RankedList[] = [
      {
        name: 'lexical',
        hits: [
          { key: 1, score: 3 },
          { key: 2, score: 2 },
          { key: 1, score: 1 },
        ],
      },
    ];
    const out = fuse(dup, { method: 'rrf' });
    assert.deepEqual(
      out.map((h) => h.key),
      [1, 2],
    );
    close(out[0]!.score, 1 / 61);
  });

  it('looks weights up by family ("dense:title" → "dense") and defaults to 1', () => {
    const l: RankedList[] = [
      { name: 'lexical', hits: [{ key: 1, score: 1 }] },
      { name: 'dense:title', hits: [{ key: 2, score: 1 }] },
    ];
    const s = new Map(fuse(l, { method: 'rrf', weights: { dense: 3 } }).map((h) => [h.key, h.score]));
    close(s.get(2), 3 / 61);
    close(s.get(1), 1 / 61);
  });

  it('is deterministic on ties (smaller key first) and rejects unknown methods', () => {
    const a = fuse(
      [
        { name: 'a', hits: [{ key: 9, score: 1 }] },
        { name: 'b', hits: [{ key: 2, score: 1 }] },
      ],
      { method: 'rrf' },
    );
    assert.deepEqual(
      a.map((h) => h.key),
      [2, 9],
    );
    assert.throws(
      () => fuse(lists, { method: 'nope' as 'rrf' }),
      (e: unknown) =>
        e instanceof QuiverError && e.code === 'INVALID_ARGUMENT' && e.location.field === 'fusion.method',
    );
  });
});

describe('tuneFusion', () => {
  // Two queries; lexical ranks the relevant doc first, dense ranks it last among 3.
  const perQuery = new Map<string, RankedList[]>([
    [
      'q1',
      [
        {
          name: 'lexical',
          hits: [
            { key: 10, score: 9 },
            { key: 11, score: 5 },
            { key: 12, score: 1 },
          ],
        },
        {
          name: 'dense',
          hits: [
            { key: 12, score: 0.9 },
            { key: 11, score: 0.8 },
            { key: 10, score: 0.1 },
          ],
        },
      ],
    ],
    [
      'q2',
      [
        {
          name: 'lexical',
          hits: [
            { key: 20, score: 7 },
            { key: 21, score: 6 },
          ],
        },
        {
          name: 'dense',
          hits: [
            { key: 21, score: 0.7 },
            { key: 20, score: 0.6 },
          ],
        },
      ],
    ],
  ]);
  const qrels = { q1: { '10': 1 }, q2: { '20': 1 } };

  it('scores a setting by nDCG@10 and picks the best of the grid', () => {
    // lexical only: both relevant at rank 1 → 1.0; dense only: ranks 3 and 2 → (1/log2(4) + 1/log2(3)) / 2
    close(scoreFusion(perQuery, qrels, { method: 'convex', weights: { lexical: 1, dense: 0 } }), 1);
    close(
      scoreFusion(perQuery, qrels, { method: 'convex', weights: { lexical: 0, dense: 1 } }),
      (0.5 + 1 / Math.log2(3)) / 2,
    );
    const grid = [
      { method: 'convex' as const, weights: { lexical: 0, dense: 1 } },
      { method: 'convex' as const, weights: { lexical: 1, dense: 0 } },
    ];
    const res = tuneFusion(perQuery, qrels, grid);
    assert.deepEqual(res.best, { ...grid[1], candidates: 100 });
    assert.deepEqual(
      res.table.map((r) => r.ndcg10 > 0.99),
      [true, false],
    );
    assert.throws(() => tuneFusion(perQuery, qrels, []), QuiverError);
  });

  it('the default grid covers every method and normalisation, and the default fusion is in it', () => {
    const g = defaultGrid();
    const kinds = new Set(g.map((o) => `${o.method}/${o.normalization ?? ''}`));
    assert.deepEqual([...kinds].sort(), ['convex/minmax', 'convex/rank', 'convex/zscore', 'dbsf/', 'rrf/']);
    const { candidates: _c, ...def } = DEFAULT_FUSION;
    assert.ok(
      g.some((o) => JSON.stringify(o) === JSON.stringify(def)),
      JSON.stringify(def),
    );
  });
});
