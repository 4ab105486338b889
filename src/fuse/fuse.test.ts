import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RankedList } from './fusion.js';
import { fuse } from './index.js';
import { normalize } from './normalize.js';

const lists: RankedList[] = [
  { name: 'lexical', hits: [{ key: 1, score: 12 }, { key: 2, score: 8 }, { key: 3, score: 2 }] },
  { name: 'dense', hits: [{ key: 3, score: 0.9 }, { key: 4, score: 0.5 }, { key: 1, score: 0.1 }] },
];
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

describe('fusion', () => {
  it('RRF sums weighted 1/(k + rank)', () => {
    const out = fuse(lists, { method: 'rrf', rrfK: 60, weights: { lexical: 1, dense: 1 } });
    const byKey = new Map(out.map((h) => [h.key, h]));
    close(byKey.get(1)!.score, 1 / 61 + 1 / 63);
    close(byKey.get(3)!.score, 1 / 63 + 1 / 61);
    close(byKey.get(4)!.score, 1 / 62);
    assert.equal(byKey.get(4)!.retrievers['lexical'], undefined, 'absent from a list: no entry, no NaN');
    assert.deepEqual(byKey.get(3)!.retrievers['dense'], { rank: 1, score: 0.9 });
  });

  it('convex min-max normalises each list and weights them (weights renormalised)', () => {
    const out = fuse(lists, { method: 'convex', normalization: 'minmax', weights: { lexical: 3, dense: 1 } });
    const byKey = new Map(out.map((h) => [h.key, h]));
    // lexical minmax: 1 → 1, 2 → 0.6, 3 → 0; dense: 3 → 1, 4 → 0.5, 1 → 0
    close(byKey.get(1)!.score, 0.75 * 1 + 0.25 * 0);
    close(byKey.get(2)!.score, 0.75 * 0.6);
    close(byKey.get(3)!.score, 0.75 * 0 + 0.25 * 1);
    close(byKey.get(4)!.score, 0.25 * 0.5);
    assert.deepEqual(out.map((h) => h.key), [1, 2, 3, 4]);
    close(byKey.get(2)!.retrievers['lexical']!.normalized!, 0.6);
  });

  it('DBSF scales by mean ± 3σ', () => {
    const out = fuse([lists[0]!], { method: 'dbsf' });
    const s = [12, 8, 2];
    const mean = 22 / 3;
    const sd = Math.sqrt(s.reduce((a, x) => a + (x - mean) ** 2, 0) / 3);
    close(out[0]!.score, (12 - (mean - 3 * sd)) / (6 * sd));
  });

  it('normalisers never produce NaN (constant lists, empty lists)', () => {
    for (const how of ['minmax', 'zscore', 'rank'] as const) {
      assert.deepEqual(normalize([], how), []);
      assert.ok(normalize([5, 5, 5], how).every((x) => Number.isFinite(x)));
    }
    assert.deepEqual(normalize([3, 2, 1, 0], 'rank'), [1, 0.75, 0.5, 0.25]);
  });

  it('is deterministic on ties (smaller key first)', () => {
    const tie: RankedList[] = [{ name: 'lexical', hits: [{ key: 9, score: 1 }, { key: 2, score: 1 }] }];
    assert.deepEqual(fuse(tie, { method: 'rrf' }).map((h) => h.key).length, 2);
    const a = fuse([{ name: 'a', hits: [{ key: 9, score: 1 }] }, { name: 'b', hits: [{ key: 2, score: 1 }] }], { method: 'rrf' });
    assert.deepEqual(a.map((h) => h.key), [2, 9]);
  });
});
