/**
 * BM25 in SQL keeps document frequencies and collection statistics as running totals; after any
 * mix of inserts, replacements and removals they must equal a recount, and scores must equal the
 * embedded index's for the same passages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAnalyzer } from '../../analyze/index.js';
import { Bm25Index } from '../../index/lexical/bm25.js';
import type { Passage } from '../../types.js';
import { DEFAULT_COLLECTION_CONFIG } from '../../types.js';
import type { PostgresBackend } from './postgres-backend.js';
import { openPostgresBackend } from './postgres-backend.js';
import { PgLexicalIndex } from './pg-lexical.js';
import { twoWritersOnDebianPostgres } from './testing/debian-postgres.js';
import { startPgliteServer } from './testing/pglite-server.js';
import type { PgliteServer } from './testing/pglite-server.js';

const WORDS = [
  'otter',
  'river',
  'fish',
  'bee',
  'flower',
  'coffee',
  'espresso',
  'glacier',
  'snow',
  'crash',
  'log',
  'the',
  'and',
];
const passage = (key: number, seed: number): Passage => {
  const text = Array.from(
    { length: 3 + (seed % 9) },
    (_, i) => WORDS[(seed * 7 + i * ((seed % 5) + 1)) % WORDS.length],
  ).join(' ');
  return { key, docKey: key, docId: `d${key}`, chunk: 0, title: '', text, start: 0, end: text.length };
};

describe('BM25 in SQL: maintained statistics', () => {
  let server: PgliteServer;
  let backend: PostgresBackend;
  before(async () => {
    server = await startPgliteServer();
    backend = await openPostgresBackend(server.url);
    await backend.createCollection('lex', DEFAULT_COLLECTION_CONFIG);
    await backend.createCollection('other', DEFAULT_COLLECTION_CONFIG);
  });
  after(async () => {
    await backend.close();
    await server.stop();
  });

  it('df and n/avgdl equal a recount after inserts, replacements, removals by passage and by document; scores equal the embedded index', async () => {
    const opts = { analyzer: createAnalyzer({ language: 'en' }), k1: 0.9, b: 0.4 };
    const pg = await backend.createLexicalIndex('lex', opts);
    const other = await backend.createLexicalIndex('other', opts);
    const mem = new Bm25Index(opts);
    await other.add([passage(1, 3), passage(2, 4)]);
    const live = new Map<number, Passage>();
    for (let round = 0; round < 6; round++) {
      const batch = Array.from({ length: 40 }, (_, i) =>
        passage(1 + ((round * 17 + i * 3) % 90), round * 40 + i),
      );
      await pg.add(batch);
      await mem.add(batch);
      for (const p of batch) live.set(p.key, p);
      const gone = [...live.keys()].filter((k) => (k + round) % 7 === 0);
      await pg.remove([...gone, 999]);
      await mem.remove(gone);
      for (const k of gone) live.delete(k);
      // Removal by document key (the engine's crash catch-up), here one passage per document.
      const docs = [...live.values()].filter((p) => (p.docKey + round) % 11 === 0).map((p) => p.docKey);
      await pg.removeDocuments([...docs, 998]);
      await mem.remove(docs);
      for (const k of docs) live.delete(k);
    }
    assert.equal(pg.size(), live.size);
    const recount = await backend.pool.query<{ term: string; df: number; counted: string }>(
      `SELECT coalesce(d.term, c.term) AS term, coalesce(d.df, 0) AS df, coalesce(c.n, 0) AS counted
       FROM (SELECT term, df FROM quiver_df WHERE collection = 'lex' AND df <> 0) d
       FULL JOIN (SELECT term, count(*) AS n FROM quiver_postings WHERE collection = 'lex' GROUP BY term) c ON c.term = d.term
       WHERE coalesce(d.df, 0) <> coalesce(c.n, 0)`,
    );
    assert.deepEqual(recount.rows, [], 'document frequencies match a recount');
    const stats = await backend.pool.query<{ ok: boolean }>(
      `SELECT s.n = (SELECT count(*) FROM quiver_doclen WHERE collection = 'lex')
          AND s.total_len = (SELECT sum(len) FROM quiver_doclen WHERE collection = 'lex') AS ok
       FROM quiver_lexstats s WHERE s.collection = 'lex'`,
    );
    assert.equal(stats.rows[0]!.ok, true, 'n and total length match a recount');
    for (const q of ['otter river', 'fish fish coffee', 'snow glacier crash', 'bee']) {
      const a = await pg.search(q, 10);
      const b = await mem.search(q, 10);
      // Same ranking up to ties (equal scores may come in either order): same score at every
      // rank, and every key both return has the same score.
      assert.equal(a.length, b.length, q);
      a.forEach((h, i) =>
        assert.ok(Math.abs(h.score - b[i]!.score) < 1e-4, `${q} rank ${i}: ${h.score} vs ${b[i]!.score}`),
      );
      const bScore = new Map(b.map((h) => [h.key, h.score]));
      for (const h of a)
        if (bScore.has(h.key)) assert.ok(Math.abs(h.score - bScore.get(h.key)!) < 1e-4, `${q} key ${h.key}`);
    }
  });
});

describe('BM25 in SQL: two engine processes indexing the same passages at once (Debian PostgreSQL)', () => {
  // Every engine replays the store's change log, so two servers on one database index each other's
  // writes too, sometimes at the same moment. PGlite serves one connection at a time and cannot
  // show this; a real server can.
  it('neither write fails and the statistics still equal a recount', async (t) => {
    const db = await twoWritersOnDebianPostgres();
    if (!db) return t.skip('no Debian PostgreSQL here');
    const { pools } = db;
    try {
      const opts = { analyzer: createAnalyzer({ language: 'en' }), k1: 0.9, b: 0.4 };
      const [a, b] = await Promise.all(pools.map((p) => PgLexicalIndex.open(p, 'race', opts)));
      for (let round = 0; round < 30; round++) {
        const batch = Array.from({ length: 30 }, (_, i) => passage(1 + ((round * 13 + i) % 60), round + i));
        await Promise.all([a!.add(batch), b!.add(batch)]);
      }
      const recount = await pools[0]!.query<{ bad: string }>(
        `SELECT count(*) AS bad FROM (SELECT term, count(*) AS n FROM quiver_postings WHERE collection = 'race' GROUP BY term) c
         FULL JOIN (SELECT term, df FROM quiver_df WHERE collection = 'race' AND df <> 0) d USING (term)
         WHERE coalesce(c.n, 0) <> coalesce(d.df, 0)`,
      );
      assert.equal(Number(recount.rows[0]!.bad), 0, 'document frequencies match a recount');
      const stats = await pools[0]!.query<{ ok: boolean }>(
        `SELECT s.n = (SELECT count(*) FROM quiver_doclen WHERE collection = 'race') AS ok
         FROM quiver_lexstats s WHERE s.collection = 'race'`,
      );
      assert.equal(stats.rows[0]!.ok, true, 'n matches a recount');
    } finally {
      await db.stop();
    }
  });
});
