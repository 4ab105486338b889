/**
 * BM25 inside Postgres, with Quiver's own analyzer and Lucene's scoring (the same formula and
 * one-byte length norms as the embedded index), so lexical results are comparable across
 * backends and reproduce Pyserini there too. Postings (collection, term, key, tf) and document
 * lengths are plain tables distributed by collection; a query is one aggregate over the postings
 * of its terms, with metadata filters joined in SQL.
 * (pg_textsearch's BM25 index is an alternative on servers that have it; it tokenizes with
 * Postgres text-search configurations, so its numbers differ from Pyserini's — see docs/scale-out.md.)
 */
import type pg from 'pg';
import type { Analyzer } from '../../analyze/analyzer.js';
import { byte4ToInt, intToByte4 } from '../../index/lexical/bm25.js';
import type { LexicalIndex, LexicalSearchOptions, ScoredKey } from '../../index/lexical/lexical-index.js';
import type { Passage } from '../../types.js';
import { query, withTransaction } from './postgres-backend.js';
import { Params, filterClause } from './sql-filter.js';

export class PgLexicalIndex implements LexicalIndex {
  private count = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly collection: string,
    private readonly opts: { analyzer: Analyzer; k1: number; b: number },
  ) {}

  static async open(pool: pg.Pool, collection: string, opts: { analyzer: Analyzer; k1: number; b: number }): Promise<PgLexicalIndex> {
    const idx = new PgLexicalIndex(pool, collection, opts);
    idx.count = Number((await query<{ n: string }>(pool, 'SELECT count(*) AS n FROM quiver_doclen WHERE collection = $1', [collection])).rows[0]!.n);
    return idx;
  }

  size(): number {
    return this.count;
  }

  async add(passages: Passage[]): Promise<void> {
    if (passages.length === 0) return;
    const keys: number[] = [];
    const docKeys: number[] = [];
    const lens: number[] = [];
    const norms: number[] = [];
    const pKeys: number[] = [];
    const pTerms: string[] = [];
    const pTfs: number[] = [];
    for (const p of passages) {
      const terms = this.opts.analyzer.analyze(p.title ? `${p.title} ${p.text}` : p.text);
      const tf = new Map<string, number>();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      keys.push(p.key);
      docKeys.push(p.docKey);
      lens.push(terms.length);
      norms.push(byte4ToInt(intToByte4(terms.length)));
      for (const [t, n] of tf) {
        pKeys.push(p.key);
        pTerms.push(t);
        pTfs.push(n);
      }
    }
    await withTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM quiver_postings WHERE collection = $1 AND key = ANY($2::bigint[])', [this.collection, keys]);
      const had = await c.query('DELETE FROM quiver_doclen WHERE collection = $1 AND key = ANY($2::bigint[])', [this.collection, keys]);
      await c.query(
        'INSERT INTO quiver_doclen (collection, key, doc_key, len, norm_len) SELECT $1, k, dk, l, n FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::int[]) AS u(k, dk, l, n)',
        [this.collection, keys, docKeys, lens, norms],
      );
      for (let i = 0; i < pKeys.length; i += 20_000) {
        await c.query(
          'INSERT INTO quiver_postings (collection, term, key, tf) SELECT $1, t, k, f FROM unnest($2::text[], $3::bigint[], $4::int[]) AS u(t, k, f)',
          [this.collection, pTerms.slice(i, i + 20_000), pKeys.slice(i, i + 20_000), pTfs.slice(i, i + 20_000)],
        );
      }
      this.count += keys.length - (had.rowCount ?? 0);
    });
  }

  async remove(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    await withTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM quiver_postings WHERE collection = $1 AND key = ANY($2::bigint[])', [this.collection, keys]);
      const r = await c.query('DELETE FROM quiver_doclen WHERE collection = $1 AND key = ANY($2::bigint[])', [this.collection, keys]);
      this.count -= r.rowCount ?? 0;
    });
  }

  async search(text: string, k: number, opts: LexicalSearchOptions = {}): Promise<ScoredKey[]> {
    const terms = this.opts.analyzer.analyze(text);
    if (terms.length === 0 || k <= 0) return [];
    const qtf = new Map<string, number>();
    for (const t of terms) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    const p = new Params();
    const coll = p.add(this.collection);
    const qTerms = p.add([...qtf.keys()]);
    const qCounts = p.add([...qtf.values()]);
    const k1 = p.add(this.opts.k1);
    const b = p.add(this.opts.b);
    const { join, filter } = filterClause(opts.filter, 'po', p, (alias) => `${alias}.collection = dl.collection AND ${alias}.key = dl.doc_key`);
    const limit = p.add(k);
    const sql = `
      WITH q AS (SELECT * FROM unnest(${qTerms}::text[], ${qCounts}::int[]) AS q(term, qtf)),
      stats AS (SELECT count(*)::float8 AS n, avg(len)::float8 AS avgdl FROM quiver_doclen WHERE collection = ${coll}),
      df AS (SELECT po.term, count(*)::float8 AS df FROM quiver_postings po JOIN q ON q.term = po.term
             WHERE po.collection = ${coll} GROUP BY po.term),
      contrib AS (
        SELECT po.key, po.term,
               q.qtf * ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * po.tf
                 / (po.tf + ${k1}::float8 * (1 - ${b}::float8 + ${b}::float8 * dl.norm_len / s.avgdl)) AS s
        FROM quiver_postings po
        JOIN q ON q.term = po.term
        JOIN df ON df.term = po.term
        JOIN quiver_doclen dl ON dl.collection = po.collection AND dl.key = po.key
        ${join}
        CROSS JOIN stats s
        WHERE po.collection = ${coll} ${filter})
      SELECT key, sum(s) AS score${opts.explain ? ', jsonb_object_agg(term, s) AS terms' : ''}
      FROM contrib GROUP BY key ORDER BY score DESC, key LIMIT ${limit}`;
    const r = await query<{ key: string; score: number; terms?: Record<string, number> }>(this.pool, sql, p.values);
    return r.rows.map((row) => ({ key: Number(row.key), score: Number(row.score), ...(row.terms ? { terms: row.terms } : {}) }));
  }
}
