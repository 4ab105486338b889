/**
 * Several engine processes on one collection, as in production: a server running while
 * `quiver add` writes, two servers on one Postgres, a process started after a crash. Each Quiver
 * instance below holds its own in-memory state exactly as a separate process would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { vectorField } from '../src/engine/config.js';
import type { Collection } from '../src/engine/collection.js';
import { Quiver } from '../src/engine/quiver.js';
import type { PgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { startPgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { tempDir } from '../src/testing/paths.js';

let server: PgliteServer;
before(async () => {
  server = await startPgliteServer();
});
after(async () => {
  await server.stop();
});

const DOCS = [
  { id: 'otters', text: 'river otters swim and eat fish' },
  { id: 'bread', text: 'sourdough bread rises in the bakery oven' },
  { id: 'chess', text: 'a chess club plays every tuesday evening' },
];

/** Searches made so far (each embeds its query once). */
let searches = 0;

/** Dense search, repeated until the collection stops warning that vectors are behind (≤ 10 s). */
async function settledDense(c: Collection, query: string): Promise<string[]> {
  for (let i = 0; ; i++) {
    searches++;
    const r = await c.search({ query, mode: 'dense', k: 3 });
    if (!r.warnings?.length || i >= 100) return r.hits.map((h) => h.id);
    await new Promise((res) => setTimeout(res, 100));
  }
}

const embedded = (c: Collection) => c.vectorFields[0]!.embedder.stats().texts;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`several processes on one collection (${backend})`, () => {
    const open = (dir: string) =>
      Quiver.open({ data: dir, ...(backend === 'postgres' ? { store: server.url } : {}) });

    it('a running process finds by meaning what another wrote, reading the vectors back instead of re-embedding', async () => {
      const t = tempDir();
      const name = `shared-${backend}`;
      const server1 = await open(t.dir);
      const writer = await open(t.dir);
      try {
        const a = await server1.createCollection(name, { vectors: [vectorField('static:glove-100')] });
        await a.upsert([DOCS[0]!]);
        const b = await writer.getCollection(name);
        await b.upsert(DOCS.slice(1));
        // An update of a document the server already knows: its new text must be what is found.
        await b.upsert([{ id: 'otters', text: 'espresso coffee beans roasted for the morning cup' }]);

        const before = { texts: embedded(a), searches };
        const first = await a.search({ query: 'espresso coffee', mode: 'dense', k: 3 });
        assert.match(first.warnings?.join() ?? '', /still embedding/, 'behind at first, and says so');
        assert.equal((await settledDense(a, 'espresso coffee'))[0], 'otters');
        assert.equal((await settledDense(a, 'bakery oven bread'))[0], 'bread');
        assert.equal(
          embedded(a) - before.texts,
          searches - before.searches + 1,
          "only queries were embedded: the documents' vectors of record were read back",
        );
      } finally {
        await writer.close();
        await server1.close();
        t.cleanup();
      }
    });

    it('a process started after a crash embeds what was left deferred, without waiting for a write', async () => {
      const t = tempDir();
      const name = `deferred-${backend}`;
      const crashed = await open(t.dir);
      try {
        const c = await crashed.createCollection(name, { vectors: [vectorField('static:glove-100')] });
        await c.upsert([DOCS[0]!]);
        // Written, acknowledged, vectors deferred to a flush that never came (the process died).
        await c.upsert(DOCS.slice(1), { deferVectors: true });
      } finally {
        await crashed.close();
      }
      const next = await open(t.dir);
      try {
        const c = await next.getCollection(name);
        assert.equal((await settledDense(c, 'chess club tuesday'))[0], 'chess');
        const r = await c.search({ query: 'chess club tuesday', mode: 'dense', k: 3 });
        assert.equal(r.warnings, undefined, 'caught up: no warning');
      } finally {
        await next.close();
        t.cleanup();
      }
    });
  });
}
