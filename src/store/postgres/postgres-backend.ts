/**
 * The Postgres backend: the same collections on Postgres + pgvector, for when one machine is not
 * enough (Citus, YugabyteDB, managed Postgres — the same SQL everywhere; see docs/scale-out.md).
 *
 * Every table carries `collection` as its first key column — the distribution key — and every
 * query filters on it, so distributed tables route each query to one shard group. All SQL is
 * parameterised; the only generated identifiers are per-field vector tables named from a hash.
 * Writes run in transactions and are retried on serialization failures and dropped connections.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Analyzer } from '../../analyze/analyzer.js';
import { QuiverError } from '../../errors.js';
import type { DatabaseLexicalIndex } from '../../index/lexical/lexical-index.js';
import type { DatabaseSparseIndex } from '../../index/sparse/sparse-index.js';
import type { VectorIndex, VectorMetric } from '../../index/vector/vector-index.js';
import type { CollectionConfig, JsonValue, Metadata, QuiverDocument, StoredDocument } from '../../types.js';
import { MAX_CHUNKS_PER_DOC } from '../../types.js';
import type {
  Change,
  CollectionStore,
  ListPage,
  StorageBackend,
  StoredVector,
  UpsertResult,
} from '../store.js';
import { COLLECTION_NAME } from '../store.js';
import { bytesToVector, validateBatch, vectorToBytes } from '../validate.js';
import { PgLexicalIndex } from './pg-lexical.js';
import { PgSparseIndex } from './pg-sparse.js';
import { PgVectorIndex } from './pg-vector.js';

export const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE IF NOT EXISTS quiver_collections (
        name text PRIMARY KEY, config jsonb NOT NULL, seq bigint NOT NULL DEFAULT 0, next_key bigint NOT NULL DEFAULT 1);
      CREATE TABLE IF NOT EXISTS quiver_docs (
        collection text NOT NULL, key bigint NOT NULL, id text NOT NULL, title text, text text NOT NULL,
        metadata jsonb, seq bigint NOT NULL, PRIMARY KEY (collection, key), UNIQUE (collection, id));
      CREATE INDEX IF NOT EXISTS quiver_docs_seq ON quiver_docs (collection, seq);
      CREATE INDEX IF NOT EXISTS quiver_docs_metadata ON quiver_docs USING gin (metadata jsonb_path_ops);
      CREATE TABLE IF NOT EXISTS quiver_tombstones (
        collection text NOT NULL, id text NOT NULL, key bigint NOT NULL, seq bigint NOT NULL, PRIMARY KEY (collection, id));
      CREATE INDEX IF NOT EXISTS quiver_tombstones_seq ON quiver_tombstones (collection, seq);
      CREATE TABLE IF NOT EXISTS quiver_vectors (
        collection text NOT NULL, field text NOT NULL, key bigint NOT NULL, vec bytea NOT NULL,
        PRIMARY KEY (collection, field, key));
      CREATE TABLE IF NOT EXISTS quiver_meta (collection text NOT NULL, k text NOT NULL, v jsonb NOT NULL, PRIMARY KEY (collection, k));
      CREATE TABLE IF NOT EXISTS quiver_postings (
        collection text NOT NULL, term text NOT NULL, key bigint NOT NULL, tf int NOT NULL,
        PRIMARY KEY (collection, term, key));
      CREATE INDEX IF NOT EXISTS quiver_postings_key ON quiver_postings (collection, key);
      CREATE TABLE IF NOT EXISTS quiver_doclen (
        collection text NOT NULL, key bigint NOT NULL, len int NOT NULL, norm_len int NOT NULL, PRIMARY KEY (collection, key));
    `,
  },
  {
    // Range filters compare what the in-memory evaluator compares: numbers, and ISO dates as epoch
    // milliseconds (date-only and offset-less times read as UTC). Anything Postgres cannot parse is
    // NULL here (compared as a plain string by the caller) instead of an error failing the query.
    version: 2,
    sql: `
      CREATE OR REPLACE FUNCTION quiver_comparable(e jsonb) RETURNS numeric
      LANGUAGE plpgsql STABLE PARALLEL SAFE AS $fn$
      DECLARE s text;
      BEGIN
        IF e IS NULL THEN RETURN NULL; END IF;
        IF jsonb_typeof(e) = 'number' THEN RETURN (e #>> '{}')::numeric; END IF;
        IF jsonb_typeof(e) <> 'string' THEN RETURN NULL; END IF;
        s := e #>> '{}';
        IF s !~ '^\\d{4}-\\d{2}-\\d{2}' THEN RETURN NULL; END IF;
        BEGIN
          IF s ~ '[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*([Zz]|[+-]\\d{2}(:?\\d{2})?)$' THEN
            RETURN floor(extract(epoch FROM s::timestamptz) * 1000);
          END IF;
          RETURN floor(extract(epoch FROM (s::timestamp AT TIME ZONE 'UTC')) * 1000);
        EXCEPTION WHEN others THEN
          RETURN NULL;
        END;
      END
      $fn$;
    `,
  },
  {
    // A passage's document key as the engine gave it (Passage.docKey), so lexical filters join
    // quiver_docs on it rather than assuming the passage-key arithmetic.
    version: 3,
    sql: `
      ALTER TABLE quiver_doclen ADD COLUMN IF NOT EXISTS doc_key bigint;
      UPDATE quiver_doclen SET doc_key = div(key, ${MAX_CHUNKS_PER_DOC}) WHERE doc_key IS NULL;
    `,
  },
  {
    // Meta values round-trip as written: jsonb reorders object keys, and the engine fingerprints
    // fitted embedder state by hashing its JSON, so a reopened collection looked like another model.
    version: 4,
    sql: `ALTER TABLE quiver_meta ALTER COLUMN v TYPE json USING v::json;`,
  },
  {
    // User-supplied sparse vectors (field → term → weight), as written (json, not jsonb: no
    // reordering, no numeric normalisation).
    version: 6,
    sql: `ALTER TABLE quiver_docs ADD COLUMN IF NOT EXISTS sparse json;`,
  },
  {
    // Lexical queries read only the postings of their terms: norms and document keys ride on the
    // postings, and document frequencies and collection statistics are maintained, not counted.
    version: 5,
    sql: `
      ALTER TABLE quiver_postings ADD COLUMN IF NOT EXISTS norm_len int;
      ALTER TABLE quiver_postings ADD COLUMN IF NOT EXISTS doc_key bigint;
      UPDATE quiver_postings po SET norm_len = dl.norm_len, doc_key = dl.doc_key
        FROM quiver_doclen dl WHERE dl.collection = po.collection AND dl.key = po.key AND po.norm_len IS NULL;
      CREATE TABLE IF NOT EXISTS quiver_df (
        collection text NOT NULL, term text NOT NULL, df int NOT NULL, PRIMARY KEY (collection, term));
      INSERT INTO quiver_df (collection, term, df) SELECT collection, term, count(*) FROM quiver_postings GROUP BY collection, term
        ON CONFLICT DO NOTHING;
      CREATE TABLE IF NOT EXISTS quiver_lexstats (
        collection text PRIMARY KEY, n bigint NOT NULL, total_len bigint NOT NULL);
      INSERT INTO quiver_lexstats (collection, n, total_len) SELECT collection, count(*), sum(len) FROM quiver_doclen GROUP BY collection
        ON CONFLICT DO NOTHING;
    `,
  },
  {
    // Learned-sparse fields in the database (./pg-sparse.ts): postings per (field, term, passage),
    // one row per indexed passage (for counts and removal by document), one per field (writers'
    // lock).
    version: 7,
    sql: `
      CREATE TABLE IF NOT EXISTS quiver_sparse_postings (
        collection text NOT NULL, field text NOT NULL, term text NOT NULL, key bigint NOT NULL,
        doc_key bigint NOT NULL, weight real NOT NULL, PRIMARY KEY (collection, field, term, key));
      CREATE INDEX IF NOT EXISTS quiver_sparse_postings_key ON quiver_sparse_postings (collection, field, key);
      CREATE TABLE IF NOT EXISTS quiver_sparse_passages (
        collection text NOT NULL, field text NOT NULL, key bigint NOT NULL, doc_key bigint NOT NULL,
        PRIMARY KEY (collection, field, key));
      CREATE INDEX IF NOT EXISTS quiver_sparse_passages_doc ON quiver_sparse_passages (collection, field, doc_key);
      CREATE TABLE IF NOT EXISTS quiver_sparse_fields (collection text NOT NULL, field text NOT NULL, PRIMARY KEY (collection, field));
    `,
  },
];

const RETRYABLE = new Set(['40001', '40P01', '57P01', '08006', '08003', '08000', '53300']);

export interface PostgresOptions {
  /** Pool size (PGlite behind pglite-socket is single-connection: use 1). */
  poolSize?: number;
  statementTimeoutMs?: number;
  retries?: number;
}

const guarded = new WeakSet<pg.PoolClient>();
/**
 * A checked-out client whose connection drops emits 'error'; unhandled, that would crash the
 * process. The failure also rejects the pending query, which is what the retry logic acts on.
 */
function guard(client: pg.PoolClient): void {
  if (guarded.has(client)) return;
  guarded.add(client);
  client.on('error', () => undefined);
}

/** Run fn in a transaction, retrying serialization failures and lost connections with backoff. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient) => Promise<T>,
  retries = 5,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      guard(client);
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      client.release();
      return out;
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      const connLost = /Connection terminated|ECONNREFUSED|ECONNRESET|socket|not queryable/i.test(
        (e as Error).message,
      );
      if (client) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release(connLost ? true : undefined);
      }
      if (e instanceof QuiverError) throw e;
      if ((RETRYABLE.has(code) || connLost) && attempt < retries) {
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt) * (0.5 + Math.random())));
        continue;
      }
      throw new QuiverError('STORE_ERROR', `postgres: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** A single query with the same retry policy (reads). */
export async function query<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
  retries = 5,
): Promise<pg.QueryResult<R>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await pool.query<R>(text, values);
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      const connLost = /Connection terminated|ECONNREFUSED|ECONNRESET|socket|not queryable/i.test(
        (e as Error).message,
      );
      if ((RETRYABLE.has(code) || connLost) && attempt < retries) {
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt) * (0.5 + Math.random())));
        continue;
      }
      throw new QuiverError('STORE_ERROR', `postgres: ${(e as Error).message}`, { cause: e });
    }
  }
}

interface DocRow {
  key: string;
  id: string;
  title: string | null;
  text: string;
  metadata: Metadata | null;
  sparse: NonNullable<StoredDocument['sparse']> | null;
  seq: string;
}

function rowToDoc(r: DocRow): StoredDocument {
  const d: StoredDocument = { id: r.id, text: r.text, key: Number(r.key), seq: Number(r.seq) };
  if (r.title !== null) d.title = r.title;
  if (r.metadata !== null) d.metadata = r.metadata;
  if (r.sparse !== null && r.sparse !== undefined) d.sparse = r.sparse;
  return d;
}

export class PostgresCollectionStore implements CollectionStore {
  constructor(
    readonly name: string,
    private readonly pool: pg.Pool,
  ) {}

  async getConfig(): Promise<CollectionConfig> {
    const r = await query<{ config: CollectionConfig }>(
      this.pool,
      'SELECT config FROM quiver_collections WHERE name = $1',
      [this.name],
    );
    if (!r.rows[0])
      throw new QuiverError('COLLECTION_NOT_FOUND', `no collection "${this.name}"`, {
        location: { field: 'name' },
      });
    return r.rows[0].config;
  }

  async setConfig(config: CollectionConfig): Promise<void> {
    await query(this.pool, 'UPDATE quiver_collections SET config = $2 WHERE name = $1', [
      this.name,
      JSON.stringify(config),
    ]);
  }

  async upsert(input: QuiverDocument[]): Promise<UpsertResult> {
    const all = validateBatch(input);
    // A batch may repeat an id: the last occurrence is what gets written (as if sent one by one).
    const last = new Map<string, QuiverDocument>();
    for (const d of all) last.set(d.id, d);
    const docs = [...last.values()];
    return withTransaction(this.pool, async (c) => {
      // Bumping the collection's seq row also serialises concurrent writers of one collection.
      const seqRow = await c.query<{ seq: string }>(
        'UPDATE quiver_collections SET seq = seq + 1 WHERE name = $1 RETURNING seq',
        [this.name],
      );
      if (!seqRow.rows[0]) throw new QuiverError('COLLECTION_NOT_FOUND', `no collection "${this.name}"`);
      const seq = Number(seqRow.rows[0].seq);
      const ids = docs.map((d) => d.id);
      const existing = await c.query<{ id: string; key: string }>(
        'SELECT id, key FROM quiver_docs WHERE collection = $1 AND id = ANY($2)',
        [this.name, ids],
      );
      const tombs = await c.query<{ id: string; key: string }>(
        'DELETE FROM quiver_tombstones WHERE collection = $1 AND id = ANY($2) RETURNING id, key',
        [this.name, ids],
      );
      const keyOf = new Map<string, number>();
      for (const r of tombs.rows) keyOf.set(r.id, Number(r.key));
      for (const r of existing.rows) keyOf.set(r.id, Number(r.key));
      const fresh = docs.filter((d) => !keyOf.has(d.id));
      if (fresh.length) {
        const r = await c.query<{ next_key: string }>(
          'UPDATE quiver_collections SET next_key = next_key + $2 WHERE name = $1 RETURNING next_key',
          [this.name, fresh.length],
        );
        let k = Number(r.rows[0]!.next_key) - fresh.length;
        for (const d of fresh) keyOf.set(d.id, k++);
      }
      const existed = new Set(existing.rows.map((r) => r.id));
      await c.query(
        `INSERT INTO quiver_docs (collection, key, id, title, text, metadata, sparse, seq)
         SELECT $1, k, i, t, x, m::jsonb, sp::json, $2
           FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(k, i, t, x, m, sp)
         ON CONFLICT (collection, key) DO UPDATE SET title = excluded.title, text = excluded.text, metadata = excluded.metadata,
           sparse = excluded.sparse, seq = excluded.seq`,
        [
          this.name,
          seq,
          docs.map((d) => keyOf.get(d.id)!),
          ids,
          docs.map((d) => d.title ?? null),
          docs.map((d) => d.text),
          docs.map((d) => (d.metadata ? JSON.stringify(d.metadata) : null)),
          docs.map((d) => (d.sparse ? JSON.stringify(d.sparse) : null)),
        ],
      );
      const inserted = docs.filter((d) => !existed.has(d.id)).length;
      return { keys: all.map((d) => keyOf.get(d.id)!), seq, inserted, updated: docs.length - inserted };
    });
  }

  async delete(ids: string[]): Promise<{ deleted: number; keys: number[]; seq: number }> {
    return withTransaction(this.pool, async (c) => {
      const found = await c.query<{ id: string; key: string }>(
        'SELECT id, key FROM quiver_docs WHERE collection = $1 AND id = ANY($2)',
        [this.name, ids],
      );
      if (found.rows.length === 0) return { deleted: 0, keys: [], seq: await this.headSeqWith(c) };
      const seq = Number(
        (
          await c.query<{ seq: string }>(
            'UPDATE quiver_collections SET seq = seq + 1 WHERE name = $1 RETURNING seq',
            [this.name],
          )
        ).rows[0]!.seq,
      );
      const keys = found.rows.map((r) => Number(r.key));
      await c.query('DELETE FROM quiver_docs WHERE collection = $1 AND key = ANY($2)', [this.name, keys]);
      await c.query(
        `INSERT INTO quiver_tombstones (collection, id, key, seq) SELECT $1, i, k, $2 FROM unnest($3::text[], $4::bigint[]) AS u(i, k)
         ON CONFLICT (collection, id) DO UPDATE SET key = excluded.key, seq = excluded.seq`,
        [this.name, seq, found.rows.map((r) => r.id), keys],
      );
      for (const k of keys) {
        await c.query('DELETE FROM quiver_vectors WHERE collection = $1 AND key >= $2 AND key < $3', [
          this.name,
          k * MAX_CHUNKS_PER_DOC,
          (k + 1) * MAX_CHUNKS_PER_DOC,
        ]);
      }
      return { deleted: keys.length, keys, seq };
    });
  }

  private async headSeqWith(c: pg.PoolClient): Promise<number> {
    return Number(
      (await c.query<{ seq: string }>('SELECT seq FROM quiver_collections WHERE name = $1', [this.name]))
        .rows[0]?.seq ?? 0,
    );
  }

  async get(ids: string[]): Promise<StoredDocument[]> {
    const r = await query<DocRow>(
      this.pool,
      'SELECT key, id, title, text, metadata, sparse, seq FROM quiver_docs WHERE collection = $1 AND id = ANY($2)',
      [this.name, ids],
    );
    const by = new Map(r.rows.map((row) => [row.id, rowToDoc(row)]));
    return ids.map((id) => by.get(id)).filter((d): d is StoredDocument => d !== undefined);
  }

  async getByKeys(keys: number[]): Promise<StoredDocument[]> {
    const r = await query<DocRow>(
      this.pool,
      'SELECT key, id, title, text, metadata, sparse, seq FROM quiver_docs WHERE collection = $1 AND key = ANY($2::bigint[])',
      [this.name, keys],
    );
    const by = new Map(r.rows.map((row) => [Number(row.key), rowToDoc(row)]));
    return keys.map((k) => by.get(k)).filter((d): d is StoredDocument => d !== undefined);
  }

  async count(): Promise<number> {
    return Number(
      (
        await query<{ n: string }>(this.pool, 'SELECT count(*) AS n FROM quiver_docs WHERE collection = $1', [
          this.name,
        ])
      ).rows[0]!.n,
    );
  }

  async list(opts: { cursor?: string; limit: number }): Promise<ListPage> {
    const limit = Math.max(1, Math.min(opts.limit, 10_000));
    const after = opts.cursor === undefined ? null : Buffer.from(opts.cursor, 'base64url').toString('utf8');
    const r = await query<DocRow>(
      this.pool,
      `SELECT key, id, title, text, metadata, sparse, seq FROM quiver_docs WHERE collection = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id COLLATE "C" LIMIT $3`,
      [this.name, after, limit + 1],
    );
    const page = r.rows.slice(0, limit).map(rowToDoc);
    const last = page[page.length - 1];
    return r.rows.length > limit && last
      ? { docs: page, next: Buffer.from(last.id).toString('base64url') }
      : { docs: page };
  }

  async *scan(opts: { batchSize?: number } = {}): AsyncIterable<StoredDocument> {
    let after = -1;
    for (;;) {
      const r = await query<DocRow>(
        this.pool,
        'SELECT key, id, title, text, metadata, sparse, seq FROM quiver_docs WHERE collection = $1 AND key > $2 ORDER BY key LIMIT $3',
        [this.name, after, opts.batchSize ?? 1000],
      );
      if (r.rows.length === 0) return;
      for (const row of r.rows) yield rowToDoc(row);
      after = Number(r.rows[r.rows.length - 1]!.key);
    }
  }

  async headSeq(): Promise<number> {
    return Number(
      (
        await query<{ seq: string }>(this.pool, 'SELECT seq FROM quiver_collections WHERE name = $1', [
          this.name,
        ])
      ).rows[0]?.seq ?? 0,
    );
  }

  async *changesSince(since: number): AsyncIterable<Change> {
    // Paged by the (seq, key) tuple so one huge batch (many changes with one seq) is never cut short.
    let seq = since;
    let key = Number.MAX_SAFE_INTEGER;
    const PAGE = 5000;
    for (;;) {
      const r = await query<{ seq: string; id: string; key: string; op: 'upsert' | 'delete' }>(
        this.pool,
        `SELECT seq, id, key, op FROM (
           SELECT seq, id, key, 'upsert' AS op FROM quiver_docs WHERE collection = $1 AND seq >= $2
           UNION ALL SELECT seq, id, key, 'delete' AS op FROM quiver_tombstones WHERE collection = $1 AND seq >= $2) c
         WHERE (seq, key) > ($2::bigint, $3::bigint)
         ORDER BY seq, key LIMIT ${PAGE}`,
        [this.name, seq, key],
      );
      for (const x of r.rows) yield { seq: Number(x.seq), id: x.id, key: Number(x.key), op: x.op };
      if (r.rows.length < PAGE) return;
      const lastRow = r.rows[r.rows.length - 1]!;
      seq = Number(lastRow.seq);
      key = Number(lastRow.key);
    }
  }

  async putVectors(field: string, items: StoredVector[]): Promise<void> {
    if (items.length === 0) return;
    await withTransaction(this.pool, (c) =>
      c.query(
        `INSERT INTO quiver_vectors (collection, field, key, vec) SELECT $1, $2, k, v FROM unnest($3::bigint[], $4::bytea[]) AS u(k, v)
         ON CONFLICT (collection, field, key) DO UPDATE SET vec = excluded.vec`,
        [this.name, field, items.map((i) => i.key), items.map((i) => vectorToBytes(i.vector))],
      ),
    );
  }

  async getVectors(field: string, keys: number[]): Promise<StoredVector[]> {
    const r = await query<{ key: string; vec: Buffer }>(
      this.pool,
      'SELECT key, vec FROM quiver_vectors WHERE collection = $1 AND field = $2 AND key = ANY($3::bigint[])',
      [this.name, field, keys],
    );
    const by = new Map(r.rows.map((row) => [Number(row.key), bytesToVector(row.vec)]));
    return keys.filter((k) => by.has(k)).map((k) => ({ key: k, vector: by.get(k)! }));
  }

  async *scanVectors(field: string): AsyncIterable<StoredVector> {
    let after = -1;
    for (;;) {
      const r = await query<{ key: string; vec: Buffer }>(
        this.pool,
        'SELECT key, vec FROM quiver_vectors WHERE collection = $1 AND field = $2 AND key > $3 ORDER BY key LIMIT 2000',
        [this.name, field, after],
      );
      if (r.rows.length === 0) return;
      for (const row of r.rows) yield { key: Number(row.key), vector: bytesToVector(row.vec) };
      after = Number(r.rows[r.rows.length - 1]!.key);
    }
  }

  async deleteVectors(field: string, keys: number[]): Promise<void> {
    await query(
      this.pool,
      'DELETE FROM quiver_vectors WHERE collection = $1 AND field = $2 AND key = ANY($3::bigint[])',
      [this.name, field, keys],
    );
  }

  async countVectors(field: string): Promise<number> {
    return Number(
      (
        await query<{ n: string }>(
          this.pool,
          'SELECT count(*) AS n FROM quiver_vectors WHERE collection = $1 AND field = $2',
          [this.name, field],
        )
      ).rows[0]!.n,
    );
  }

  async getMeta(key: string): Promise<JsonValue | undefined> {
    const r = await query<{ v: JsonValue }>(
      this.pool,
      'SELECT v FROM quiver_meta WHERE collection = $1 AND k = $2',
      [this.name, key],
    );
    return r.rows[0]?.v;
  }

  async setMeta(key: string, value: JsonValue): Promise<void> {
    await query(
      this.pool,
      'INSERT INTO quiver_meta (collection, k, v) VALUES ($1, $2, $3::json) ON CONFLICT (collection, k) DO UPDATE SET v = excluded.v',
      [this.name, key, JSON.stringify(value)],
    );
  }

  async close(): Promise<void> {
    // The pool belongs to the backend.
  }
}

export class PostgresBackend implements StorageBackend {
  readonly kind = 'postgres';

  constructor(
    readonly pool: pg.Pool,
    readonly url: string,
  ) {}

  indexDir(): undefined {
    return undefined;
  }

  async migrate(): Promise<void> {
    await query(
      this.pool,
      'CREATE TABLE IF NOT EXISTS quiver_schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await query<{ version: number }>(this.pool, 'SELECT version FROM quiver_schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await withTransaction(this.pool, async (c) => {
        await c.query(m.sql);
        await c.query('INSERT INTO quiver_schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING', [
          m.version,
        ]);
      });
    }
  }

  private check(name: string): void {
    if (!COLLECTION_NAME.test(name))
      throw new QuiverError('INVALID_ARGUMENT', `invalid collection name "${name}"`, {
        location: { field: 'name' },
      });
  }

  async listCollections(): Promise<string[]> {
    return (
      await query<{ name: string }>(this.pool, 'SELECT name FROM quiver_collections ORDER BY name')
    ).rows.map((r) => r.name);
  }

  async createCollection(name: string, config: CollectionConfig): Promise<CollectionStore> {
    this.check(name);
    const r = await query(
      this.pool,
      'INSERT INTO quiver_collections (name, config) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [name, JSON.stringify(config)],
    );
    if (r.rowCount === 0)
      throw new QuiverError('COLLECTION_EXISTS', `collection "${name}" already exists`, {
        location: { field: 'name' },
      });
    return new PostgresCollectionStore(name, this.pool);
  }

  async openCollection(name: string): Promise<CollectionStore> {
    this.check(name);
    const r = await query(this.pool, 'SELECT 1 FROM quiver_collections WHERE name = $1', [name]);
    if (r.rowCount === 0)
      throw new QuiverError('COLLECTION_NOT_FOUND', `no collection "${name}" in ${redact(this.url)}`, {
        location: { field: 'name' },
      });
    return new PostgresCollectionStore(name, this.pool);
  }

  async dropCollection(name: string): Promise<void> {
    this.check(name);
    await withTransaction(this.pool, async (c) => {
      const r = await c.query('DELETE FROM quiver_collections WHERE name = $1', [name]);
      if (r.rowCount === 0)
        throw new QuiverError('COLLECTION_NOT_FOUND', `no collection "${name}"`, {
          location: { field: 'name' },
        });
      for (const t of [
        'quiver_docs',
        'quiver_tombstones',
        'quiver_vectors',
        'quiver_meta',
        'quiver_postings',
        'quiver_doclen',
        'quiver_df',
        'quiver_lexstats',
        'quiver_sparse_postings',
        'quiver_sparse_passages',
        'quiver_sparse_fields',
      ]) {
        await c.query(`DELETE FROM ${t} WHERE collection = $1`, [name]);
      }
      const tables = await c.query<{ tablename: string }>(
        'SELECT tablename FROM pg_tables WHERE tablename LIKE $1',
        [`${vectorTablePrefix(name)}%`],
      );
      for (const t of tables.rows) await c.query(`DROP TABLE IF EXISTS ${quoteIdent(t.tablename)}`);
    });
  }

  async createLexicalIndex(
    collection: string,
    opts: { analyzer: Analyzer; k1: number; b: number },
  ): Promise<DatabaseLexicalIndex> {
    return PgLexicalIndex.open(this.pool, collection, opts);
  }

  async createSparseIndex(collection: string, field: string): Promise<DatabaseSparseIndex> {
    return PgSparseIndex.open(this.pool, collection, field);
  }

  async createVectorIndex(
    collection: string,
    field: string,
    opts: { dims: number; metric: VectorMetric; quantization?: string },
  ): Promise<VectorIndex> {
    return PgVectorIndex.open(this.pool, collection, field, opts);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Per-field vector tables: qv_<hash of collection>_<hash of field>, safe by construction. */
export function vectorTablePrefix(collection: string): string {
  return `qv_${createHash('sha1').update(collection).digest('hex').slice(0, 10)}_`;
}

export function quoteIdent(s: string): string {
  if (!/^[a-z0-9_]+$/.test(s)) throw new QuiverError('INTERNAL', `refusing identifier ${s}`);
  return `"${s}"`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}

export async function openPostgresBackend(url: string, opts: PostgresOptions = {}): Promise<PostgresBackend> {
  const size =
    opts.poolSize ?? Number(new URL(url).searchParams.get('pool') ?? process.env.QUIVER_PG_POOL ?? 10);
  const clean = new URL(url);
  clean.searchParams.delete('pool');
  const pool = new pg.Pool({
    connectionString: clean.toString(),
    max: size,
    statement_timeout: opts.statementTimeoutMs ?? 60_000,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', () => undefined); // idle clients dropped by a restarting server; the next query reconnects
  const backend = new PostgresBackend(pool, url);
  try {
    await query(pool, 'CREATE EXTENSION IF NOT EXISTS vector');
  } catch (e) {
    throw new QuiverError(
      'STORE_ERROR',
      `the pgvector extension is not available in ${redact(url)}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  await backend.migrate();
  return backend;
}
