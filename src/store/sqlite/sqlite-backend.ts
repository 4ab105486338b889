/**
 * The embedded store of record: one directory per collection holding `store.sqlite`
 * (better-sqlite3, WAL, synchronous=FULL), beside which the engine keeps derived index files.
 *
 * Durability: every upsert/delete batch is one transaction; when its promise resolves the WAL
 * has been fsynced, so the write survives `kill -9` (and power loss).
 * Keys: `docs.key` is an INTEGER PRIMARY KEY kept across updates (ON CONFLICT DO UPDATE), so
 * derived indexes can address documents by a stable integer.
 * Change log: `docs.seq` is the seq of a document's last write; deletes leave a tombstone with
 * their seq. `changesSince` merges both.
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
import { bytesToVector, validateBatch, vectorToBytes } from '../validate.js';

const STORE_FILE = 'store.sqlite';
const SCHEMA_VERSION = 1;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE docs (
      key INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      title TEXT,
      text TEXT NOT NULL,
      metadata TEXT,
      seq INTEGER NOT NULL
    );
    CREATE INDEX docs_seq ON docs(seq);
    CREATE TABLE tombstones (id TEXT PRIMARY KEY, key INTEGER NOT NULL, seq INTEGER NOT NULL);
    CREATE INDEX tombstones_seq ON tombstones(seq);
    CREATE TABLE vectors (field TEXT NOT NULL, key INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (field, key)) WITHOUT ROWID;
    CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('seq', 0);
  `,
};

interface DocRow {
  key: number;
  id: string;
  title: string | null;
  text: string;
  metadata: string | null;
  seq: number;
}

function rowToDoc(r: DocRow): StoredDocument {
  const d: StoredDocument = { id: r.id, text: r.text, key: r.key, seq: r.seq };
  if (r.title !== null) d.title = r.title;
  if (r.metadata !== null) d.metadata = JSON.parse(r.metadata) as Metadata;
  return d;
}

function storeError(e: unknown, what: string): QuiverError {
  if (e instanceof QuiverError) return e;
  return new QuiverError('STORE_ERROR', `${what}: ${(e as Error).message}`, { cause: e });
}

/** SQLite's variable limit is 32766; stay well below it for IN (...) lists. */
const CHUNK = 500;
function chunks<T>(xs: T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export class SqliteCollectionStore implements CollectionStore {
  private readonly db: Database.Database;
  private closed = false;

  constructor(
    readonly name: string,
    readonly path: string,
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
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
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v}`);
      })();
    }
  }

  private nextSeq(): number {
    const row = this.db.prepare(`UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value`).get() as {
      value: number;
    };
    return row.value;
  }

  async getConfig(): Promise<CollectionConfig> {
    const v = await this.getMeta('config');
    if (v === undefined) throw new QuiverError('STORE_ERROR', `collection "${this.name}" has no configuration`);
    return v as unknown as CollectionConfig;
  }

  async setConfig(config: CollectionConfig): Promise<void> {
    await this.setMeta('config', config as unknown as JsonValue);
  }

  async upsert(input: QuiverDocument[]): Promise<UpsertResult> {
    const docs = validateBatch(input);
    try {
      const tx = this.db.transaction((batch: QuiverDocument[]) => {
        const existing = this.db.prepare('SELECT key FROM docs WHERE id = ?');
        const insert = this.db.prepare(
          `INSERT INTO docs (id, title, text, metadata, seq) VALUES (@id, @title, @text, @metadata, @seq)
           ON CONFLICT(id) DO UPDATE SET title = excluded.title, text = excluded.text,
             metadata = excluded.metadata, seq = excluded.seq
           RETURNING key`,
        );
        const dropTomb = this.db.prepare('DELETE FROM tombstones WHERE id = ?');
        const seq = this.nextSeq();
        let inserted = 0;
        const keys: number[] = [];
        for (const d of batch) {
          const had = existing.get(d.id) as { key: number } | undefined;
          const row = insert.get({
            id: d.id,
            title: d.title ?? null,
            text: d.text,
            metadata: d.metadata ? JSON.stringify(d.metadata) : null,
            seq,
          }) as { key: number };
          if (!had) inserted++;
          dropTomb.run(d.id);
          keys.push(row.key);
        }
        return { keys, seq, inserted, updated: batch.length - inserted };
      });
      return tx(docs);
    } catch (e) {
      throw storeError(e, 'upsert failed');
    }
  }

  async delete(ids: string[]): Promise<{ deleted: number; keys: number[]; seq: number }> {
    try {
      const tx = this.db.transaction((list: string[]) => {
        const find = this.db.prepare('SELECT key FROM docs WHERE id = ?');
        const del = this.db.prepare('DELETE FROM docs WHERE key = ?');
        const tomb = this.db.prepare(
          'INSERT INTO tombstones (id, key, seq) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET key = excluded.key, seq = excluded.seq',
        );
        const delVecs = this.db.prepare('DELETE FROM vectors WHERE key >= ? AND key < ?');
        const keys: number[] = [];
        let seq = (this.db.prepare(`SELECT value FROM counters WHERE name = 'seq'`).get() as { value: number }).value;
        const present = list.filter((id) => find.get(id) !== undefined);
        if (present.length) seq = this.nextSeq();
        for (const id of present) {
          const row = find.get(id) as { key: number } | undefined;
          if (!row) continue; // duplicate id in the list
          del.run(row.key);
          tomb.run(id, row.key, seq);
          delVecs.run(row.key * MAX_CHUNKS_PER_DOC, (row.key + 1) * MAX_CHUNKS_PER_DOC);
          keys.push(row.key);
        }
        return { deleted: keys.length, keys, seq };
      });
      return tx(ids);
    } catch (e) {
      throw storeError(e, 'delete failed');
    }
  }

  async get(ids: string[]): Promise<StoredDocument[]> {
    const byId = new Map<string, StoredDocument>();
    for (const part of chunks([...new Set(ids)])) {
      const rows = this.db
        .prepare(`SELECT * FROM docs WHERE id IN (${part.map(() => '?').join(',')})`)
        .all(...part) as DocRow[];
      for (const r of rows) byId.set(r.id, rowToDoc(r));
    }
    return ids.map((id) => byId.get(id)).filter((d): d is StoredDocument => d !== undefined);
  }

  async getByKeys(keys: number[]): Promise<StoredDocument[]> {
    const byKey = new Map<number, StoredDocument>();
    for (const part of chunks([...new Set(keys)])) {
      const rows = this.db
        .prepare(`SELECT * FROM docs WHERE key IN (${part.map(() => '?').join(',')})`)
        .all(...part) as DocRow[];
      for (const r of rows) byKey.set(r.key, rowToDoc(r));
    }
    return keys.map((k) => byKey.get(k)).filter((d): d is StoredDocument => d !== undefined);
  }

  async count(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n;
  }

  async list(opts: { cursor?: string; limit: number }): Promise<ListPage> {
    const limit = Math.max(1, Math.min(opts.limit, 10_000));
    const after = opts.cursor === undefined ? undefined : Buffer.from(opts.cursor, 'base64url').toString('utf8');
    const rows = (
      after === undefined
        ? this.db.prepare('SELECT * FROM docs ORDER BY id LIMIT ?').all(limit + 1)
        : this.db.prepare('SELECT * FROM docs WHERE id > ? ORDER BY id LIMIT ?').all(after, limit + 1)
    ) as DocRow[];
    const page = rows.slice(0, limit).map(rowToDoc);
    const last = page[page.length - 1];
    return rows.length > limit && last ? { docs: page, next: Buffer.from(last.id).toString('base64url') } : { docs: page };
  }

  async *scan(opts: { batchSize?: number } = {}): AsyncIterable<StoredDocument> {
    const size = opts.batchSize ?? 1000;
    let after = -1;
    const stmt = this.db.prepare('SELECT * FROM docs WHERE key > ? ORDER BY key LIMIT ?');
    for (;;) {
      const rows = stmt.all(after, size) as DocRow[];
      if (rows.length === 0) return;
      for (const r of rows) yield rowToDoc(r);
      after = rows[rows.length - 1]!.key;
    }
  }

  async headSeq(): Promise<number> {
    return (this.db.prepare(`SELECT value FROM counters WHERE name = 'seq'`).get() as { value: number }).value;
  }

  async *changesSince(since: number): AsyncIterable<Change> {
    const rows = this.db
      .prepare(
        `SELECT seq, id, key, 'upsert' AS op FROM docs WHERE seq > ?
         UNION ALL SELECT seq, id, key, 'delete' AS op FROM tombstones WHERE seq > ?
         ORDER BY seq, key`,
      )
      .all(since, since) as Change[];
    for (const r of rows) yield r;
  }

  async putVectors(field: string, items: StoredVector[]): Promise<void> {
    try {
      const stmt = this.db.prepare(
        'INSERT INTO vectors (field, key, vec) VALUES (?, ?, ?) ON CONFLICT(field, key) DO UPDATE SET vec = excluded.vec',
      );
      this.db.transaction(() => {
        for (const it of items) stmt.run(field, it.key, vectorToBytes(it.vector));
      })();
    } catch (e) {
      throw storeError(e, 'storing vectors failed');
    }
  }

  async getVectors(field: string, keys: number[]): Promise<StoredVector[]> {
    const out: StoredVector[] = [];
    for (const part of chunks([...new Set(keys)])) {
      const rows = this.db
        .prepare(`SELECT key, vec FROM vectors WHERE field = ? AND key IN (${part.map(() => '?').join(',')})`)
        .all(field, ...part) as { key: number; vec: Buffer }[];
      for (const r of rows) out.push({ key: r.key, vector: bytesToVector(r.vec) });
    }
    const order = new Map(keys.map((k, i) => [k, i]));
    return out.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
  }

  async *scanVectors(field: string): AsyncIterable<StoredVector> {
    let after = -1;
    const stmt = this.db.prepare('SELECT key, vec FROM vectors WHERE field = ? AND key > ? ORDER BY key LIMIT 2000');
    for (;;) {
      const rows = stmt.all(field, after) as { key: number; vec: Buffer }[];
      if (rows.length === 0) return;
      for (const r of rows) yield { key: r.key, vector: bytesToVector(r.vec) };
      after = rows[rows.length - 1]!.key;
    }
  }

  async deleteVectors(field: string, keys: number[]): Promise<void> {
    const stmt = this.db.prepare('DELETE FROM vectors WHERE field = ? AND key = ?');
    this.db.transaction(() => {
      for (const k of keys) stmt.run(field, k);
    })();
  }

  async countVectors(field: string): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM vectors WHERE field = ?').get(field) as { n: number }).n;
  }

  async getMeta(key: string): Promise<JsonValue | undefined> {
    const row = this.db.prepare('SELECT v FROM meta WHERE k = ?').get(key) as { v: string } | undefined;
    return row ? (JSON.parse(row.v) as JsonValue) : undefined;
  }

  async setMeta(key: string, value: JsonValue): Promise<void> {
    this.db
      .prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v')
      .run(key, JSON.stringify(value));
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

  indexDir(collection: string): string {
    return join(this.dataDir, collection);
  }

  private checkName(name: string): void {
    if (!COLLECTION_NAME.test(name)) {
      throw new QuiverError('INVALID_ARGUMENT', `invalid collection name "${name}"`, { location: { field: 'name' } });
    }
  }

  async listCollections(): Promise<string[]> {
    if (!existsSync(this.dataDir)) return [];
    return readdirSync(this.dataDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && COLLECTION_NAME.test(d.name) && existsSync(join(this.dataDir, d.name, STORE_FILE)))
      .map((d) => d.name)
      .sort();
  }

  async createCollection(name: string, config: CollectionConfig): Promise<CollectionStore> {
    this.checkName(name);
    const dir = this.indexDir(name);
    if (existsSync(join(dir, STORE_FILE))) {
      throw new QuiverError('COLLECTION_EXISTS', `collection "${name}" already exists in ${this.dataDir}`, {
        location: { field: 'name' },
      });
    }
    mkdirSync(dir, { recursive: true });
    const store = new SqliteCollectionStore(name, join(dir, STORE_FILE));
    await store.setConfig(config);
    this.stores.add(store);
    return store;
  }

  async openCollection(name: string): Promise<CollectionStore> {
    this.checkName(name);
    const file = join(this.indexDir(name), STORE_FILE);
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
    this.checkName(name);
    const dir = this.indexDir(name);
    if (!existsSync(join(dir, STORE_FILE))) {
      throw new QuiverError('COLLECTION_NOT_FOUND', `no collection "${name}" in ${this.dataDir}`, {
        location: { field: 'name' },
      });
    }
    for (const s of this.stores) {
      if (s.name === name) {
        await s.close();
        this.stores.delete(s);
      }
    }
    rmSync(dir, { recursive: true, force: true });
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
