/**
 * Vector search on pgvector: one table per (collection, field) with a `vector(d)` column and an
 * HNSW index (cosine / inner product / L2). Filters are joined in SQL; with a filter, pgvector's
 * iterative index scan keeps returning candidates until k pass it (pgvector ≥ 0.8), so recall
 * does not collapse under selective filters. `halfvec` (16-bit) storage is used for f16/i8
 * quantization settings, halving index memory; exact vectors of record stay in quiver_vectors.
 */
import type pg from 'pg';
import type { VectorHit, VectorIndex, VectorMetric, VectorSearchOptions } from '../../index/vector/vector-index.js';
import { MAX_CHUNKS_PER_DOC } from '../../types.js';
import { createHash } from 'node:crypto';
import { query, quoteIdent, vectorTablePrefix, withTransaction } from './postgres-backend.js';
import { Params, filterToSql } from './sql-filter.js';

const OPS: Record<VectorMetric, { op: string; ops: string }> = {
  cos: { op: '<=>', ops: 'cosine_ops' },
  ip: { op: '<#>', ops: 'ip_ops' },
  l2: { op: '<->', ops: 'l2_ops' },
};

const literal = (v: Float32Array) => `[${Array.from(v).join(',')}]`;

export class PgVectorIndex implements VectorIndex {
  private count = 0;
  private readonly table: string;
  private readonly type: 'vector' | 'halfvec';

  private constructor(
    private readonly pool: pg.Pool,
    private readonly collection: string,
    field: string,
    readonly dims: number,
    readonly metric: VectorMetric,
    quantization: string | undefined,
  ) {
    this.table = quoteIdent(`${vectorTablePrefix(collection)}${createHash('sha1').update(field).digest('hex').slice(0, 10)}`);
    this.type = quantization === 'f16' || quantization === 'i8' ? 'halfvec' : 'vector';
  }

  static async open(pool: pg.Pool, collection: string, field: string, opts: { dims: number; metric: VectorMetric; quantization?: string }): Promise<PgVectorIndex> {
    const idx = new PgVectorIndex(pool, collection, field, opts.dims, opts.metric, opts.quantization);
    const ops = `${idx.type}_${OPS[opts.metric].ops}`;
    await withTransaction(pool, async (c) => {
      await c.query(`CREATE TABLE IF NOT EXISTS ${idx.table} (key bigint PRIMARY KEY, embedding ${idx.type}(${Number(opts.dims)}) NOT NULL)`);
      await c.query(`CREATE INDEX IF NOT EXISTS ${idx.table.replace(/"$/, '_hnsw"')} ON ${idx.table} USING hnsw (embedding ${ops})`);
    });
    idx.count = Number((await query<{ n: string }>(pool, `SELECT count(*) AS n FROM ${idx.table}`)).rows[0]!.n);
    return idx;
  }

  size(): number {
    return this.count;
  }

  async add(keys: number[], vectors: Float32Array[]): Promise<void> {
    if (keys.length === 0) return;
    await withTransaction(this.pool, async (c) => {
      const before = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table} WHERE key = ANY($1::bigint[])`, [keys]);
      await c.query(
        `INSERT INTO ${this.table} (key, embedding) SELECT k, e::${this.type} FROM unnest($1::bigint[], $2::text[]) AS u(k, e)
         ON CONFLICT (key) DO UPDATE SET embedding = excluded.embedding`,
        [keys, vectors.map(literal)],
      );
      this.count += keys.length - Number(before.rows[0]!.n);
    });
  }

  async remove(keys: number[]): Promise<void> {
    if (keys.length === 0) return;
    const r = await query(this.pool, `DELETE FROM ${this.table} WHERE key = ANY($1::bigint[])`, [keys]);
    this.count -= r.rowCount ?? 0;
  }

  async search(q: Float32Array, k: number, opts: VectorSearchOptions = {}): Promise<VectorHit[]> {
    const { op } = OPS[this.metric];
    const p = new Params();
    const vec = p.add(literal(q));
    let where = '';
    let join = '';
    if (opts.filter) {
      const coll = p.add(this.collection);
      join = `JOIN quiver_docs d ON d.collection = ${coll} AND d.key = div(v.key, ${MAX_CHUNKS_PER_DOC})`;
      where = `WHERE ${filterToSql(opts.filter.ast, 'd', p)}`;
    }
    const limit = p.add(k);
    const ef = Math.max(40, Math.min(1000, opts.ef ?? k * 4));
    return withTransaction(this.pool, async (c) => {
      await c.query(`SET LOCAL hnsw.ef_search = ${ef}`);
      if (opts.filter) await c.query(`SET LOCAL hnsw.iterative_scan = relaxed_order`);
      const r = await c.query<{ key: string; d: number }>(
        `SELECT v.key, v.embedding ${op} ${vec}::${this.type} AS d FROM ${this.table} v ${join} ${where} ORDER BY v.embedding ${op} ${vec}::${this.type} LIMIT ${limit}`,
        p.values,
      );
      const hits = r.rows.map((row) => {
        const d = Number(row.d);
        const score = this.metric === 'cos' ? 1 - d : this.metric === 'ip' ? -d : -(d * d);
        return { key: Number(row.key), score };
      });
      // relaxed_order may return slightly out of order: sort by the exact distance computed.
      return hits.sort((a, b) => b.score - a.score || a.key - b.key);
    });
  }

  /** Exact search (index disabled), to measure HNSW recall against. */
  async searchExact(q: Float32Array, k: number): Promise<VectorHit[]> {
    const { op } = OPS[this.metric];
    return withTransaction(this.pool, async (c) => {
      await c.query('SET LOCAL enable_indexscan = off');
      const r = await c.query<{ key: string; d: number }>(`SELECT key, embedding ${op} $1::${this.type} AS d FROM ${this.table} ORDER BY d LIMIT $2`, [literal(q), k]);
      return r.rows.map((row) => ({ key: Number(row.key), score: this.metric === 'cos' ? 1 - Number(row.d) : this.metric === 'ip' ? -Number(row.d) : -(Number(row.d) ** 2) }));
    });
  }
}
