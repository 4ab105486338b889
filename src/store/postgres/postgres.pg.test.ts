/**
 * The Postgres backend through the wire protocol (PGlite + pglite-socket + `pg`): the storage
 * conformance suite unchanged, the engine on top (lexical, dense, hybrid, filters), a SQL
 * injection attempt as a filter value, a database restart mid-ingest, and migration round trips.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { vectorField } from '../../engine/config.js';
import { Quiver } from '../../engine/quiver.js';
import { tempDir } from '../../testing/paths.js';
import { openSqliteBackend } from '../sqlite/sqlite-backend.js';
import { collectionDigest, migrateCollection } from '../migrate.js';
import { runStoreConformance } from '../store.conformance.js';
import { openPostgresBackend } from './postgres-backend.js';
import { startPgliteServer } from './testing/pglite-server.js';
import type { PgliteServer } from './testing/pglite-server.js';

runStoreConformance('postgres (pglite-socket)', async () => {
  const server = await startPgliteServer();
  const backend = await openPostgresBackend(server.url);
  return { backend, cleanup: () => server.stop() };
});

const DOCS = [
  {
    id: 'otters',
    title: 'River otters',
    text: 'Otters are mammals that swim in rivers and eat fish.',
    metadata: { topic: 'animals', year: 2019 },
  },
  {
    id: 'bees',
    title: 'Honeybees',
    text: 'Bees dance to tell other bees where the flowers are.',
    metadata: { topic: 'animals', year: 2021 },
  },
  {
    id: 'coffee',
    title: 'Espresso',
    text: 'Espresso forces hot water through finely ground coffee.',
    metadata: { topic: 'cooking', year: 2023 },
  },
  {
    id: 'wal',
    title: 'SQLite WAL',
    text: "The write-ahead log keeps the database safe after a crash; O'Reilly explains.",
    metadata: { topic: "x'); DROP TABLE quiver_docs; --", year: 2021 },
  },
];

describe('postgres backend under the engine', () => {
  let server: PgliteServer;
  const t = tempDir();
  before(async () => {
    server = await startPgliteServer();
  });
  after(async () => {
    await server.stop();
    t.cleanup();
  });

  it('searches lexically, densely and hybrid with filters evaluated in SQL, and matches the embedded backend', async () => {
    const pg = await Quiver.open({ data: t.dir, store: server.url });
    const local = await Quiver.open({ data: t.dir });
    try {
      for (const q of [pg, local]) {
        const c = await q.createCollection('zoo', { vectors: [vectorField('static:glove-100')] });
        await c.upsert(DOCS);
      }
      const cp = await pg.getCollection('zoo');
      const cl = await local.getCollection('zoo');
      for (const query of ['fish in rivers', 'bees flowers', 'database crash safety']) {
        const a = await cp.search({ query, mode: 'lexical', k: 3 });
        const b = await cl.search({ query, mode: 'lexical', k: 3 });
        assert.deepEqual(
          a.hits.map((h) => h.id),
          b.hits.map((h) => h.id),
          `lexical "${query}" agrees across backends`,
        );
        a.hits.forEach((h, i) => assert.ok(Math.abs(h.score - b.hits[i]!.score) < 1e-4, 'same BM25 scores'));
        const da = await cp.search({ query, mode: 'dense', k: 3 });
        const db = await cl.search({ query, mode: 'dense', k: 3 });
        assert.deepEqual(
          da.hits.map((h) => h.id),
          db.hits.map((h) => h.id),
          `dense "${query}" agrees`,
        );
      }
      const hybrid = await cp.search({ query: 'fish', mode: 'hybrid', k: 2, explain: true });
      assert.equal(hybrid.hits[0]!.id, 'otters');
      const filtered = await cp.search({
        query: 'bees fish coffee',
        k: 10,
        filter: { topic: 'animals', year: { $gte: 2020 } },
      });
      assert.deepEqual(
        filtered.hits.map((h) => h.id),
        ['bees'],
      );
      const denseFiltered = await cp.search({
        query: 'bees fish coffee',
        mode: 'dense',
        k: 10,
        filter: { topic: { $in: ['cooking'] } },
      });
      assert.deepEqual(
        denseFiltered.hits.map((h) => h.id),
        ['coffee'],
      );
      // An injection attempt is just a value: it matches the one document that has it, nothing breaks.
      const evil = await cp.search({
        query: 'database',
        k: 10,
        filter: { topic: "x'); DROP TABLE quiver_docs; --" },
      });
      assert.deepEqual(
        evil.hits.map((h) => h.id),
        ['wal'],
      );
      const evilField = await cp.search({
        query: 'database',
        k: 10,
        filter: { "topic'; DROP TABLE quiver_docs; --": 'x' },
      });
      assert.deepEqual(evilField.hits, []);
      assert.equal(await cp.count(), 4, 'the table is still there');
      await cp.delete(['otters']);
      assert.ok(!(await cp.search({ query: 'otters fish', k: 5 })).hits.some((h) => h.id === 'otters'));
    } finally {
      await pg.close();
      await local.close();
    }
  });

  it('keeps acknowledged writes when the database restarts mid-ingest, and the ingest resumes', async () => {
    const q = await Quiver.open({ data: t.dir, store: server.url });
    try {
      const c = await q.createCollection('restarts');
      const acked: string[] = [];
      for (let batch = 0; batch < 12; batch++) {
        if (batch === 5) void server.restart(400);
        const docs = Array.from({ length: 20 }, (_, i) => ({
          id: `r${batch}-${i}`,
          text: `restart test document ${batch} ${i}`,
        }));
        await c.upsert(docs); // retried across the restart by the backend
        acked.push(...docs.map((d) => d.id));
      }
      assert.equal((await c.get(acked)).length, acked.length);
      assert.equal(await c.count(), 240);
    } finally {
      await q.close();
    }
  });

  it('catches its in-database BM25 up after a writer died between the store commit and the index write', async () => {
    const q = await Quiver.open({ data: t.dir, store: server.url });
    await (await q.createCollection('catchup')).upsert(DOCS);
    await q.close();
    // What a writer killed right after the store's commit leaves behind: documents changed in the
    // store of record whose postings were never written (or never removed).
    const backend = await openPostgresBackend(server.url);
    const store = await backend.openCollection('catchup');
    await store.upsert([
      { id: 'walrus', title: 'Walruses', text: 'Walruses haul out on floating ice.' },
      { id: 'bees', title: 'Honeybees', text: 'Bees make honey from nectar.' },
    ]);
    await store.delete(['coffee']);
    const head = await store.headSeq();
    await backend.close();

    const local = await Quiver.open({ data: t.dir });
    const pg = await Quiver.open({ data: t.dir, store: server.url });
    try {
      const cp = await pg.getCollection('catchup');
      const cl = await local.createCollection('catchup-reference');
      await cl.upsert(DOCS.filter((d) => d.id !== 'coffee' && d.id !== 'bees'));
      await cl.upsert([
        { id: 'walrus', title: 'Walruses', text: 'Walruses haul out on floating ice.' },
        { id: 'bees', title: 'Honeybees', text: 'Bees make honey from nectar.' },
      ]);
      for (const query of ['walruses on ice', 'espresso coffee', 'bees dance flowers', 'fish rivers crash']) {
        const a = (await cp.search({ query, mode: 'lexical', k: 10 })).hits;
        const b = (await cl.search({ query, mode: 'lexical', k: 10 })).hits;
        assert.deepEqual(
          a.map((h) => h.id),
          b.map((h) => h.id),
          `"${query}": the new document is found, the deleted and replaced texts are not`,
        );
        // Equal scores mean equal statistics too (N, average length, document frequencies).
        a.forEach((h, i) => assert.ok(Math.abs(h.score - b[i]!.score) < 1e-4, `"${query}" scores agree`));
      }
      assert.equal((await cp.search({ query: 'espresso', mode: 'lexical' })).hits.length, 0);
      assert.equal((await cp.search({ query: 'walruses', mode: 'lexical' })).hits[0]?.id, 'walrus');
      const check = await openPostgresBackend(server.url);
      const meta = await (await check.openCollection('catchup')).getMeta('lexical');
      await check.close();
      assert.deepEqual(meta, { seq: head }, 'the watermark records what the index now holds');
    } finally {
      await pg.close();
      await local.close();
    }
  });

  it('migrates embedded → postgres → embedded preserving documents, vectors (bit-exact) and config', async () => {
    const src = tempDir();
    const back = tempDir();
    try {
      const q = await Quiver.open({ data: src.dir });
      const c = await q.createCollection('mig', {
        vectors: [vectorField('static:glove-100')],
        chunking: { maxChars: 120, overlapSentences: 0 },
      });
      await c.upsert([
        ...DOCS,
        {
          id: 'long',
          text: 'One sentence about rivers and the fish in them. Another one about mountains, glaciers and snow. A third one about the sea and its tides and waves. And a fourth one, about nothing at all, to make it long.',
        },
      ]);
      await q.close();
      const a = await openSqliteBackend(src.dir);
      const p = await openPostgresBackend(server.url);
      const r1 = await migrateCollection(a, p, 'mig', { batchSize: 2 });
      assert.ok(r1.verified);
      assert.equal(r1.documents, 5);
      const b = await openSqliteBackend(back.dir);
      const r2 = await migrateCollection(p, b, 'mig');
      assert.equal(r2.checksum, r1.checksum, 'documents and vectors survive the round trip bit-exact');
      const s1 = await a.openCollection('mig');
      const s2 = await b.openCollection('mig');
      assert.deepEqual(await s2.getConfig(), await s1.getConfig());
      const d1 = await collectionDigest(s1, ['dense']);
      const d2 = await collectionDigest(s2, ['dense']);
      assert.equal(d1.checksum, d2.checksum);
      assert.ok(d1.vectors['dense']! > 5, 'chunk vectors migrated too');
      await a.close();
      await b.close();
      await p.close();
    } finally {
      src.cleanup();
      back.cleanup();
    }
  });
});
