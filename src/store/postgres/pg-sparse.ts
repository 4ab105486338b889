/**
 * Learned-sparse retrieval inside Postgres: one row per (passage, term) with its weight, and a
 * query is one aggregate — the postings of the query's terms, weight × query weight, summed per
 * passage, top k — with metadata filters joined in SQL, exactly as BM25 in SQL (./pg-lexical.ts).
 * So a cluster of Quiver servers shares one sparse index instead of each rebuilding its own in
 * memory. Weights are stored as float4 (as the in-memory index keeps them), summed in float8.
 *
 * Like every Quiver table, `collection` leads every key, so the tables distribute with quiver_docs.
 */
import type pg from 'pg';
import type { LexicalSearchOptions, ScoredKey } from '../../index/lexical/lexical-index.js';
import type { DatabaseSparseIndex, SparseItem, SparseVector } from '../../index/sparse/sparse-index.js';
import { MAX_CHUNKS_PER_DOC } from '../../types.js';
import { queryScoredKeys } from './pg-lexical.js';
import { query, withTransaction } from './postgres-backend.js';
import { Params, filterClause } from './sql-filter.js';

/** Rows per INSERT statement (bounded parameter arrays). */
const INSERT_ROWS = 20_000;

export class PgSparseIndex implements DatabaseSparseIndex {
  private count = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly collection: string,
    private readonly field: string,
  ) {}

  static async open(pool: pg.Pool, collection: string, field: string): Promise<PgSparseIndex> {
    const idx = new PgSparseIndex(pool, collection, field);
    idx.count = await idx.countPassages();
    return idx;
  }

  size(): number {
    return this.count;
  }

  countPassages(): Promise<number> {
    return this.countOf('SELECT count(*) AS n FROM quiver_sparse_passages');
  }

  vocabularySize(): Promise<number> {
    return this.countOf('SELECT count(DISTINCT term) AS n FROM quiver_sparse_postings');
  }

  /** `select` (one count `n` from a table) over this field's rows. */
  private async countOf(select: string): Promise<number> {
    const r = await query<{ n: string }>(this.pool, `${select} WHERE collection = $1 AND field = $2`, [
      this.collection,
      this.field,
    ]);
    return Number(r.rows[0]!.n);
  }

  /**
   * Writers of one field take turns on its row in quiver_sparse_fields: every engine process
   * replays the change log, so two servers may replace the same passages' rows at the same moment,
   * and interleaved delete-then-insert transactions would collide on the keys. (A row lock, not an
   * advisory lock, so it holds on distributed Postgres too.)
   */
  private async lock(c: pg.PoolClient): Promise<void> {
    await c.query(
      'INSERT INTO quiver_sparse_fields (collection, field) VALUES ($1, $2) ON CONFLICT (collection, field) DO NOTHING',
      [this.collection, this.field],
    );
    await c.query('SELECT 1 FROM quiver_sparse_fields WHERE collection = $1 AND field = $2 FOR UPDATE', [
      this.collection,
      this.field,
    ]);
  }

  async upsert(input: SparseItem[]): Promise<void> {
    if (input.length === 0) return;
    // A key given twice in one call: the last vector wins.
    const items = [...new Map(input.map((it) => [it.key, it])).values()];
    const keys = items.map((it) => it.key);
    const kept: { key: number; docKey: number }[] = [];
    const pKeys: number[] = [];
    const pDocKeys: number[] = [];
    const pTerms: string[] = [];
    const pWeights: number[] = [];
    for (const it of items) {
      const docKey = it.docKey ?? Math.floor(it.key / MAX_CHUNKS_PER_DOC);
      let any = false;
      for (const [term, w] of Object.entries(it.vector)) {
        // Zero, negative or non-finite weights carry nothing: not indexed (as in memory).
        if (!(w > 0) || !Number.isFinite(w)) continue;
        pKeys.push(it.key);
        pDocKeys.push(docKey);
        pTerms.push(term);
        pWeights.push(w);
        any = true;
      }
      if (any) kept.push({ key: it.key, docKey });
    }
    const added = await withTransaction(this.pool, async (c) => {
      await this.lock(c);
      const gone = await this.dropKeys(c, keys);
      await c.query(
        `INSERT INTO quiver_sparse_passages (collection, field, key, doc_key)
         SELECT $1, $2, k, dk FROM unnest($3::bigint[], $4::bigint[]) AS u(k, dk)`,
        [this.collection, this.field, kept.map((k) => k.key), kept.map((k) => k.docKey)],
      );
      for (let i = 0; i < pKeys.length; i += INSERT_ROWS) {
        const slice = <T>(xs: T[]) => xs.slice(i, i + INSERT_ROWS);
        await c.query(
          `INSERT INTO quiver_sparse_postings (collection, field, term, key, doc_key, weight)
           SELECT $1, $2, t, k, dk, w FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::real[]) AS u(t, k, dk, w)`,
          [this.collection, this.field, slice(pTerms), slice(pKeys), slice(pDocKeys), slice(pWeights)],
        );
      }
      return kept.length - gone;
    });
    this.count += added;
  }

  /** Delete passages' rows; returns how many passages were there. */
  private async dropKeys(c: pg.PoolClient, keys: number[]): Promise<number> {
    await c.query(
      'DELETE FROM quiver_sparse_postings WHERE collection = $1 AND field = $2 AND key = ANY($3::bigint[])',
      [this.collection, this.field, keys],
    );
    const r = await c.query(
      'DELETE FROM quiver_sparse_passages WHERE collection = $1 AND field = $2 AND key = ANY($3::bigint[])',
      [this.collection, this.field, keys],
    );
    return r.rowCount ?? 0;
  }

  async remove(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    const removed = await withTransaction(this.pool, async (c) => {
      await this.lock(c);
      return this.dropKeys(c, keys);
    });
    this.count -= removed;
  }

  async removeDocuments(docKeys: number[]): Promise<void> {
    if (docKeys.length === 0) return;
    const removed = await withTransaction(this.pool, async (c) => {
      await this.lock(c);
      const keys = await c.query<{ key: string }>(
        'SELECT key FROM quiver_sparse_passages WHERE collection = $1 AND field = $2 AND doc_key = ANY($3::bigint[])',
        [this.collection, this.field, docKeys],
      );
      return this.dropKeys(
        c,
        keys.rows.map((r) => Number(r.key)),
      );
    });
    this.count -= removed;
  }

  async clear(): Promise<void> {
    await withTransaction(this.pool, async (c) => {
      await this.lock(c);
      for (const table of ['quiver_sparse_postings', 'quiver_sparse_passages'])
        await c.query(`DELETE FROM ${table} WHERE collection = $1 AND field = $2`, [
          this.collection,
          this.field,
        ]);
    });
    this.count = 0;
  }

  async search(q: SparseVector, k: number, opts: LexicalSearchOptions = {}): Promise<ScoredKey[]> {
    const terms = Object.entries(q).filter(([, w]) => w > 0 && Number.isFinite(w));
    if (terms.length === 0 || k <= 0) return [];
    const p = new Params();
    const coll = p.add(this.collection);
    const field = p.add(this.field);
    const qTerms = p.add(terms.map(([t]) => t));
    const qWeights = p.add(terms.map(([, w]) => w));
    const { join, filter } = filterClause(
      opts.filter,
      'sp',
      p,
      (alias) => `${alias}.collection = sp.collection AND ${alias}.key = sp.doc_key`,
    );
    const limit = p.add(k);
    const sql = `
      SELECT sp.key, sum(sp.weight::float8 * q.w) AS score${
        opts.explain ? ', json_object_agg(sp.term, sp.weight::float8 * q.w) AS terms' : ''
      }
      FROM unnest(${qTerms}::text[], ${qWeights}::float8[]) AS q(term, w)
      JOIN quiver_sparse_postings sp ON sp.collection = ${coll} AND sp.field = ${field} AND sp.term = q.term
      ${join}
      WHERE true ${filter}
      GROUP BY sp.key ORDER BY score DESC, sp.key LIMIT ${limit}`;
    return queryScoredKeys(this.pool, sql, p.values);
  }
}
