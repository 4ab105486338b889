/**
 * The sparse-index conformance suite: every SparseIndex implementation runs exactly this, through
 * the interface only. Results are checked against brute-force dot products on random sparse data
 * (float32 document weights, so scores agree to a relative 1e-5).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter } from '../../retrieve/filter.js';
import type { SparseIndex, SparseItem, SparseVector } from './sparse-index.js';

export interface SparseFactory {
  index: SparseIndex;
  cleanup(): Promise<void>;
}

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random sparse vectors over a Zipf-like vocabulary, so postings lengths vary as in real data. */
export function randomSparse(rand: () => number, terms: number, vocab = 400): SparseVector {
  const v: SparseVector = {};
  for (let i = 0; i < terms; i++) {
    const t = `t${Math.floor(vocab ** rand()) - 1}`;
    v[t] = Math.round((0.05 + rand() * 3) * 1000) / 1000;
  }
  return v;
}

const f32 = (x: number) => Math.fround(x);

/** Exact top-k by dot product over what the index should hold (ties: smaller key first). */
export function bruteForce(
  docs: Map<number, SparseVector>,
  q: SparseVector,
  k: number,
  allows?: (key: number) => boolean,
): { key: number; score: number }[] {
  const out: { key: number; score: number }[] = [];
  for (const [key, v] of docs) {
    if (allows && !allows(key)) continue;
    let s = 0;
    let shared = false;
    for (const [t, w] of Object.entries(q)) {
      const d = v[t];
      if (d !== undefined && d > 0 && w > 0) {
        s += w * f32(d);
        shared = true;
      }
    }
    if (shared) out.push({ key, score: s });
  }
  return out.sort((a, b) => b.score - a.score || a.key - b.key).slice(0, k);
}

function assertSameRanking(
  got: { key: number; score: number }[],
  want: { key: number; score: number }[],
  what: string,
): void {
  assert.equal(got.length, want.length, `${what}: hit count`);
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * Math.max(1, Math.abs(want[i]!.score));
    assert.ok(
      Math.abs(got[i]!.score - want[i]!.score) <= tol,
      `${what}: score ${i} ${got[i]!.score} vs ${want[i]!.score}`,
    );
    if (got[i]!.key !== want[i]!.key) {
      // Float32 accumulation may swap near-ties; anything else is a real difference.
      const gs = want.find((w) => w.key === got[i]!.key);
      assert.ok(
        gs && Math.abs(gs.score - want[i]!.score) <= 2 * tol,
        `${what}: rank ${i} key ${got[i]!.key} vs ${want[i]!.key}`,
      );
    }
  }
}

export function runSparseConformance(label: string, factory: () => Promise<SparseFactory>): void {
  describe(`sparse index conformance: ${label}`, () => {
    it('ranks by dot product exactly like brute force, with upserts, deletes and filters', async () => {
      const f = await factory();
      try {
        const rand = rng(11);
        const truth = new Map<number, SparseVector>();
        const items: SparseItem[] = [];
        for (let i = 0; i < 1500; i++) {
          const key = i * 65536 + (i % 3);
          const vector = randomSparse(rand, 3 + Math.floor(rand() * 40));
          items.push({ key, vector });
          truth.set(key, vector);
        }
        await f.index.upsert(items);
        assert.equal(f.index.size(), 1500);
        // Updates replace, deletes disappear.
        const updates = items
          .filter((_, i) => i % 7 === 0)
          .map((it) => ({ key: it.key, vector: randomSparse(rand, 10) }));
        await f.index.upsert(updates);
        for (const u of updates) truth.set(u.key, u.vector);
        const gone = items.filter((_, i) => i % 5 === 1).map((it) => it.key);
        await f.index.remove(gone);
        for (const k of gone) truth.delete(k);
        assert.equal(f.index.size(), truth.size);

        const filter = compileFilter({});
        filter.allows = (key) => Math.floor(key / 65536) % 4 !== 0;
        // As the engine sends it to an index that filters in SQL: the allowed passage keys too.
        filter.allowedKeys = items.map((it) => it.key).filter(filter.allows);
        for (let qi = 0; qi < 40; qi++) {
          const q = randomSparse(rand, 1 + Math.floor(rand() * 30));
          for (const k of [1, 10, 100]) {
            assertSameRanking(await f.index.search(q, k), bruteForce(truth, q, k), `q${qi} k=${k}`);
            const filtered = await f.index.search(q, k, { filter });
            for (const h of filtered) assert.ok(filter.allows(h.key), 'filtered hits are allowed');
            assertSameRanking(filtered, bruteForce(truth, q, k, filter.allows), `q${qi} k=${k} filtered`);
            for (const h of filtered) assert.ok(truth.has(h.key), 'deleted keys never come back');
          }
        }
      } finally {
        await f.cleanup();
      }
    });

    it('explains per-term contributions that sum to the score', async () => {
      const f = await factory();
      try {
        await f.index.upsert([
          { key: 1, vector: { otter: 2, river: 0.5 } },
          { key: 2, vector: { river: 2, fish: 1 } },
        ]);
        const [top, second] = await f.index.search({ otter: 1, river: 2 }, 2, { explain: true });
        assert.equal(top!.key, 2);
        assert.ok(Math.abs(top!.score - 4) < 1e-5);
        assert.deepEqual(Object.keys(top!.terms ?? {}), ['river']);
        assert.equal(second!.key, 1);
        assert.ok(Math.abs(second!.terms!['otter']! - 2) < 1e-6);
        assert.ok(Math.abs(second!.terms!['river']! - 1) < 1e-6);
        const sum = Object.values(second!.terms!).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - second!.score) < 1e-5);
      } finally {
        await f.cleanup();
      }
    });

    it('handles empty, zero-weight, unknown-term queries and empty vectors', async () => {
      const f = await factory();
      try {
        await f.index.upsert([
          { key: 5, vector: { a: 1 } },
          { key: 6, vector: { 'term with spaces\nand newline': 1, ünïcödé: 2 } },
        ]);
        assert.deepEqual(await f.index.search({}, 5), []);
        assert.deepEqual(await f.index.search({ a: 0 }, 5), []);
        assert.deepEqual(await f.index.search({ nope: 3 }, 5), []);
        assert.deepEqual(await f.index.search({ a: 1 }, 0), []);
        assert.deepEqual(
          (await f.index.search({ ünïcödé: 1 }, 5)).map((h) => h.key),
          [6],
        );
        // An empty vector removes the passage (nothing left to match).
        await f.index.upsert([{ key: 5, vector: {} }]);
        assert.equal(f.index.size(), 1);
        assert.deepEqual(await f.index.search({ a: 1 }, 5), []);
      } finally {
        await f.cleanup();
      }
    });
  });
}
