/**
 * Learned sparse in SQL under two engine processes at once. The conformance suite runs in
 * conformance.pg.test.ts (PGlite); PGlite serves one connection at a time, so the race needs a
 * real server (Debian's PostgreSQL, skipped when not installed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SparseItem } from '../../index/sparse/sparse-index.js';
import { PgSparseIndex } from './pg-sparse.js';
import { twoWritersOnDebianPostgres } from './testing/debian-postgres.js';

describe('learned sparse in SQL: two engine processes writing the same passages at once (Debian PostgreSQL)', () => {
  it('neither write fails and every passage ends with exactly one version of its vector', async (t) => {
    const db = await twoWritersOnDebianPostgres();
    if (!db) return t.skip('no Debian PostgreSQL here');
    const { pools } = db;
    try {
      const [a, b] = await Promise.all(pools.map((p) => PgSparseIndex.open(p, 'race', 'splade')));
      const item = (key: number, round: number): SparseItem => ({
        key,
        docKey: key,
        vector: Object.fromEntries(
          Array.from({ length: 5 + (key % 4) }, (_, i) => [`t${(key * 7 + i * (round + 1)) % 50}`, 1 + i]),
        ),
      });
      const last = new Map<number, SparseItem>();
      for (let round = 0; round < 30; round++) {
        const batch = Array.from({ length: 30 }, (_, i) => item(1 + ((round * 13 + i) % 60), round));
        await Promise.all([a!.upsert(batch), b!.upsert(batch)]);
        for (const it of batch) last.set(it.key, it);
      }
      const r = await pools[0]!.query<{ passages: string; orphans: string }>(
        `SELECT (SELECT count(*) FROM quiver_sparse_passages WHERE collection = 'race') AS passages,
                (SELECT count(*) FROM quiver_sparse_postings p WHERE collection = 'race' AND NOT EXISTS (
                   SELECT 1 FROM quiver_sparse_passages s WHERE s.collection = p.collection AND s.field = p.field AND s.key = p.key)) AS orphans`,
      );
      assert.equal(Number(r.rows[0]!.passages), 60, 'every key written once');
      assert.equal(Number(r.rows[0]!.orphans), 0, 'no postings without their passage');
      // Each passage holds exactly its latest vector (both writers wrote the same rounds).
      const rows = await pools[0]!.query<{ key: string; term: string; weight: number }>(
        "SELECT key, term, weight FROM quiver_sparse_postings WHERE collection = 'race' ORDER BY key, term",
      );
      const got = new Map<number, Record<string, number>>();
      for (const row of rows.rows) {
        const v = got.get(Number(row.key)) ?? {};
        v[row.term] = row.weight;
        got.set(Number(row.key), v);
      }
      for (const [key, it] of last) assert.deepEqual(got.get(key), it.vector, `key ${key}`);
    } finally {
      await db.stop();
    }
  });
});
