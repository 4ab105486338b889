/**
 * BM25 inside Postgres, with Quiver's own analyzer and Lucene's scoring (the same formula and
 * one-byte length norms as the embedded index), so lexical results are comparable across
 * backends and reproduce Pyserini there too. Postings (collection, term, key, tf, norm, docKey),
 * document lengths, document frequencies and collection statistics are plain tables distributed by
 * collection, maintained in the same transaction; a query is one aggregate over the postings of its
 * terms, with metadata filters joined in SQL.
 * (pg_textsearch's BM25 index is an alternative on servers that have it; it tokenizes with
 * Postgres text-search configurations, so its numbers differ from Pyserini's — see docs/scale-out.md.)
 */
import type pg from 'pg';
import type { Analyzer } from '../../analyze/analyzer.js';
import { byte4ToInt, intToByte4 } from '../../index/lexical/bm25.js';
import type {
  DatabaseLexicalIndex,
  LexicalSearchOptions,
  ScoredKey,
} from '../../index/lexical/lexical-index.js';
import type { Passage } from '../../types.js';
import { query, withTransaction } from './postgres-backend.js';
import { Params, filterClause } from './sql-filter.js';

export class PgLexicalIndex implements DatabaseLexicalIndex {
  private count = 0;
  /** Passages written since this process last refreshed the planner's statistics. */
  private writtenSinceAnalyze = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly collection: string,
    private readonly opts: { analyzer: Analyzer; k1: number; b: number },
  ) {}

  static async open(
    pool: pg.Pool,
    collection: string,
    opts: { analyzer: Analyzer; k1: number; b: number },
  ): Promise<PgLexicalIndex> {
    const idx = new PgLexicalIndex(pool, collection, opts);
    idx.count = Number(
      (
        await query<{ n: string }>(pool, 'SELECT count(*) AS n FROM quiver_doclen WHERE collection = $1', [
          collection,
        ])
      ).rows[0]!.n,
    );
    return idx;
  }

  size(): number {
    return this.count;
  }

  async add(input: Passage[]): Promise<void> {
    if (input.length === 0) return;
    // A key given twice in one call: the last passage wins.
    const passages = [...new Map(input.map((p) => [p.key, p])).values()];
    const keys: number[] = [];
    const docKeys: number[] = [];
    const lens: number[] = [];
    const norms: number[] = [];
    const pKeys: number[] = [];
    const pDocKeys: number[] = [];
    const pNorms: number[] = [];
    const pTerms: string[] = [];
    const pTfs: number[] = [];
    let totalLen = 0;
    for (const p of passages) {
      const terms = this.opts.analyzer.analyze(p.title ? `${p.title} ${p.text}` : p.text);
      const tf = new Map<string, number>();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      const norm = byte4ToInt(intToByte4(terms.length));
      keys.push(p.key);
      docKeys.push(p.docKey);
      lens.push(terms.length);
      norms.push(norm);
      totalLen += terms.length;
      for (const [t, n] of tf) {
        pKeys.push(p.key);
        pDocKeys.push(p.docKey);
        pNorms.push(norm);
        pTerms.push(t);
        pTfs.push(n);
      }
    }
    const added = await withTransaction(this.pool, async (c) => {
      await this.lockStatistics(c);
      const old = await this.dropKeys(c, keys);
      await c.query(
        'INSERT INTO quiver_doclen (collection, key, doc_key, len, norm_len) SELECT $1, k, dk, l, n FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::int[]) AS u(k, dk, l, n)',
        [this.collection, keys, docKeys, lens, norms],
      );
      for (let i = 0; i < pKeys.length; i += 20_000) {
        const slice = <T>(xs: T[]) => xs.slice(i, i + 20_000);
        await c.query(
          `INSERT INTO quiver_postings (collection, term, key, tf, norm_len, doc_key)
           SELECT $1, t, k, f, n, dk FROM unnest($2::text[], $3::bigint[], $4::int[], $5::int[], $6::bigint[]) AS u(t, k, f, n, dk)`,
          [this.collection, slice(pTerms), slice(pKeys), slice(pTfs), slice(pNorms), slice(pDocKeys)],
        );
      }
      // Document frequencies and collection statistics, kept with the postings so a query never
      // has to count them. Terms in sorted order: concurrent writers lock rows in the same order.
      await c.query(
        `INSERT INTO quiver_df (collection, term, df) SELECT $1, t, count(*) FROM unnest($2::text[]) AS u(t) GROUP BY t ORDER BY t
         ON CONFLICT (collection, term) DO UPDATE SET df = quiver_df.df + excluded.df`,
        [this.collection, pTerms],
      );
      await c.query(
        `INSERT INTO quiver_lexstats (collection, n, total_len) VALUES ($1, $2, $3)
         ON CONFLICT (collection) DO UPDATE SET n = quiver_lexstats.n + excluded.n, total_len = quiver_lexstats.total_len + excluded.total_len`,
        [this.collection, keys.length - old.n, totalLen - old.totalLen],
      );
      return keys.length - old.n;
    });
    this.count += added;
    // After a bulk load the planner still believes the tables are tiny and picks nested loops and
    // sorts (2× slower queries); autovacuum would fix that eventually, and some servers (PGlite)
    // have none. ANALYZE samples a bounded number of rows, so this stays cheap.
    this.writtenSinceAnalyze += keys.length;
    if (this.writtenSinceAnalyze >= Math.max(1000, this.count / 5)) {
      this.writtenSinceAnalyze = 0;
      await query(this.pool, 'ANALYZE quiver_postings, quiver_doclen, quiver_df');
    }
  }

  /**
   * Writers of one collection's postings take turns. Every engine process replays the store's
   * change log, so two servers on one database index the same passages, sometimes at once; each
   * write reads what is there (to take it out of the running df and statistics) and replaces it,
   * and under READ COMMITTED two such writes interleaved would count a posting twice or collide
   * on a key. Locking the collection's statistics row first makes each see the other's result.
   */
  private async lockStatistics(c: pg.PoolClient): Promise<void> {
    await c.query(
      'INSERT INTO quiver_lexstats (collection, n, total_len) VALUES ($1, 0, 0) ON CONFLICT (collection) DO NOTHING',
      [this.collection],
    );
    await c.query('SELECT 1 FROM quiver_lexstats WHERE collection = $1 FOR UPDATE', [this.collection]);
  }

  /** Delete passages' postings and lengths, taking them out of the df and statistics tables. */
  private async dropKeys(c: pg.PoolClient, keys: number[]): Promise<{ n: number; totalLen: number }> {
    await c.query(
      `UPDATE quiver_df SET df = quiver_df.df - o.c
       FROM (SELECT term, count(*) AS c FROM quiver_postings WHERE collection = $1 AND key = ANY($2::bigint[]) GROUP BY term ORDER BY term) o
       WHERE quiver_df.collection = $1 AND quiver_df.term = o.term`,
      [this.collection, keys],
    );
    await c.query('DELETE FROM quiver_postings WHERE collection = $1 AND key = ANY($2::bigint[])', [
      this.collection,
      keys,
    ]);
    const gone = await c.query<{ n: string; total: string | null }>(
      'WITH d AS (DELETE FROM quiver_doclen WHERE collection = $1 AND key = ANY($2::bigint[]) RETURNING len) SELECT count(*) AS n, sum(len) AS total FROM d',
      [this.collection, keys],
    );
    return { n: Number(gone.rows[0]!.n), totalLen: Number(gone.rows[0]!.total ?? 0) };
  }

  async remove(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    const removed = await withTransaction(this.pool, async (c) => {
      await this.lockStatistics(c);
      const old = await this.dropKeys(c, keys);
      if (old.n > 0) {
        await c.query(
          'UPDATE quiver_lexstats SET n = n - $2, total_len = total_len - $3 WHERE collection = $1',
          [this.collection, old.n, old.totalLen],
        );
      }
      return old.n;
    });
    this.count -= removed;
  }

  async removeDocuments(docKeys: number[]): Promise<void> {
    for (let i = 0; i < docKeys.length; i += 10_000) {
      const batch = docKeys.slice(i, i + 10_000);
      const keys = await query<{ key: string }>(
        this.pool,
        'SELECT key FROM quiver_doclen WHERE collection = $1 AND doc_key = ANY($2::bigint[])',
        [this.collection, batch],
      );
      await this.remove(keys.rows.map((r) => Number(r.key)));
    }
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
    const { join, filter } = filterClause(
      opts.filter,
      'po',
      p,
      (alias) => `${alias}.collection = po.collection AND ${alias}.key = po.doc_key`,
    );
    const limit = p.add(k);
    // One pass over the postings of the query's terms; df, n and avgdl are maintained by add/remove.
    const sql = `
      WITH s AS (SELECT n::float8 AS n, total_len::float8 / GREATEST(n, 1) AS avgdl FROM quiver_lexstats WHERE collection = ${coll}),
      w AS (SELECT q.term, q.qtf * ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) AS idf
            FROM unnest(${qTerms}::text[], ${qCounts}::int[]) AS q(term, qtf)
            JOIN quiver_df df ON df.collection = ${coll} AND df.term = q.term AND df.df > 0
            CROSS JOIN s),
      contrib AS (
        SELECT po.key, po.term,
               w.idf * po.tf / (po.tf + ${k1}::float8 * (1 - ${b}::float8 + ${b}::float8 * po.norm_len / s.avgdl)) AS s
        FROM quiver_postings po
        JOIN w ON w.term = po.term
        ${join}
        CROSS JOIN s
        WHERE po.collection = ${coll} ${filter})
      SELECT key, sum(s) AS score${opts.explain ? ', jsonb_object_agg(term, s) AS terms' : ''}
      FROM contrib GROUP BY key ORDER BY score DESC, key LIMIT ${limit}`;
    return queryScoredKeys(this.pool, sql, p.values);
  }
}

/** Run a top-k statement returning (key, score[, terms]) rows: BM25 and learned sparse in SQL. */
export async function queryScoredKeys(pool: pg.Pool, sql: string, values: unknown[]): Promise<ScoredKey[]> {
  const r = await query<{ key: string; score: number; terms?: Record<string, number> }>(pool, sql, values);
  return r.rows.map((row) => ({
    key: Number(row.key),
    score: Number(row.score),
    ...(row.terms ? { terms: row.terms } : {}),
  }));
}
