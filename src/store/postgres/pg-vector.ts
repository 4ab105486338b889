/**
 * Vector search on pgvector: one table per (collection, field) holding the exact `vector(d)` and an
 * HNSW index (cosine / inner product / L2). Like every Quiver table it carries `collection` as the
 * first key column and every query filters on it, so it can be distributed and colocated with
 * quiver_docs (Citus `create_distributed_table(..., 'collection')`, YugabyteDB hash sharding).
 *
 * Quantization shrinks the index, never the vectors of record: f16/i8 index `embedding::halfvec(d)`
 * (half the index memory), b1 indexes `binary_quantize(embedding)::bit(d)` (1/32) with Hamming
 * distance; both fetch extra candidates from the index and re-rank them with the exact f32
 * distance, so scores are exact whatever the index holds. f32 above 2,000 dimensions (pgvector's
 * HNSW limit for `vector`) indexes halfvec the same way.
 *
 * Filters are joined in SQL; with a filter, pgvector's iterative index scan (≥ 0.8) keeps returning
 * candidates until enough pass it, so recall does not collapse under selective filters.
 * YugabyteDB rejects `hnsw.*` settings (its `ybhnsw` replaces `hnsw`), so they are skipped there.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { QuiverError } from '../../errors.js';
import type {
  VectorHit,
  VectorIndex,
  VectorMetric,
  VectorSearchOptions,
} from '../../index/vector/vector-index.js';
import { MAX_CHUNKS_PER_DOC } from '../../types.js';
import { query, quoteIdent, vectorTablePrefix, withTransaction } from './postgres-backend.js';
import { Params, filterClause } from './sql-filter.js';

const OPS: Record<VectorMetric, { op: string; ops: string }> = {
  cos: { op: '<=>', ops: 'cosine_ops' },
  ip: { op: '<#>', ops: 'ip_ops' },
  l2: { op: '<->', ops: 'l2_ops' },
};

/** pgvector's HNSW dimension limits per indexed type. */
const HNSW_MAX_DIMS = { vector: 2000, halfvec: 4000, bit: 64000 };
/**
 * Search breadth when the caller gives none: pgvector's default (40) gives recall@10 of 0.85–0.92 on
 * clustered data; 200 (with ef_construction 128) reaches ≥ 0.99 (the vector-index conformance suite).
 */
const DEFAULT_EF_SEARCH = 200;
/** Graph quality at build time (pgvector's default is 64); usearch builds with 128 too. */
const HNSW_EF_CONSTRUCTION = 128;
/** Exact vectors stored per row; pgvector's `vector` type limit. */
const MAX_DIMS = 16000;

type IndexKind = 'vector' | 'halfvec' | 'bit';

const literal = (v: Float32Array) => `[${Array.from(v).join(',')}]`;

export class PgVectorIndex implements VectorIndex {
  private count = 0;
  /** Rows written since this process last refreshed the planner's statistics for the table. */
  private writtenSinceAnalyze = 0;
  private readonly table: string;
  /** What the HNSW index holds: the exact vector, or a halfvec / binary quantization of it. */
  readonly indexKind: IndexKind;
  private yugabyte = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly collection: string,
    field: string,
    readonly dims: number,
    readonly metric: VectorMetric,
    quantization: string | undefined,
  ) {
    if (!Number.isInteger(dims) || dims < 1 || dims > MAX_DIMS) {
      throw new QuiverError(
        'INVALID_CONFIG',
        `vector field "${field}": dims must be an integer in 1..${MAX_DIMS}, got ${dims}`,
        {
          location: { field: `vectors.${field}.dims` },
        },
      );
    }
    this.table = quoteIdent(
      `${vectorTablePrefix(collection)}${createHash('sha1').update(field).digest('hex').slice(0, 10)}`,
    );
    this.indexKind =
      quantization === 'b1'
        ? 'bit'
        : quantization === 'f16' || quantization === 'i8' || dims > HNSW_MAX_DIMS.vector
          ? 'halfvec'
          : 'vector';
    if (dims > HNSW_MAX_DIMS[this.indexKind]) {
      throw new QuiverError(
        'INVALID_CONFIG',
        `vector field "${field}": pgvector's HNSW indexes at most ${HNSW_MAX_DIMS[this.indexKind]} dimensions as ${this.indexKind}; use quantization "b1"`,
        {
          location: { field: `vectors.${field}.quantization` },
        },
      );
    }
  }

  /** The indexed expression over column `col` (`embedding` or a quantization of it). */
  private indexed(col: string): string {
    if (this.indexKind === 'halfvec') return `(${col}::halfvec(${this.dims}))`;
    if (this.indexKind === 'bit') return `(binary_quantize(${col})::bit(${this.dims}))`;
    return col;
  }

  /** The query vector as the index compares it; `param` is a bind parameter holding a vector literal. */
  private indexedQuery(param: string): string {
    if (this.indexKind === 'halfvec') return `${param}::halfvec(${this.dims})`;
    if (this.indexKind === 'bit') return `binary_quantize(${param}::vector)::bit(${this.dims})`;
    return `${param}::vector`;
  }

  private get indexOp(): string {
    return this.indexKind === 'bit' ? '<~>' : OPS[this.metric].op;
  }

  static async open(
    pool: pg.Pool,
    collection: string,
    field: string,
    opts: { dims: number; metric: VectorMetric; quantization?: string },
  ): Promise<PgVectorIndex> {
    const idx = new PgVectorIndex(pool, collection, field, opts.dims, opts.metric, opts.quantization);
    const ops = idx.indexKind === 'bit' ? 'bit_hamming_ops' : `${idx.indexKind}_${OPS[opts.metric].ops}`;
    const version = (await query<{ v: string }>(pool, 'SELECT version() AS v')).rows[0]?.v ?? '';
    idx.yugabyte = /-YB-/.test(version);
    await withTransaction(pool, async (c) => {
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${idx.table} (collection text NOT NULL, key bigint NOT NULL, embedding vector(${idx.dims}) NOT NULL, PRIMARY KEY (collection, key))`,
      );
      const indexName = idx.table.replace(
        /"$/,
        `_${idx.indexKind === 'vector' ? '' : `${idx.indexKind}_`}hnsw"`,
      );
      await c.query(
        `CREATE INDEX IF NOT EXISTS ${indexName} ON ${idx.table} USING hnsw (${idx.indexed('embedding')} ${ops}) WITH (m = 16, ef_construction = ${HNSW_EF_CONSTRUCTION})`,
      );
    });
    idx.count = Number(
      (
        await query<{ n: string }>(pool, `SELECT count(*) AS n FROM ${idx.table} WHERE collection = $1`, [
          collection,
        ])
      ).rows[0]!.n,
    );
    if (idx.count > 0) await idx.analyze();
    return idx;
  }

  size(): number {
    return this.count;
  }

  async add(keys: number[], vectors: Float32Array[]): Promise<void> {
    if (keys.length === 0) return;
    if (keys.length !== vectors.length)
      throw new QuiverError('INVALID_ARGUMENT', `${keys.length} keys but ${vectors.length} vectors`);
    // A key given twice in one call: the last vector wins (one statement cannot update a row twice).
    const last = new Map<number, Float32Array>();
    keys.forEach((key, i) => {
      const v = vectors[i]!;
      if (v.length !== this.dims)
        throw new QuiverError('DIMENSION_MISMATCH', `expected ${this.dims} dimensions, got ${v.length}`);
      last.set(key, v);
    });
    keys = [...last.keys()];
    vectors = [...last.values()];
    await withTransaction(this.pool, async (c) => {
      const before = await c.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${this.table} WHERE collection = $1 AND key = ANY($2::bigint[])`,
        [this.collection, keys],
      );
      await c.query(
        `INSERT INTO ${this.table} (collection, key, embedding) SELECT $1, k, e::vector FROM unnest($2::bigint[], $3::text[]) AS u(k, e)
         ON CONFLICT (collection, key) DO UPDATE SET embedding = excluded.embedding`,
        [this.collection, keys, vectors.map(literal)],
      );
      this.count += keys.length - Number(before.rows[0]!.n);
    });
    this.writtenSinceAnalyze += keys.length;
    if (this.writtenSinceAnalyze >= Math.max(500, this.count / 5)) await this.analyze();
  }

  /**
   * Without statistics the planner guesses that `collection = $1` keeps a few rows and answers
   * with an exact scan of them (the primary key, then a sort) instead of the HNSW index — correct,
   * but a full scan per query on a large table. Autovacuum fixes that eventually; not every server
   * has it (PGlite), and bulk loads outrun it. ANALYZE samples a bounded number of rows.
   */
  private async analyze(): Promise<void> {
    this.writtenSinceAnalyze = 0;
    await query(this.pool, `ANALYZE ${this.table}`);
  }

  /** The plan Postgres uses for a plain top-k query (for tests and diagnostics). */
  async explain(q: Float32Array, k: number): Promise<string> {
    const p = new Params();
    const { sql } = this.searchSql(p, q, k, undefined);
    const r = await query<{ 'QUERY PLAN': string }>(this.pool, `EXPLAIN ${sql}`, p.values);
    return r.rows.map((row) => row['QUERY PLAN']).join('\n');
  }

  async remove(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    const r = await query(
      this.pool,
      `DELETE FROM ${this.table} WHERE collection = $1 AND key = ANY($2::bigint[])`,
      [this.collection, keys],
    );
    this.count -= r.rowCount ?? 0;
  }

  private toHit(key: string, d: number): VectorHit {
    const score = this.metric === 'cos' ? 1 - d : this.metric === 'ip' ? -d : -(d * d);
    return { key: Number(key), score };
  }

  /** How many candidates a quantized index proposes for re-ranking. */
  private candidates(k: number): number {
    return Math.min(1000, Math.max(k * (this.indexKind === 'bit' ? 10 : 4), 100));
  }

  private searchSql(
    p: Params,
    q: Float32Array,
    k: number,
    filterOpt: VectorSearchOptions['filter'],
  ): { sql: string; filtered: boolean } {
    const { op } = OPS[this.metric];
    const coll = p.add(this.collection);
    const vec = p.add(literal(q));
    const { join, filter } = filterClause(
      filterOpt,
      'v',
      p,
      (alias) => `${alias}.collection = v.collection AND ${alias}.key = div(v.key, ${MAX_CHUNKS_PER_DOC})`,
    );
    const filtered = filter !== '';
    if (this.indexKind === 'vector') {
      const sql = `SELECT v.key, v.embedding ${op} ${vec}::vector AS d FROM ${this.table} v ${join}
             WHERE v.collection = ${coll} ${filter} ORDER BY v.embedding ${op} ${vec}::vector LIMIT ${p.add(k)}`;
      return { sql, filtered };
    }
    // The quantized index proposes candidates; the exact vectors decide the order and the scores.
    // A second parameter for the index's copy of the query: Postgres types a parameter once, from
    // its first use (the subquery), and a halfvec-typed query vector would make scores inexact.
    const vecForIndex = p.add(literal(q));
    const sql = `SELECT c.key, c.embedding ${op} ${vec}::vector AS d FROM (
               SELECT v.key, v.embedding FROM ${this.table} v ${join}
               WHERE v.collection = ${coll} ${filter}
               ORDER BY ${this.indexed('v.embedding')} ${this.indexOp} ${this.indexedQuery(vecForIndex)} LIMIT ${p.add(this.candidates(k))}) c
             ORDER BY d, c.key LIMIT ${p.add(k)}`;
    return { sql, filtered };
  }

  async search(q: Float32Array, k: number, opts: VectorSearchOptions = {}): Promise<VectorHit[]> {
    if (k <= 0 || this.count === 0) return [];
    if (q.length !== this.dims)
      throw new QuiverError('DIMENSION_MISMATCH', `expected ${this.dims} dimensions, got ${q.length}`);
    const p = new Params();
    const requestedEf = opts.ef !== undefined && Number.isFinite(opts.ef) ? Math.round(opts.ef) : k * 4;
    let ef = Math.min(1000, Math.max(DEFAULT_EF_SEARCH, k, requestedEf));
    if (this.indexKind !== 'vector') ef = Math.max(ef, this.candidates(k));
    const { sql, filtered } = this.searchSql(p, q, k, opts.filter);
    return withTransaction(this.pool, async (c) => {
      if (!this.yugabyte) {
        // ef is an integer computed here, never user text.
        await c.query(`SET LOCAL hnsw.ef_search = ${ef}`);
        if (filtered) await c.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
      }
      const r = await c.query<{ key: string; d: number }>(sql, p.values);
      // relaxed_order may return slightly out of order: sort by the exact distance computed.
      return r.rows
        .map((row) => this.toHit(row.key, Number(row.d)))
        .sort((a, b) => b.score - a.score || a.key - b.key);
    });
  }

  /** Exact search (index disabled), to measure HNSW recall against. */
  async searchExact(q: Float32Array, k: number): Promise<VectorHit[]> {
    const { op } = OPS[this.metric];
    return withTransaction(this.pool, async (c) => {
      await c.query('SET LOCAL enable_indexscan = off');
      const r = await c.query<{ key: string; d: number }>(
        `SELECT key, embedding ${op} $2::vector AS d FROM ${this.table} WHERE collection = $1 ORDER BY d, key LIMIT $3`,
        [this.collection, literal(q), k],
      );
      return r.rows.map((row) => this.toHit(row.key, Number(row.d)));
    });
  }
}
