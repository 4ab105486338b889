/** Learned-sparse retrieval end to end on Postgres (PGlite over the wire protocol). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Quiver } from '../src/engine/quiver.js';
import { migrateCollection } from '../src/store/migrate.js';
import { tempDir } from '../src/testing/paths.js';
import type { PgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { startPgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { SPARSE_DOCS, runSparseScenario } from './sparse-scenario.js';

let server: PgliteServer;
before(async () => {
  server = await startPgliteServer();
});
after(async () => {
  await server.stop();
});

// The sparse index lives in memory beside Postgres (no index files): rebuilt from the store on open.
runSparseScenario('postgres', (dir) => Quiver.open({ data: dir, store: server.url }), { snapshots: false });

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
