/** Learned-sparse retrieval end to end on Postgres (PGlite over the wire protocol). */
import { after, before } from 'node:test';
import { Quiver } from '../src/engine/quiver.js';
import type { PgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { startPgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { runSparseScenario } from './sparse-scenario.js';

let server: PgliteServer;
before(async () => {
  server = await startPgliteServer();
});
after(async () => {
  await server.stop();
});

// The sparse index lives in memory beside Postgres (no index files): rebuilt from the store on open.
runSparseScenario('postgres', (dir) => Quiver.open({ data: dir, store: server.url }), { snapshots: false });
