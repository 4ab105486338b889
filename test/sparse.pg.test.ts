/** Learned-sparse retrieval end to end on Postgres (PGlite over the wire protocol). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Quiver } from '../src/engine/quiver.js';
import { migrateCollection } from '../src/store/migrate.js';
import { openPostgresBackend } from '../src/store/postgres/postgres-backend.js';
import { tempDir } from '../src/testing/paths.js';
import type { PgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { startPgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import type { QuiverDocument, SparseVector } from '../src/types.js';
import { SPARSE_DOCS, runSparseScenario } from './sparse-scenario.js';

let server: PgliteServer;
before(async () => {
  server = await startPgliteServer();
});
after(async () => {
  await server.stop();
});

// The sparse index lives in the database (no index files), shared by every process.
runSparseScenario('postgres', (dir) => Quiver.open({ data: dir, store: server.url }), { snapshots: false });

describe('learned-sparse index in the database', () => {
  it('is shared through the database and caught up after a writer died between commit and index', async () => {
    const t = tempDir();
    try {
      const field = { sparse: [{ name: 'splade', model: 'user' }] };
      const pg = await Quiver.open({ data: t.dir, store: server.url });
      await (await pg.createCollection('spdb', field)).upsert(SPARSE_DOCS);
      await pg.close();

      // What a writer killed right after the store's commit leaves: documents changed in the store
      // of record whose sparse rows were never written (or never removed).
      const backend = await openPostgresBackend(server.url);
      const rows = await backend.pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM quiver_sparse_postings WHERE collection = 'spdb' AND field = 'splade'",
      );
      assert.equal(Number(rows.rows[0]!.n), 23, 'one row per (passage, term) of the five vectors');
      const store = await backend.openCollection('spdb');
      const late: QuiverDocument[] = [
        {
          id: 'walrus',
          text: 'Walruses haul out on ice.',
          sparse: { splade: { walrus: 2, ice: 1.5, wildlife: 1 } },
        },
        { id: 'bees', text: 'Bees make honey.', sparse: { splade: { bee: 1, honey: 2 } } },
      ];
      await store.upsert(late);
      await store.delete(['coffee']);
      const head = await store.headSeq();
      await backend.close();

      const local = await Quiver.open({ data: t.dir });
      const again = await Quiver.open({ data: t.dir, store: server.url });
      try {
        const reference = await local.createCollection('spdb-reference', field);
        await reference.upsert(SPARSE_DOCS.filter((d) => !['coffee', 'bees'].includes(d.id)));
        await reference.upsert(late);
        const c = await again.getCollection('spdb');
        for (const sparseQuery of <SparseVector[]>[
          { walrus: 1, wildlife: 0.5 },
          { pollination: 1, flower: 1, honey: 0.2 },
          { caffeine: 1, drink: 1 },
        ]) {
          const req = { query: 'x', mode: 'sparse' as const, sparseQuery, k: 10, explain: true };
          const got = (await c.search(req)).hits;
          const want = (await reference.search(req)).hits;
          assert.deepEqual(
            got.map((h) => [h.id, h.score.toFixed(5)]),
            want.map((h) => [h.id, h.score.toFixed(5)]),
            JSON.stringify(sparseQuery),
          );
        }
        const stats = (await c.stats()).sparseFields[0]!;
        assert.deepEqual(
          stats,
          (await reference.stats()).sparseFields[0],
          'passages and terms counted alike',
        );
        assert.equal(stats.passages, 5);
        const check = await openPostgresBackend(server.url);
        const meta = await (await check.openCollection('spdb')).getMeta('sparse:splade');
        await check.close();
        assert.deepEqual(
          meta,
          { seq: head, fingerprint: 'user' },
          'the watermark records what the index holds',
        );
      } finally {
        await again.close();
        await local.close();
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('migrating a collection with sparse vectors between backends', () => {
  it('copies the vectors with the documents, verifies, and the target answers the same', async () => {
    const t = tempDir();
    const local = await Quiver.open({ data: t.dir });
    const pg = await Quiver.open({ data: t.dir, store: server.url });
    try {
      const c = await local.createCollection('spmig', { sparse: [{ name: 'splade', model: 'user' }] });
      await c.upsert(SPARSE_DOCS);
      await c.flush();
      const req = {
        query: 'x',
        mode: 'sparse' as const,
        sparseQuery: { caffeine: 1, fermentation: 0.5 },
        k: 10,
      };
      const before = await c.search(req);
      const report = await migrateCollection(local.backend, pg.backend, 'spmig');
      assert.ok(report.verified);
      const target = await pg.getCollection('spmig');
      assert.deepEqual((await target.get(['coffee']))[0]!.sparse, SPARSE_DOCS[3]!.sparse);
      assert.deepEqual((await target.search(req)).hits, before.hits);
    } finally {
      await pg.close();
      await local.close();
      t.cleanup();
    }
  });
});
