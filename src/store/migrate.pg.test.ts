/**
 * `migrateCollection` end to end: a collection migrated into Postgres (and back) must be usable by
 * the engine at once — same lexical and dense results as the source, without re-embedding — and an
 * interrupted migration must resume from its checkpoint and still verify.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { vectorField } from '../engine/config.js';
import { Quiver } from '../engine/quiver.js';
import { tempDir } from '../testing/paths.js';
import { DEFAULT_COLLECTION_CONFIG } from '../types.js';
import { collectionDigest, migrateCollection } from './migrate.js';
import { openPostgresBackend } from './postgres/postgres-backend.js';
import { startPgliteServer } from './postgres/testing/pglite-server.js';
import type { PgliteServer } from './postgres/testing/pglite-server.js';
import { openSqliteBackend } from './sqlite/sqlite-backend.js';

const TOPICS = [
  'rivers and fish',
  'bees and flowers',
  'coffee and espresso',
  'glaciers and snow',
  'databases and crashes',
];
const DOCS = Array.from({ length: 60 }, (_, i) => ({
  id: `doc-${String(i).padStart(3, '0')}`,
  title: `Note ${i} on ${TOPICS[i % TOPICS.length]}`,
  text:
    `This note talks about ${TOPICS[i % TOPICS.length]}. ` +
    (i % 7 === 0
      ? 'It is long enough to be split into several chunks by the chunker, sentence after sentence. '.repeat(
          4,
        )
      : '') +
    `Item number ${i} ends here.`,
  metadata: { topic: TOPICS[i % TOPICS.length]!, n: i },
}));
const QUERIES = ['fish in rivers', 'flowers', 'espresso coffee', 'snow', 'crash recovery of databases'];

describe('migrateCollection', () => {
  let server: PgliteServer;
  const src = tempDir();
  const back = tempDir();
  before(async () => {
    server = await startPgliteServer();
    const q = await Quiver.open({ data: src.dir });
    const c = await q.createCollection('notes', {
      vectors: [vectorField('static:glove-100')],
      chunking: { maxChars: 200, overlapSentences: 0 },
    });
    await c.upsert(DOCS);
    await c.syncVectors({ fit: true });
    await q.close();
  });
  after(async () => {
    await server.stop();
    src.cleanup();
    back.cleanup();
  });

  async function results(opts: { data: string; store?: string }) {
    const q = await Quiver.open(opts);
    try {
      const c = await q.getCollection('notes');
      const out: Record<string, string[]> = {};
      for (const query of QUERIES) {
        out[`lexical ${query}`] = (await c.search({ query, mode: 'lexical', k: 5 })).hits.map((h) => h.id);
        out[`dense ${query}`] = (await c.search({ query, mode: 'dense', k: 5 })).hits.map((h) => h.id);
        out[`filtered ${query}`] = (await c.search({ query, k: 5, filter: { n: { $lt: 30 } } })).hits.map(
          (h) => h.id,
        );
      }
      return out;
    } finally {
      await q.close();
    }
  }

  it('embedded → postgres → embedded: searchable at once, same results, vectors not recomputed', async () => {
    const expected = await results({ data: src.dir });
    assert.ok(expected['lexical fish in rivers']!.length > 0 && expected['dense snow']!.length > 0);

    const a = await openSqliteBackend(src.dir);
    const p = await openPostgresBackend(server.url);
    const progress: number[] = [];
    const r1 = await migrateCollection(a, p, 'notes', { batchSize: 7, onProgress: (n) => progress.push(n) });
    assert.ok(r1.verified);
    assert.equal(r1.documents, DOCS.length);
    assert.ok(r1.vectors['dense']! > DOCS.length, 'chunk vectors too');
    assert.equal(progress[progress.length - 1], DOCS.length);
    await a.close();
    await p.close();

    const before = await collectionDigest(
      await (await openPostgresBackend(server.url)).openCollection('notes'),
      ['dense'],
    );
    assert.deepEqual(
      await results({ data: back.dir, store: server.url }),
      expected,
      'postgres answers like the source',
    );
    const pAfter = await openPostgresBackend(server.url);
    const after = await collectionDigest(await pAfter.openCollection('notes'), ['dense']);
    assert.equal(after.checksum, before.checksum, 'opening and searching did not re-embed anything');
    assert.equal(after.checksum, r1.checksum);

    const b = await openSqliteBackend(back.dir);
    const r2 = await migrateCollection(pAfter, b, 'notes');
    assert.equal(r2.checksum, r1.checksum);
    await b.close();
    await pAfter.close();
    assert.deepEqual(await results({ data: back.dir }), expected, 'and back in a data directory');
  });

  it('keeps meta JSON exactly as written (engine fingerprints hash it), so a reopened static field matches', async () => {
    const p = await openPostgresBackend(server.url);
    try {
      const store = await p.createCollection('meta-order', DEFAULT_COLLECTION_CONFIG);
      const value = { zeta: 1, alpha: { b: 2, a: [3, { y: 1, x: 0.1 + 0.2 }] }, mid: 'm' };
      await store.setMeta('state', value);
      assert.equal(JSON.stringify(await store.getMeta('state')), JSON.stringify(value));
      await p.dropCollection('meta-order');
    } finally {
      await p.close();
    }
  });

  it('resumes an interrupted migration from its checkpoint and refuses to overwrite a finished one', async () => {
    const a = await openSqliteBackend(src.dir);
    const p = await openPostgresBackend(server.url);
    try {
      await p.dropCollection('notes').catch(() => undefined);
      await assert.rejects(
        () =>
          migrateCollection(a, p, 'notes', {
            batchSize: 10,
            onProgress: (n) => {
              if (n >= 30) throw new Error('interrupted');
            },
          }),
        /interrupted/,
      );
      const partial = await (await p.openCollection('notes')).count();
      assert.ok(partial >= 30 && partial < DOCS.length, `partial copy (${partial})`);
      await assert.rejects(() => migrateCollection(a, p, 'notes'), { code: 'COLLECTION_EXISTS' });
      const seen: number[] = [];
      const r = await migrateCollection(a, p, 'notes', {
        batchSize: 10,
        resume: true,
        onProgress: (n) => seen.push(n),
      });
      assert.ok(r.verified && r.resumed);
      assert.equal(r.documents, DOCS.length);
      assert.ok(seen[seen.length - 1]! <= DOCS.length - 30, `only the rest was copied (${seen.join(',')})`);
      const again = await migrateCollection(a, p, 'notes', { resume: true });
      assert.equal(again.checksum, r.checksum, 'a finished migration re-verifies without copying');
    } finally {
      await a.close();
      await p.close();
    }
  });
});
