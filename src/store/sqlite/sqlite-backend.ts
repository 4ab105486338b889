/**
 * The embedded store of record: one directory per collection holding `store.sqlite`
 * (better-sqlite3, WAL, synchronous=FULL), beside which the engine keeps derived index files.
 *
 * Durability: every upsert/delete batch is one transaction; when its promise resolves the WAL
 * has been fsynced, so the write survives `kill -9` (and power loss).
 * Keys: `docs.key` is an INTEGER PRIMARY KEY AUTOINCREMENT kept across updates (ON CONFLICT DO
 * UPDATE), so derived indexes can address documents by a stable integer. A deleted id that comes
 * back gets its old key again (from its tombstone), so a reader that replays the change log across
 * the delete and the re-insert sees one upsert of a key it already knows and replaces it.
 * Change log: `docs.seq` is the seq of a document's last write; deletes leave a tombstone with
 * their seq (removed when the id is written again). `changesSince` merges both, so a document
 * changed twice appears once, with its latest op.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QuiverError } from '../../errors.js';
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
import { bytesToVector, validateBatch, validateJsonValue, vectorToBytes } from '../validate.js';

export const STORE_FILE = 'store.sqlite';
export const SCHEMA_VERSION = 2;

/**
 * Migration v → SQL that brings a database at version v-1 to version v. The version is kept in
 * PRAGMA user_version (atomic with the migration's transaction) and mirrored in the `schema`
 * table for humans poking at the file with the sqlite3 shell.
 */
const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE docs (
      key INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      title TEXT,
      text TEXT NOT NULL,
      metadata TEXT,
      seq INTEGER NOT NULL
    );
    CREATE INDEX docs_seq ON docs(seq, key);
    CREATE TABLE tombstones (id TEXT PRIMARY KEY, key INTEGER NOT NULL, seq INTEGER NOT NULL);
    CREATE INDEX tombstones_seq ON tombstones(seq, key);
    CREATE TABLE vectors (
      field TEXT NOT NULL,
      key INTEGER NOT NULL,
      vec BLOB NOT NULL,
      PRIMARY KEY (field, key)
    ) WITHOUT ROWID;
    CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    CREATE TABLE config (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('seq', 0);
    CREATE TABLE schema (schema_version INTEGER NOT NULL);
    INSERT INTO schema VALUES (1);
  `,
  // User-supplied sparse vectors (field → term → weight), as JSON beside the document.
  2: `ALTER TABLE docs ADD COLUMN sparse TEXT;`,
};

interface DocRow {
  key: number;
  id: string;
  title: string | null;
  text: string;
  metadata: string | null;
  sparse: string | null;
  seq: number;
}

function rowToDoc(r: DocRow): StoredDocument {
  const d: StoredDocument = { id: r.id, text: r.text, key: r.key, seq: r.seq };
  if (r.title !== null) d.title = r.title;
  if (r.metadata !== null) d.metadata = JSON.parse(r.metadata) as Metadata;
  if (r.sparse !== null) d.sparse = JSON.parse(r.sparse) as NonNullable<StoredDocument['sparse']>;
  return d;
}

function storeError(e: unknown, what: string): QuiverError {
  if (e instanceof QuiverError) return e;
  return new QuiverError('STORE_ERROR', `${what}: ${(e as Error).message}`, { cause: e });
}

/** SQLite's variable limit is 32766; stay well below it for IN (...) lists. */
const IN_LIST = 500;
function chunks<T>(xs: T[], n = IN_LIST): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(',');

export class SqliteCollectionStore implements CollectionStore {
  private readonly db: Database.Database;
  private closed = false;
  private readonly stmts: ReturnType<SqliteCollectionStore['prepare']>;

  constructor(
    readonly name: string,
    readonly path: string,
  ) {
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 10000');
      this.migrate();
      this.stmts = this.prepare();
    } catch (e) {
      this.db.close();
      throw storeError(e, `opening ${path} failed`);
    }
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new QuiverError(
        'STORE_ERROR',
        `${this.path} has schema version ${current}, newer than this Quiver (${SCHEMA_VERSION}); upgrade Quiver`,
      );
    }
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
      this.db
        .transaction(() => {
          this.db.exec(MIGRATIONS[v]!);
          this.db.prepare('UPDATE schema SET schema_version = ?').run(v);
          this.db.pragma(`user_version = ${v}`);
        })
        .immediate();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      keyOf: db.prepare('SELECT key FROM docs WHERE id = ?').pluck(),
      tombKey: db.prepare('SELECT key FROM tombstones WHERE id = ?').pluck(),
      upsert: db.prepare(
        `INSERT INTO docs (key, id, title, text, metadata, sparse, seq)
         VALUES (@key, @id, @title, @text, @metadata, @sparse, @seq)
         ON CONFLICT(id) DO UPDATE SET title = excluded.title, text = excluded.text,
           metadata = excluded.metadata, sparse = excluded.sparse, seq = excluded.seq
         RETURNING key`,
      ),
      dropTomb: db.prepare('DELETE FROM tombstones WHERE id = ?'),
      delDoc: db.prepare('DELETE FROM docs WHERE key = ?'),
      tomb: db.prepare(
        `INSERT INTO tombstones (id, key, seq) VALUES (?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET key = excluded.key, seq = excluded.seq`,
      ),
      delDocVectors: db.prepare('DELETE FROM vectors WHERE key >= ? AND key < ?'),
      head: db.prepare(`SELECT value FROM counters WHERE name = 'seq'`).pluck(),
      bump: db.prepare(`UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value`).pluck(),
      count: db.prepare('SELECT count(*) FROM docs').pluck(),
      scan: db.prepare('SELECT * FROM docs WHERE key > ? ORDER BY key LIMIT ?'),
      listFirst: db.prepare('SELECT * FROM docs ORDER BY id LIMIT ?'),
      listAfter: db.prepare('SELECT * FROM docs WHERE id > ? ORDER BY id LIMIT ?'),
      // Row-value paging over (seq, key): many documents share one seq (one per batch).
      changes: db.prepare(
        `SELECT seq, id, key, op FROM (
           SELECT seq, id, key, 'upsert' AS op FROM docs WHERE (seq, key) > (@seq, @key)
           UNION ALL
           SELECT seq, id, key, 'delete' AS op FROM tombstones WHERE (seq, key) > (@seq, @key)
         ) ORDER BY seq, key LIMIT @limit`,
      ),
      putVec: db.prepare(
        'INSERT INTO vectors (field, key, vec) VALUES (?, ?, ?) ON CONFLICT(field, key) DO UPDATE SET vec = excluded.vec',
      ),
      scanVec: db.prepare('SELECT key, vec FROM vectors WHERE field = ? AND key > ? ORDER BY key LIMIT ?'),
      delVec: db.prepare('DELETE FROM vectors WHERE field = ? AND key = ?'),
      countVec: db.prepare('SELECT count(*) FROM vectors WHERE field = ?').pluck(),
      getMeta: db.prepare('SELECT v FROM meta WHERE k = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v',
      ),
      getConfig: db.prepare('SELECT value FROM config WHERE id = 1').pluck(),
      setConfig: db.prepare(
        'INSERT INTO config (id, value) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  /**
   * Prepared statements for queries whose text varies with the number of parameters (IN lists),
   * kept by text: preparing one per call cost more than running it (profiled: ~0.15 ms of a
   * 0.5 ms search hydrating its top 10). Bounded; SQLite statements are cheap to keep.
   */
  private readonly statements = new Map<string, Database.Statement>();
  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size >= 256) this.statements.clear();
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private assertOpen(): void {
    if (this.closed) throw new QuiverError('STORE_ERROR', `collection "${this.name}" is closed`);
  }

  async getConfig(): Promise<CollectionConfig> {
    this.assertOpen();
    const v = this.stmts.getConfig.get() as string | undefined;
    if (v === undefined)
      throw new QuiverError('STORE_ERROR', `collection "${this.name}" has no configuration`);
    return JSON.parse(v) as CollectionConfig;
  }

  async setConfig(config: CollectionConfig): Promise<void> {
    this.assertOpen();
    validateJsonValue(config, 'config');
    this.stmts.setConfig.run(JSON.stringify(config));
  }

  async upsert(input: QuiverDocument[]): Promise<UpsertResult> {
    this.assertOpen();
    const docs = validateBatch(input);
    // Serialize outside the transaction: a bad value must fail before anything is written.
    const rows = docs.map((d) => ({
      id: d.id,
      title: d.title ?? null,
      text: d.text,
      metadata: d.metadata ? JSON.stringify(d.metadata) : null,
      sparse: d.sparse ? JSON.stringify(d.sparse) : null,
    }));
    const s = this.stmts;
    try {
      const write = this.db.transaction((): UpsertResult => {
        if (rows.length === 0) return { keys: [], seq: s.head.get() as number, inserted: 0, updated: 0 };
        const seq = s.bump.get() as number;
        const keyById = new Map<string, number>();
        let inserted = 0;
        for (const r of rows) {
          const existing = s.keyOf.get(r.id) as number | undefined;
          // A returning id takes its old key back from its tombstone (see the header comment).
          const key = existing ?? (s.tombKey.get(r.id) as number | undefined) ?? null;
          const written = s.upsert.get({ ...r, key, seq }) as { key: number };
          if (existing === undefined && !keyById.has(r.id)) inserted++;
          if (existing === undefined) s.dropTomb.run(r.id);
          keyById.set(r.id, written.key);
        }
        return { keys: rows.map((r) => keyById.get(r.id)!), seq, inserted, updated: keyById.size - inserted };
      });
      // IMMEDIATE: take the write lock up front so concurrent writers wait (busy_timeout) instead
      // of failing with SQLITE_BUSY when a read transaction tries to upgrade.
      return write.immediate();
    } catch (e) {
      throw storeError(e, 'upsert failed');
    }
  }

  async delete(ids: string[]): Promise<{ deleted: number; keys: number[]; seq: number }> {
    this.assertOpen();
    const s = this.stmts;
    try {
      const remove = this.db.transaction(() => {
        const present: { id: string; key: number }[] = [];
        for (const id of new Set(ids)) {
          const key = s.keyOf.get(id) as number | undefined;
          if (key !== undefined) present.push({ id, key });
        }
        if (present.length === 0) return { deleted: 0, keys: [], seq: s.head.get() as number };
        const seq = s.bump.get() as number;
        for (const { id, key } of present) {
          s.delDoc.run(key);
          s.tomb.run(id, key, seq);
          s.delDocVectors.run(key * MAX_CHUNKS_PER_DOC, (key + 1) * MAX_CHUNKS_PER_DOC);
        }
        return { deleted: present.length, keys: present.map((p) => p.key), seq };
      });
      return remove.immediate();
    } catch (e) {
      throw storeError(e, 'delete failed');
    }
  }

  async get(ids: string[]): Promise<StoredDocument[]> {
    this.assertOpen();
    const byId = new Map<string, StoredDocument>();
    for (const part of chunks([...new Set(ids)])) {
      const rows = this.statement(`SELECT * FROM docs WHERE id IN (${placeholders(part.length)})`).all(
        ...part,
      ) as DocRow[];
      for (const r of rows) byId.set(r.id, rowToDoc(r));
    }
    return ids.map((id) => byId.get(id)).filter((d): d is StoredDocument => d !== undefined);
  }

  async getByKeys(keys: number[]): Promise<StoredDocument[]> {
    this.assertOpen();
    const byKey = new Map<number, StoredDocument>();
    for (const part of chunks([...new Set(keys)])) {
      const rows = this.statement(`SELECT * FROM docs WHERE key IN (${placeholders(part.length)})`).all(
        ...part,
      ) as DocRow[];
      for (const r of rows) byKey.set(r.key, rowToDoc(r));
    }
    return keys.map((k) => byKey.get(k)).filter((d): d is StoredDocument => d !== undefined);
  }

  async count(): Promise<number> {
    this.assertOpen();
    return this.stmts.count.get() as number;
  }

  async list(opts: { cursor?: string; limit: number }): Promise<ListPage> {
    this.assertOpen();
    const limit = Math.max(1, Math.min(Math.floor(opts.limit) || 1, 10_000));
    const after =
      opts.cursor === undefined ? undefined : Buffer.from(opts.cursor, 'base64url').toString('utf8');
    const rows = (
      after === undefined ? this.stmts.listFirst.all(limit + 1) : this.stmts.listAfter.all(after, limit + 1)
    ) as DocRow[];
    const page = rows.slice(0, limit).map(rowToDoc);
    const last = page[page.length - 1];
    return rows.length > limit && last
      ? { docs: page, next: Buffer.from(last.id).toString('base64url') }
      : { docs: page };
  }

  /** Pages by key, one short query per page: no statement stays open across awaits, so writes can interleave. */
  async *scan(opts: { batchSize?: number } = {}): AsyncIterable<StoredDocument> {
    const size = Math.max(1, opts.batchSize ?? 1000);
    let after = -1;
    for (;;) {
      this.assertOpen();
      const rows = this.stmts.scan.all(after, size) as DocRow[];
      for (const r of rows) yield rowToDoc(r);
      if (rows.length < size) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  async headSeq(): Promise<number> {
    this.assertOpen();
    return this.stmts.head.get() as number;
  }

  async *changesSince(since: number): AsyncIterable<Change> {
    const limit = 5000;
    let at = { seq: since, key: Number.MAX_SAFE_INTEGER };
    for (;;) {
      this.assertOpen();
      const rows = this.stmts.changes.all({ ...at, limit }) as Change[];
      for (const r of rows) yield r;
      if (rows.length < limit) return;
      const last = rows[rows.length - 1]!;
      at = { seq: last.seq, key: last.key };
    }
  }

  async putVectors(field: string, items: StoredVector[]): Promise<void> {
    this.assertOpen();
    try {
      this.db
        .transaction(() => {
          for (const it of items) this.stmts.putVec.run(field, it.key, vectorToBytes(it.vector));
        })
        .immediate();
    } catch (e) {
      throw storeError(e, 'storing vectors failed');
    }
  }

  async getVectors(field: string, keys: number[]): Promise<StoredVector[]> {
    this.assertOpen();
    const byKey = new Map<number, Float32Array>();
    for (const part of chunks([...new Set(keys)])) {
      const rows = this.statement(
        `SELECT key, vec FROM vectors WHERE field = ? AND key IN (${placeholders(part.length)})`,
      ).all(field, ...part) as { key: number; vec: Buffer }[];
      for (const r of rows) byKey.set(r.key, bytesToVector(r.vec));
    }
    const out: StoredVector[] = [];
    for (const key of new Set(keys)) {
      const vector = byKey.get(key);
      if (vector) out.push({ key, vector });
    }
    return out;
  }

  async *scanVectors(field: string): AsyncIterable<StoredVector> {
    const size = 2000;
    let after = -1;
    for (;;) {
      this.assertOpen();
      const rows = this.stmts.scanVec.all(field, after, size) as { key: number; vec: Buffer }[];
      for (const r of rows) yield { key: r.key, vector: bytesToVector(r.vec) };
      if (rows.length < size) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  async deleteVectors(field: string, keys: number[]): Promise<void> {
    this.assertOpen();
    this.db
      .transaction(() => {
        for (const k of keys) this.stmts.delVec.run(field, k);
      })
      .immediate();
  }

  async countVectors(field: string): Promise<number> {
    this.assertOpen();
    return this.stmts.countVec.get(field) as number;
  }

  async getMeta(key: string): Promise<JsonValue | undefined> {
    this.assertOpen();
    const v = this.stmts.getMeta.get(key) as string | undefined;
    return v === undefined ? undefined : (JSON.parse(v) as JsonValue);
  }

  async setMeta(key: string, value: JsonValue): Promise<void> {
    this.assertOpen();
    validateJsonValue(value, key);
    this.stmts.setMeta.run(key, JSON.stringify(value));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

export class SqliteBackend implements StorageBackend {
  readonly kind = 'sqlite';
  private readonly stores = new Set<SqliteCollectionStore>();

  constructor(readonly dataDir: string) {}

  /** The collection's own directory: `store.sqlite` lives there, derived index files beside it. */
  indexDir(collection: string): string {
    this.checkName(collection);
    return join(this.dataDir, collection);
  }

  private checkName(name: string): void {
    if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `invalid collection name "${String(name)}": use 1–63 letters, digits, _ or -, starting with a letter or digit`,
        { location: { field: 'name' } },
      );
    }
  }

  private storeFile(name: string): string {
    return join(this.indexDir(name), STORE_FILE);
  }

  async listCollections(): Promise<string[]> {
    if (!existsSync(this.dataDir)) return [];
    return readdirSync(this.dataDir, { withFileTypes: true })
      .filter(
        (d) =>
          d.isDirectory() &&
          COLLECTION_NAME.test(d.name) &&
          existsSync(join(this.dataDir, d.name, STORE_FILE)),
      )
      .map((d) => d.name)
      .sort();
  }

  async createCollection(name: string, config: CollectionConfig): Promise<CollectionStore> {
    const file = this.storeFile(name);
    if (existsSync(file)) {
      throw new QuiverError('COLLECTION_EXISTS', `collection "${name}" already exists in ${this.dataDir}`, {
        location: { field: 'name' },
      });
    }
    mkdirSync(this.indexDir(name), { recursive: true });
    const store = new SqliteCollectionStore(name, file);
    try {
      await store.setConfig(config);
    } catch (e) {
      await store.close();
      rmSync(this.indexDir(name), { recursive: true, force: true });
      throw e;
    }
    this.stores.add(store);
    return store;
  }

  async openCollection(name: string): Promise<CollectionStore> {
    const file = this.storeFile(name);
    if (!existsSync(file)) {
      throw new QuiverError('COLLECTION_NOT_FOUND', `no collection "${name}" in ${this.dataDir}`, {
        location: { field: 'name' },
      });
    }
    const store = new SqliteCollectionStore(name, file);
    this.stores.add(store);
    return store;
  }

  async dropCollection(name: string): Promise<void> {
    if (!existsSync(this.storeFile(name))) {
      throw new QuiverError('COLLECTION_NOT_FOUND', `no collection "${name}" in ${this.dataDir}`, {
        location: { field: 'name' },
      });
    }
    for (const s of [...this.stores]) {
      if (s.name === name) {
        await s.close();
        this.stores.delete(s);
      }
    }
    rmSync(this.indexDir(name), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    for (const s of this.stores) await s.close();
    this.stores.clear();
  }
}

export async function openSqliteBackend(dataDir: string): Promise<SqliteBackend> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  return new SqliteBackend(dir);
}
