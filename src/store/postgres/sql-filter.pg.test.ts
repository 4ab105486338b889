/**
 * Differential test of the SQL filter translation: for hundreds of filters (hand-picked edge cases
 * plus seeded random ones) the documents Postgres selects must be exactly those the in-memory
 * evaluator (src/retrieve/filter.ts) accepts — on PGlite through the wire protocol, and on a stock
 * Debian PostgreSQL server with an ICU English collation and a non-UTC time zone, when installed.
 * Also: the schema migrations apply on stock Postgres, and injection attempts stay data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { compileFilter } from '../../retrieve/filter.js';
import type { Filter, FilterValue, Metadata, QuiverDocument } from '../../types.js';
import { MIGRATIONS } from './postgres-backend.js';
import { Params, filterToSql } from './sql-filter.js';
import { startDebianPostgres } from './testing/debian-postgres.js';
import { startPgliteServer } from './testing/pglite-server.js';

const EVIL = "x'); DROP TABLE quiver_docs; --";

const DOCS: QuiverDocument[] = [
  {
    id: 'd1',
    text: '',
    metadata: {
      year: 2019,
      topic: 'animals',
      tags: ['a', 'b'],
      score: 1.5,
      date: '2020-01-15',
      nested: { x: 1, y: 'Z' },
    },
  },
  {
    id: 'd2',
    text: '',
    metadata: {
      year: 2021,
      topic: 'Animals',
      tags: ['b'],
      score: -3,
      date: '2021-06-01T12:00:00Z',
      nested: { x: 2 },
    },
  },
  { id: 'd3', text: '', metadata: { year: '2021', topic: null, tags: [], date: '2019-12-31' } },
  {
    id: 'd4',
    text: '',
    metadata: {
      topic: 'cooking',
      tags: ['a', 1, true, null],
      score: 0,
      date: 'not a date',
      nested: { x: [1, 5] },
    },
  },
  { id: 'd5', text: '' },
  {
    id: 'd6',
    text: '',
    metadata: { year: 2023, topic: EVIL, tags: ['ünïcode', 'B', 'a'], date: '2020-13-45', nested: 'flat' },
  },
  {
    id: 'd7',
    text: '',
    metadata: { year: 2020.5, topic: 'éclair', tags: ['A'], date: '2020-01-01 garbage', arr: [{ b: 1 }, 7] },
  },
  {
    id: 'd8',
    text: '',
    metadata: { year: [2018, 2022], topic: 'b', bool: false, date: '2024-03-01', nested: { y: 'a' } },
  },
  {
    id: 'd9',
    text: '',
    metadata: {
      year: 2020,
      topic: 'B',
      bool: true,
      date: '2020-01-01T00:00:00',
      tags: [['a']],
      nested: { x: { deep: 1 } },
    },
  },
  {
    id: "it's-d10",
    text: '',
    metadata: { topic: 'Zebra', score: 1e21, date: '2020-06-30T23:30:00-05:00', arr: ['x'] },
  },
];

const FIELDS = [
  'year',
  'topic',
  'tags',
  'score',
  'date',
  'nested.x',
  'nested.y',
  'bool',
  'id',
  'arr.0',
  'arr.b',
  'missing',
];
const VALUES: FilterValue[] = [
  2019,
  2020,
  2021,
  0,
  -3,
  1.5,
  2020.5,
  1,
  'animals',
  'Animals',
  'a',
  'B',
  'b',
  'A',
  'Z',
  '2021',
  'd2',
  EVIL,
  'ünïcode',
  'éclair',
  true,
  false,
  null,
];
const BOUNDS: (number | string)[] = [
  2019,
  2020.5,
  2021,
  0,
  1,
  -1,
  'a',
  'B',
  'Zebra',
  'b',
  'd5',
  '2020-01-01',
  '2020-06-01T00:00:00Z',
  '2021-01-01',
  '2020-01-15',
  '2019-12-31T23:59:59Z',
];

/** mulberry32: a small seeded PRNG so failures reproduce. */
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

function randomFilter(r: () => number, depth = 0): Filter {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const roll = r();
  if (depth < 2 && roll < 0.15)
    return { [pick(['$and', '$or'])]: [randomFilter(r, depth + 1), randomFilter(r, depth + 1)] } as Filter;
  if (depth < 2 && roll < 0.22) return { $not: randomFilter(r, depth + 1) };
  const field = pick(FIELDS);
  const op = pick(['plain', '$eq', '$ne', '$in', '$nin', '$exists', '$gt', '$gte', '$lt', '$lte', 'range']);
  switch (op) {
    case 'plain':
      return { [field]: pick(VALUES) };
    case '$in':
    case '$nin':
      return { [field]: { [op]: [pick(VALUES), pick(VALUES)] } };
    case '$exists':
      return { [field]: { $exists: r() < 0.5 } };
    case 'range':
      return { [field]: { $gte: pick(BOUNDS), $lt: pick(BOUNDS) } };
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return { [field]: { [op]: pick(BOUNDS) } };
    default:
      return { [field]: { [op]: pick(VALUES) } };
  }
}

const EDGE_CASES: Filter[] = [
  { topic: 'animals' },
  { tags: 'a' },
  { tags: null },
  { topic: null },
  { missing: null },
  { topic: { $exists: true } },
  { topic: { $exists: false } },
  { 'nested.x': 1 },
  { 'nested.x': 5 },
  { 'arr.0': 'x' }, // metadata arrays are not indexable by path: matches nothing, like the evaluator
  { 'arr.0': { $exists: true } },
  { 'arr.b': 1 },
  { year: { $gte: 2020 } },
  { year: { $gt: 2021, $lt: 2023 } },
  { topic: { $gt: 'B' } }, // JavaScript string order ('B' < 'a'), whatever the server's collation
  { topic: { $lt: 'a' } },
  { date: { $gte: '2020-01-01' } },
  { date: { $lt: '2020-06-01T00:00:00Z' } },
  { date: { $gt: '2020-01-01' } },
  { date: { $gt: 'm' } }, // a plain-string bound never matches date-like values
  { id: { $gt: 'd5' } },
  { id: { $in: ['d1', "it's-d10"] } },
  { score: { $gt: 1e20 } },
  { topic: EVIL },
  { [`topic'; DROP TABLE quiver_docs; --`]: 'x' },
  { $or: [{ year: 2019 }, { topic: 'B' }] },
  { $not: { tags: 'a' } },
  { $and: [{ year: { $gte: 2019 } }, { $not: { topic: { $in: ['animals', 'B'] } } }] },
  { year: { $ne: 2021 } },
  { tags: { $nin: ['a', 'b'] } },
  {},
];

interface Target {
  name: string;
  url: string;
  stop(): Promise<void>;
}

function runAgainst(label: string, start: () => Promise<Target | undefined>): void {
  describe(`SQL filters agree with the in-memory evaluator: ${label}`, () => {
    let target: Target | undefined;
    let client: pg.Client;
    before(async () => {
      target = await start();
      if (!target) return;
      client = new pg.Client({ connectionString: target.url.replace(/\?.*$/, '') });
      await client.connect();
      // The schema migrations apply on this server as written (no pgvector needed for them).
      await client.query('BEGIN');
      for (const m of MIGRATIONS) await client.query(m.sql);
      await client.query('COMMIT');
      let key = 1;
      for (const d of DOCS) {
        await client.query(
          'INSERT INTO quiver_docs (collection, key, id, title, text, metadata, seq) VALUES ($1, $2, $3, NULL, $4, $5, 1)',
          ['f', key++, d.id, d.text, d.metadata ? JSON.stringify(d.metadata) : null],
        );
      }
      // Another collection with matching metadata: a filter must never reach across collections.
      await client.query(
        'INSERT INTO quiver_docs (collection, key, id, title, text, metadata, seq) VALUES ($1, 1, $2, NULL, $3, $4, 1)',
        ['other', 'o1', '', JSON.stringify({ topic: 'animals', year: 2019, tags: ['a'] })],
      );
    });
    after(async () => {
      if (!target) return;
      await client.end();
      await target.stop();
    });

    async function sqlIds(filter: Filter): Promise<string[]> {
      const p = new Params();
      const coll = p.add('f');
      const where = filterToSql(filter, 'd', p);
      const r = await client.query<{ id: string }>(
        `SELECT d.id FROM quiver_docs d WHERE d.collection = ${coll} AND (${where}) ORDER BY d.id`,
        p.values,
      );
      return r.rows.map((x) => x.id);
    }

    function jsIds(filter: Filter): string[] {
      const f = compileFilter(filter);
      return DOCS.filter((d) => f.test({ id: d.id, metadata: d.metadata as Metadata | undefined }))
        .map((d) => d.id)
        .sort();
    }

    it('on hand-picked edge cases (arrays, nulls, nesting, dates, string order, injection)', async (t) => {
      if (!target) return t.skip('no server of this kind here');
      const wrong: string[] = [];
      for (const f of EDGE_CASES) {
        let got: string[];
        try {
          got = await sqlIds(f);
        } catch (e) {
          wrong.push(`${JSON.stringify(f)}: SQL error ${(e as Error).message}`);
          continue;
        }
        const want = jsIds(f);
        if (JSON.stringify(got) !== JSON.stringify(want))
          wrong.push(`${JSON.stringify(f)}: sql ${JSON.stringify(got)} js ${JSON.stringify(want)}`);
      }
      assert.deepEqual(wrong, []);
      const still = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM quiver_docs WHERE collection = 'f'",
      );
      assert.equal(
        Number(still.rows[0]!.n),
        DOCS.length,
        'the injection attempts were data: the table and its rows are intact',
      );
    });

    it('on 400 seeded random filters', async (t) => {
      if (!target) return t.skip('no server of this kind here');
      const r = rng(20261123);
      const wrong: string[] = [];
      for (let i = 0; i < 400; i++) {
        const f = randomFilter(r);
        let got: string[];
        try {
          got = await sqlIds(f);
        } catch (e) {
          wrong.push(`${JSON.stringify(f)}: SQL error ${(e as Error).message}`);
          continue;
        }
        const want = jsIds(f);
        if (JSON.stringify(got) !== JSON.stringify(want))
          wrong.push(`${JSON.stringify(f)}: sql ${JSON.stringify(got)} js ${JSON.stringify(want)}`);
      }
      assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of 400 filters disagree`);
    });
  });
}

runAgainst('PGlite through pglite-socket', async () => {
  const s = await startPgliteServer();
  return { name: 'pglite', url: s.url, stop: () => s.stop() };
});

runAgainst('Debian PostgreSQL (ICU "en" collation, America/New_York)', async () => {
  const s = await startDebianPostgres();
  return s ? { name: 'debian', url: s.url, stop: () => s.stop() } : undefined;
});
