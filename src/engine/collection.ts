/**
 * A collection: the store of record plus everything derived from it (document table, lexical
 * index, vector fields), and the search pipeline over them:
 *
 *   query ─► retrieve (lexical | dense per field) ─► fuse ─► group by document ─► hydrate
 *
 * Consistency model: every write goes to the store first (acknowledged = durable). Derived state
 * catches up by replaying the store's change log (`refresh`), which also picks up writes made by
 * another process. Derived index files carry the store seq they reflect; a file whose seq is not
 * the store's is never served — it is rebuilt.
 */
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { Analyzer } from '../analyze/analyzer.js';
import { createAnalyzer } from '../analyze/index.js';
import { QuiverError, isQuiverError } from '../errors.js';
import { fuse } from '../fuse/index.js';
import type { RankedList } from '../fuse/fusion.js';
import { Bm25Index } from '../index/lexical/bm25.js';
import type { DatabaseLexicalIndex, LexicalIndex, ScoredKey } from '../index/lexical/lexical-index.js';
import { chunkDocument } from '../ingest/chunker.js';
import type { CompiledFilter } from '../retrieve/filter.js';
import { compileFilter } from '../retrieve/filter.js';
import type { CollectionStore, ListPage, StorageBackend } from '../store/store.js';
import { META_KEYS } from '../store/store.js';
import type {
  CollectionConfig,
  FusionOptions,
  Passage,
  QuiverDocument,
  RetrieverExplain,
  SearchHit,
  SearchMode,
  SearchRequest,
  SearchResponse,
  StoredDocument,
} from '../types.js';
import { chunkOf, docKeyOf, passageKey } from '../types.js';
import { DocTable } from './doc-table.js';
import { MIN_FIT_DOCS, VectorField } from './vector-field.js';
import type { SparseEncoderSource } from './sparse-field.js';
import { SparseField } from './sparse-field.js';
import { withSparseDefault } from '../fuse/defaults.js';
import type { Embedder } from '../embed/embedder.js';
import { SnippetSelector } from '../snippet/snippet.js';
import type { Reranker } from '../rerank/reranker.js';
import { SimilarityReranker } from '../rerank/similarity.js';
import { SemanticIdIndex } from '../ids/collection-ids.js';

export const LIMITS = {
  maxK: 1000,
  maxQueryChars: 100_000,
  defaultCandidates: 100,
};

export interface CollectionStats {
  name: string;
  documents: number;
  passages: number;
  store: string;
  seq: number;
  vectorFields: { name: string; model: string; dims: number; vectors: number; quantization: string }[];
  /** Learned-sparse fields: passages with a vector, distinct terms indexed. */
  sparseFields: { name: string; model: string; passages: number; terms: number }[];
  analyzer: CollectionConfig['analyzer'];
  bm25: CollectionConfig['bm25'];
  chunking: CollectionConfig['chunking'];
  fusion: FusionOptions;
}

export interface UpsertOptions {
  /** Skip embedding now; call `flush()` (or `syncVectors()`) later. Used by bulk ingest. */
  deferVectors?: boolean;
}

/** How the engine obtains embedders; Quiver caches shared ones and makes per-collection fittable ones. */
export type EmbedderSource = (field: CollectionConfig['vectors'][number]) => Promise<Embedder>;

const BM25_FILE = 'bm25.idx';

/** An in-database index to bring up to the store's head on open (Collection.catchUpDatabaseIndexes). */
interface DatabaseCatchUp {
  /** The store seq it is known complete through. */
  from: number;
  removeDocuments(docKeys: number[]): Promise<void>;
  reindex(docs: StoredDocument[]): Promise<void>;
  /** Record that it is complete through the head. */
  done(): Promise<unknown>;
}

export class Collection {
  private readonly docs = new DocTable();
  private seenSeq = 0;
  private lexicalDirty = false;
  private closed = false;
  /** close() has begun: background catch-up stops between batches. */
  private closing = false;
  private vectorCatchUp: Promise<unknown> | undefined;
  private vectorCatchUpError: string | undefined;
  /** Serialises writes and refreshes so derived state is never updated concurrently. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly name: string,
    private cfg: CollectionConfig,
    private readonly store: CollectionStore,
    private readonly backend: StorageBackend,
    private readonly analyzer: Analyzer,
    private readonly lexical: LexicalIndex,
    private readonly lexicalPath: string | undefined,
    private readonly fields: VectorField[],
    private readonly sparse: SparseField[] = [],
  ) {}

  get config(): CollectionConfig {
    return this.cfg;
  }

  get vectorFields(): readonly VectorField[] {
    return this.fields;
  }

  get sparseFields(): readonly SparseField[] {
    return this.sparse;
  }

  static async open(
    name: string,
    store: CollectionStore,
    backend: StorageBackend,
    embedderFor: EmbedderSource,
    sparseEncoderFor?: SparseEncoderSource,
  ): Promise<Collection> {
    const cfg = await store.getConfig();
    const analyzer = createAnalyzer(cfg.analyzer);
    const head = await store.headSeq();
    const dir = backend.indexDir(name);

    let lexical: LexicalIndex;
    let lexicalPath: string | undefined;
    let lexicalFresh = false;
    /** For an in-database index behind the store: the seq it is complete through, when < head. */
    let lexicalCatchUp: { index: DatabaseLexicalIndex; from: number } | undefined;
    if (backend.createLexicalIndex) {
      const db = await backend.createLexicalIndex(name, { analyzer, k1: cfg.bm25.k1, b: cfg.bm25.b });
      lexical = db;
      // Kept in the database, so not rebuilt by the scan below; but its writes follow the store's
      // commit, so documents committed after its watermark (a process killed in between) are
      // re-indexed. No watermark (a collection from before it existed): re-index everything once.
      lexicalFresh = true;
      const state = await store.getMeta(META_KEYS.lexical);
      const through =
        state && typeof state === 'object' && !Array.isArray(state) && typeof state['seq'] === 'number'
          ? state['seq']
          : 0;
      if (through < head) lexicalCatchUp = { index: db, from: through };
    } else {
      lexicalPath = join(dir ?? '.', BM25_FILE);
      const opts = {
        analyzer,
        k1: cfg.bm25.k1,
        b: cfg.bm25.b,
        ...(cfg.bm25.fields ? { fields: cfg.bm25.fields } : {}),
      };
      lexical = new Bm25Index(opts);
      try {
        const loaded = await Bm25Index.load(lexicalPath, opts);
        if (loaded.watermark === head) {
          lexical = loaded.index;
          lexicalFresh = true;
        }
      } catch (e) {
        // Missing, torn or stale snapshot: rebuilt below from the store of record.
        if (!isQuiverError(e) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }

    const fields: VectorField[] = [];
    for (const f of cfg.vectors) {
      fields.push(await VectorField.open(f, await embedderFor(f), store, backend, name));
    }

    const sparse: SparseField[] = [];
    for (const f of cfg.sparse ?? []) {
      if (f.model !== 'user' && !sparseEncoderFor) {
        throw new QuiverError(
          'INVALID_CONFIG',
          `sparse field "${f.name}" needs an encoder for model ${f.model}`,
          {
            location: { field: `sparse.${f.name}.model` },
          },
        );
      }
      const encoder = f.model === 'user' ? undefined : await sparseEncoderFor!(f);
      const database = backend.createSparseIndex
        ? { index: await backend.createSparseIndex(name, f.name), store }
        : undefined;
      sparse.push(await SparseField.open(f, encoder, { dir, head, ...(database ? { database } : {}) }));
    }
    const staleSparse = sparse.filter((f) => !f.fresh);

    const c = new Collection(name, cfg, store, backend, analyzer, lexical, lexicalPath, fields, sparse);
    // One pass over the store builds the document table and, if needed, the lexical and sparse indexes.
    const pending: Passage[] = [];
    let pendingDocs = new Map<number, StoredDocument>();
    const indexPending = async () => {
      if (!lexicalFresh) await lexical.add(pending);
      const byKey = pendingDocs;
      for (const f of staleSparse) await f.indexPassages(pending, (k) => byKey.get(k));
      pending.length = 0;
      pendingDocs = new Map();
    };
    for await (const doc of store.scan({ batchSize: 1000 })) {
      const passages = c.passagesOf(doc);
      c.docs.set(doc.key, doc.id, doc.metadata, passages.length);
      if (!lexicalFresh || staleSparse.length) {
        pending.push(...passages);
        pendingDocs.set(doc.key, doc);
        if (pending.length >= 2000) await indexPending();
      }
    }
    if (pending.length) await indexPending();
    // In-database indexes behind the store are caught up from their watermarks.
    const behind: DatabaseCatchUp[] = [];
    if (lexicalCatchUp) {
      const db = lexicalCatchUp.index;
      behind.push({
        from: lexicalCatchUp.from,
        removeDocuments: (keys) => db.removeDocuments(keys),
        reindex: (docs) => db.add(docs.flatMap((d) => c.passagesOf(d))),
        done: () => store.setMeta(META_KEYS.lexical, { seq: head }),
      });
    }
    for (const f of sparse) {
      if (f.catchUpFrom === undefined) continue;
      behind.push({
        from: f.catchUpFrom,
        removeDocuments: (keys) => f.removeDocuments(keys),
        reindex: (docs) => {
          const byKey = new Map(docs.map((d) => [d.key, d]));
          return f.indexPassages(
            docs.flatMap((d) => c.passagesOf(d)),
            (k) => byKey.get(k),
          );
        },
        done: () => f.persist(head),
      });
    }
    if (behind.length) await c.catchUpDatabaseIndexes(behind);
    if (!lexicalFresh) c.lexicalDirty = true;
    // A rebuilt (even empty) sparse index gets a snapshot (or its watermark) at the next flush.
    for (const f of staleSparse) {
      f.dirty = true;
      if (f.inDatabase) await f.persist(head);
    }
    c.seenSeq = head;
    if (fields.some((f) => f.seq !== head)) c.catchUpVectorsInBackground();
    // From here on, writes fill the snippet sentence cache at index time (see applyChanges).
    c.snippets();
    return c;
  }

  /**
   * Bring in-database indexes up to the store's head from the seq each is known complete through:
   * every document changed since then loses whatever passages the index holds for it (also ones
   * the engine never saw) and gets its current passages back.
   */
  private async catchUpDatabaseIndexes(behind: DatabaseCatchUp[]): Promise<void> {
    const from = Math.min(...behind.map((t) => t.from));
    const changed: { key: number; seq: number }[] = [];
    for await (const ch of this.store.changesSince(from)) changed.push({ key: ch.key, seq: ch.seq });
    for (const t of behind) {
      const touched = changed.filter((ch) => ch.seq > t.from).map((ch) => ch.key);
      for (let i = 0; i < touched.length; i += 1000) {
        const batch = touched.slice(i, i + 1000);
        await t.removeDocuments(batch);
        await t.reindex(await this.store.getByKeys(batch));
      }
      await t.done();
    }
  }

  private passagesOf(doc: StoredDocument): Passage[] {
    return chunkDocument(doc, this.cfg.chunking);
  }

  /** Run `fn` after every earlier write/refresh has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private assertOpen(): void {
    if (this.closed) throw new QuiverError('INVALID_ARGUMENT', `collection "${this.name}" is closed`);
  }

  // ─── writes ──────────────────────────────────────────────────────────────────────────────

  async upsert(
    docs: QuiverDocument[],
    opts: UpsertOptions = {},
  ): Promise<{ upserted: number; passages: number; seq: number }> {
    this.assertOpen();
    this.checkSparseInput(docs);
    return this.serial(async () => {
      const res = await this.store.upsert(docs);
      const passages = await this.applyChanges();
      if (!opts.deferVectors) await this.syncVectorsNow(false);
      return { upserted: docs.length, passages, seq: res.seq };
    });
  }

  /**
   * Documents may carry vectors only for this collection's sparse fields with model "user"
   * (the store validates their shape; this checks they belong somewhere).
   */
  private checkSparseInput(docs: QuiverDocument[]): void {
    docs.forEach((d, index) => {
      const given =
        d && typeof d === 'object' && d.sparse && typeof d.sparse === 'object' ? Object.keys(d.sparse) : [];
      for (const name of given) {
        const f = this.sparse.find((x) => x.name === name);
        if (f?.isUser) continue;
        const why = f
          ? `sparse field "${name}" is computed by ${f.config.model}; only fields with model "user" take vectors`
          : `this collection has no sparse field "${name}" (have: ${this.sparse.map((x) => x.name).join(', ') || 'none'})`;
        throw new QuiverError('INVALID_DOCUMENT', `document "${String(d.id)}": ${why}`, {
          location: { field: `sparse.${name}` },
          details: { index },
        });
      }
    });
  }

  async delete(ids: string[]): Promise<{ deleted: number }> {
    this.assertOpen();
    return this.serial(async () => {
      const res = await this.store.delete(ids);
      await this.applyChanges();
      return { deleted: res.deleted };
    });
  }

  /**
   * Replay the store's change log since what we have seen: keeps the document table, the lexical
   * index and the vector indexes in step with the store, including writes from other processes.
   * Returns how many passages were (re)indexed.
   */
  private async applyChanges(): Promise<number> {
    let indexed = 0;
    const upsertKeys: number[] = [];
    let maxSeq = this.seenSeq;
    const flushUpserts = async () => {
      if (upsertKeys.length === 0) return;
      const docs = await this.store.getByKeys(upsertKeys.splice(0));
      const passages: Passage[] = [];
      for (const d of docs) {
        const ps = this.passagesOf(d);
        await this.dropPassages(d.key, ps.length);
        this.docs.set(d.key, d.id, d.metadata, ps.length);
        passages.push(...ps);
      }
      await this.lexical.add(passages);
      // Index time for snippets: new passages' sentences are split and analyzed now (while the
      // sentence cache has room) so a search with snippets does not pay for it.
      if (this.snippetSelector)
        for (const p of passages) this.snippetSelector.remember(p.key, p.text, this.analyzer.language);
      if (this.sparse.length) {
        const byKey = new Map(docs.map((d) => [d.key, d]));
        for (const f of this.sparse) await f.indexPassages(passages, (k) => byKey.get(k));
      }
      indexed += passages.length;
    };
    for await (const ch of this.store.changesSince(this.seenSeq)) {
      maxSeq = Math.max(maxSeq, ch.seq);
      if (ch.op === 'delete') {
        await flushUpserts();
        await this.dropPassages(ch.key, 0);
        this.docs.delete(ch.key);
      } else {
        upsertKeys.push(ch.key);
        if (upsertKeys.length >= 500) await flushUpserts();
      }
    }
    await flushUpserts();
    if (maxSeq !== this.seenSeq) {
      this.lexicalDirty = true;
      // In-database indexes now hold everything through maxSeq (see catchUpDatabaseIndexes).
      if (this.backend.createLexicalIndex) await this.store.setMeta(META_KEYS.lexical, { seq: maxSeq });
      for (const f of this.sparse) if (f.inDatabase) await f.persist(maxSeq);
    }
    this.seenSeq = maxSeq;
    return indexed;
  }

  /** Remove a document's old passages beyond `keep` from every index (all of them when keep = 0). */
  private async dropPassages(docKey: number, keep: number): Promise<void> {
    const old = this.docs.passageKeys(docKey);
    if (old.length === 0) return;
    // The lexical index replaces same-key passages itself; only keys that disappear must go.
    const gone = old.filter((k) => chunkOf(k) >= keep);
    if (gone.length) await this.lexical.remove(gone);
    this.snippetSelector?.forget(old);
    for (const f of this.sparse) await f.remove(gone);
    for (const f of this.fields) {
      // Every old vector is stale (the text changed): drop from this process's ANN now, re-embed
      // in sync. A shared in-database index loses only vanished chunks: the others are replaced
      // in place when re-embedded, and a process replaying another's update must not delete the
      // vectors that process has just written.
      await f.index.remove(f.inDatabase ? gone : old);
      if (gone.length) await this.store.deleteVectors(f.name, gone);
    }
  }

  /** Embed everything changed since each field's watermark. */
  async syncVectors(opts: { fit?: boolean } = {}): Promise<void> {
    this.assertOpen();
    return this.serial(() => this.syncVectorsNow(opts.fit ?? false));
  }

  /**
   * Bring every vector field up to what this process has seen. Documents whose vectors another
   * process already wrote (the shared watermark covers their change, same embedder state) are read
   * back from the store; the rest are embedded. `background` work stops early when closing.
   */
  private async syncVectorsNow(forceFit: boolean, background = false): Promise<void> {
    for (const f of this.fields) {
      if (f.needsFit() && (forceFit || this.docs.size >= MIN_FIT_DOCS) && this.docs.size > 0) {
        await f.fit(this.corpusTexts(f));
      }
      if (f.seq === this.seenSeq) continue;
      const shared = await f.sharedSeq();
      const toEmbed: number[] = [];
      const toLoad: number[] = [];
      const imageOf = (p: Passage) => {
        const img = this.docs.get(p.docKey)?.metadata?.['image'];
        return typeof img === 'string' ? img : undefined;
      };
      const flush = async () => {
        if (toLoad.length) {
          const keys = toLoad.splice(0).flatMap((docKey) => this.docs.passageKeys(docKey));
          await f.loadPassages(keys);
        }
        if (toEmbed.length === 0) return;
        const docs = await this.store.getByKeys(toEmbed.splice(0));
        const passages = docs.flatMap((d) => this.passagesOf(d));
        for (let i = 0; i < passages.length; i += 256)
          await f.addPassages(passages.slice(i, i + 256), imageOf);
      };
      const take = async (docKey: number, written: boolean) => {
        (written ? toLoad : toEmbed).push(docKey);
        if (toLoad.length + toEmbed.length >= 256) await flush();
      };
      if (f.seq === 0) {
        for (const [key] of this.docs.entries()) {
          if (background && this.closing) return;
          await take(key, shared >= this.seenSeq);
        }
      } else {
        for await (const ch of this.store.changesSince(f.seq)) {
          if (background && this.closing) return;
          if (ch.op === 'upsert' && this.docs.get(ch.key)) await take(ch.key, ch.seq <= shared);
        }
      }
      await flush();
      await f.setSeq(this.seenSeq);
    }
  }

  /**
   * Vectors behind what this process has seen — another process wrote documents (a server while
   * `quiver add` runs), or a crash left deferred embedding undone — are caught up in the
   * background, in turn with writes; searches meanwhile say so in their warnings.
   */
  private catchUpVectorsInBackground(): void {
    if (this.vectorCatchUp || this.closed || this.closing) return;
    this.vectorCatchUp = this.serial(() => this.syncVectorsNow(false, true))
      .then(
        () => (this.vectorCatchUpError = undefined),
        (e: unknown) => (this.vectorCatchUpError = e instanceof Error ? e.message : String(e)),
      )
      .finally(() => (this.vectorCatchUp = undefined));
  }

  private async *corpusTexts(f: VectorField): AsyncIterable<string> {
    for await (const doc of this.store.scan({ batchSize: 1000 })) {
      for (const p of this.passagesOf(doc)) {
        yield f.config.source === 'title'
          ? p.title
          : f.config.source === 'body'
            ? p.text
            : `${p.title} ${p.text}`;
      }
    }
  }

  /** Finish deferred work and write derived index files (with the store seq they reflect). */
  async flush(opts: { fit?: boolean } = {}): Promise<void> {
    this.assertOpen();
    await this.serial(async () => {
      await this.applyChanges();
      await this.syncVectorsNow(opts.fit ?? true);
      await this.persistNow();
    });
  }

  private async persistNow(): Promise<void> {
    if (this.lexicalDirty && this.lexicalPath && this.lexical instanceof Bm25Index) {
      await this.lexical.save(this.lexicalPath, { watermark: this.seenSeq });
      this.lexicalDirty = false;
    }
    for (const f of this.fields) if (f.seq === this.seenSeq) await f.persist();
    for (const f of this.sparse) await f.persist(this.seenSeq);
  }

  // ─── reads ───────────────────────────────────────────────────────────────────────────────

  get(ids: string[]): Promise<StoredDocument[]> {
    return this.store.get(ids);
  }

  list(opts: { cursor?: string; limit: number }): Promise<ListPage> {
    return this.store.list(opts);
  }

  count(): Promise<number> {
    return this.store.count();
  }

  async stats(): Promise<CollectionStats> {
    const vectorFields = [];
    for (const f of this.fields) {
      vectorFields.push({
        name: f.name,
        model: f.config.model,
        dims: f.dims,
        vectors: f.index.size(),
        quantization: f.config.quantization ?? 'f32',
      });
    }
    return {
      name: this.name,
      documents: await this.store.count(),
      passages: this.docs.passages,
      store: this.backend.kind,
      seq: this.seenSeq,
      vectorFields,
      sparseFields: await Promise.all(
        this.sparse.map(async (f) => ({
          name: f.name,
          model: f.config.model,
          passages: await f.size(),
          terms: await f.vocabularySize(),
        })),
      ),
      analyzer: this.cfg.analyzer,
      bm25: this.cfg.bm25,
      chunking: this.cfg.chunking,
      fusion: this.cfg.fusion,
    };
  }

  async facets(
    fields?: string[],
    opts: { limit?: number } = {},
  ): Promise<Record<string, { value: string; count: number }[]>> {
    await this.catchUp();
    return this.docs.facets(fields, opts.limit ?? 20);
  }

  /** Pick up writes made by another process since we last looked (cheap when there are none). */
  private async catchUp(): Promise<void> {
    const head = await this.store.headSeq();
    if (head !== this.seenSeq) await this.serial(() => this.applyChanges());
  }

  private field(name: string | undefined): VectorField {
    return this.pickField(this.fields, name, {
      kind: 'vector',
      search: 'dense',
      requestField: 'vectorField',
      hint: 'create the collection with a model, e.g. quiver init <name> --model static:glove-100',
    });
  }

  private sparseField(name: string | undefined): SparseField {
    return this.pickField(this.sparse, name, {
      kind: 'sparse',
      search: 'sparse',
      requestField: 'sparseField',
      hint: 'create the collection with a sparse field, e.g. quiver init <name> --sparse splade=user',
    });
  }

  /** The named field of a kind, or its first one when no name is given; typed errors otherwise. */
  private pickField<F extends { name: string }>(
    fields: F[],
    name: string | undefined,
    what: { kind: string; search: string; requestField: string; hint: string },
  ): F {
    if (fields.length === 0) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `collection "${this.name}" has no ${what.kind} field; ${what.search} search needs one`,
        { location: { field: 'mode' }, details: { hint: what.hint } },
      );
    }
    if (!name) return fields[0]!;
    const f = fields.find((x) => x.name === name);
    if (!f) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `no ${what.kind} field "${name}" (have: ${fields.map((x) => x.name).join(', ')})`,
        { location: { field: what.requestField } },
      );
    }
    return f;
  }

  /**
   * The sparse fields a request searches: the named (or first) one for mode sparse; in hybrid every
   * field that can form a query vector (user fields only when the request brings sparseQuery).
   */
  private sparseFieldsFor(
    mode: SearchMode,
    req: Pick<SearchRequest, 'sparseField' | 'sparseQuery'>,
  ): SparseField[] {
    if (mode === 'sparse') return [this.sparseField(req.sparseField)];
    if (mode !== 'hybrid') return [];
    if (req.sparseField !== undefined) return [this.sparseField(req.sparseField)];
    return this.sparse.filter((f) => !f.isUser || req.sparseQuery !== undefined);
  }

  /** Retriever name of a sparse field in fusion and explain ("sparse:<field>"; weights fall back to "sparse"). */
  static sparseListName(field: string): string {
    return `sparse:${field}`;
  }

  async search(req: SearchRequest): Promise<SearchResponse> {
    this.assertOpen();
    const t0 = performance.now();
    const query = typeof req.query === 'string' ? req.query.trim() : '';
    if (!query)
      throw new QuiverError('INVALID_QUERY', 'the query is empty', { location: { field: 'query' } });
    if (query.length > LIMITS.maxQueryChars) {
      throw new QuiverError(
        'LIMIT_EXCEEDED',
        `the query has ${query.length} characters (max ${LIMITS.maxQueryChars})`,
        {
          location: { field: 'query' },
        },
      );
    }
    const k = req.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > LIMITS.maxK) {
      throw new QuiverError('INVALID_ARGUMENT', `k must be an integer in [1, ${LIMITS.maxK}]`, {
        location: { field: 'k' },
      });
    }
    const canFuse = this.fields.length > 0 || this.sparseFieldsFor('hybrid', req).length > 0;
    const mode: SearchMode = req.mode ?? (canFuse ? 'hybrid' : 'lexical');
    if (!['lexical', 'dense', 'hybrid', 'sparse'].includes(mode)) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `mode must be lexical, dense, sparse or hybrid (got "${String(mode)}")`,
        {
          location: { field: 'mode' },
        },
      );
    }
    const sparseFields = this.sparseFieldsFor(mode, req);
    await this.catchUp();

    let filter: CompiledFilter | undefined;
    if (req.filter !== undefined && req.filter !== null) {
      const compiled = compileFilter(req.filter);
      filter = this.backend.createLexicalIndex ? compiled : this.docs.bind(compiled);
    }
    const byDoc = (req.groupBy ?? 'document') === 'document';
    const fusion: FusionOptions = withSparseDefault({ ...this.cfg.fusion, ...(req.fusion ?? {}) });
    // Grouping by document needs headroom: several chunks of one document may rank together.
    const chunky = this.docs.passages > this.docs.size;
    const want = byDoc && chunky ? k * 3 : k;
    const depth = mode === 'hybrid' ? Math.max(want, fusion.candidates ?? LIMITS.defaultCandidates) : want;

    const lists: RankedList[] = [];
    const lexicalHits = new Map<number, ScoredKey>();
    const warnings: string[] = [];
    if (mode === 'lexical' || mode === 'hybrid') {
      const hits = await this.lexical.search(query, depth, {
        ...(filter ? { filter } : {}),
        ...(req.explain ? { explain: true } : {}),
      });
      for (const h of hits) lexicalHits.set(h.key, h);
      lists.push({ name: 'lexical', hits });
    }
    const sparseTerms = new Map<string, Map<number, ScoredKey>>();
    if (sparseFields.length) {
      for (const f of sparseFields) {
        // `filter` is SQL-ready when the backend searches in the database, else bound to the
        // document table; an in-memory sparse index on such a backend needs the bound form.
        const sparseFilter =
          filter && this.backend.createLexicalIndex && !f.inDatabase ? this.docs.bind(filter) : filter;
        const qv = await f.queryVector(query, req.sparseQuery);
        const hits = await f.search(qv, depth, {
          ...(sparseFilter ? { filter: sparseFilter } : {}),
          ...(req.explain ? { explain: true } : {}),
        });
        const name = Collection.sparseListName(f.name);
        sparseTerms.set(name, new Map(hits.map((h) => [h.key, h])));
        lists.push({ name, hits });
      }
    }
    if (mode === 'hybrid') {
      for (const f of this.sparse) {
        if (f.isUser && req.sparseQuery === undefined && req.sparseField === undefined)
          warnings.push(`sparse field "${f.name}" (model user) was skipped: the request has no sparseQuery`);
      }
    }
    // Hybrid over a collection with sparse but no vector fields fuses lexical and sparse only.
    if (mode === 'dense' || (mode === 'hybrid' && (this.fields.length > 0 || this.sparse.length === 0))) {
      const f = this.field(req.vectorField);
      if (f.seq !== this.seenSeq) {
        warnings.push(
          `vector field "${f.name}" is still embedding recent writes` +
            (this.vectorCatchUpError ? ` (last attempt failed: ${this.vectorCatchUpError})` : ''),
        );
        this.catchUpVectorsInBackground();
      }
      const qv = await f.embedQuery(query, req.task);
      const hits = await f.index.search(qv, depth, filter ? { filter } : {});
      lists.push({ name: 'dense', hits });
    }

    let ranked: { key: number; score: number; retrievers: Record<string, RetrieverExplain> }[];
    if (lists.length === 1) {
      const only = lists[0]!;
      ranked = only.hits.map((h, i) => ({
        key: h.key,
        score: h.score,
        retrievers: { [only.name]: { rank: i + 1, score: h.score } },
      }));
    } else {
      ranked = fuse(lists, fusion);
    }
    // Attach lexical term contributions for explain.
    if (req.explain) {
      for (const r of ranked) {
        const terms = lexicalHits.get(r.key)?.terms;
        const lex = r.retrievers['lexical'];
        if (terms && lex) lex.terms = terms;
        for (const [name, byKey] of sparseTerms) {
          const t = byKey.get(r.key)?.terms;
          const ex = r.retrievers[name];
          if (t && ex) ex.terms = t;
        }
      }
    }

    // Group: best passage per document wins. Reranking looks at a deeper pool than k.
    const rerankOpts = req.rerank ? (typeof req.rerank === 'object' ? req.rerank : {}) : undefined;
    const poolSize = rerankOpts ? Math.max(k, rerankOpts.topN ?? 50) : k;
    let picked: ((typeof ranked)[number] & { rerank?: number })[] = [];
    const seenDocs = new Set<number>();
    for (const r of ranked) {
      if (byDoc) {
        const dk = docKeyOf(r.key);
        if (seenDocs.has(dk)) continue;
        seenDocs.add(dk);
      }
      picked.push(r);
      if (picked.length >= poolSize) break;
    }
    if (rerankOpts && picked.length > 1) {
      const reranker = await this.reranker(rerankOpts.model);
      const texts = await this.passageTexts(picked.map((p) => p.key));
      const scores = await reranker.rerank(
        query,
        picked.map((p) => ({ key: p.key, text: texts.get(p.key) ?? '' })),
      );
      // The reranker's view is mixed with the first stage's (both min-max normalised over the
      // pool): an offline reranker adds evidence rather than replacing the retriever's.
      const norm = (xs: number[]) => {
        const lo = Math.min(...xs);
        const hi = Math.max(...xs);
        return xs.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 0));
      };
      const first = norm(picked.map((p) => p.score));
      const second = norm(scores);
      const w = rerankOpts.weight ?? (rerankOpts.model ? 1 : 0.5);
      picked = picked
        .map((p, i) => ({ ...p, rerank: w * second[i]! + (1 - w) * first[i]! }))
        .sort((a, b) => b.rerank - a.rerank || b.score - a.score || a.key - b.key);
    }
    picked = picked.slice(0, k);

    const include = req.includeDocument ?? true;
    const stored = include
      ? new Map(
          (await this.store.getByKeys([...new Set(picked.map((p) => docKeyOf(p.key)))])).map((d) => [
            d.key,
            d,
          ]),
        )
      : new Map<number, StoredDocument>();
    const hits: SearchHit[] = [];
    for (const [i, p] of picked.entries()) {
      const dk = docKeyOf(p.key);
      const entry = this.docs.get(dk);
      const doc = stored.get(dk);
      if (!entry) continue; // deleted between retrieval and hydration
      const hit: SearchHit = { id: entry.id, score: p.rerank ?? p.score, rank: i + 1 };
      if (entry.chunks > 1 || !byDoc) hit.chunk = chunkOf(p.key);
      if (doc) {
        if (doc.title !== undefined) hit.title = doc.title;
        hit.text = doc.text;
        if (doc.metadata) hit.metadata = doc.metadata;
      }
      if (req.explain) {
        hit.explain = {
          retrievers: p.retrievers,
          ...(lists.length > 1 ? { fused: p.score } : {}),
          ...(p.rerank !== undefined ? { rerank: p.rerank } : {}),
        };
      }
      if (req.snippets && doc) {
        const opts = typeof req.snippets === 'object' ? req.snippets : {};
        // The snippet comes from the passage that matched (the best chunk), not the document's start.
        const passage = this.passagesOf(doc).find((x) => x.key === p.key);
        hit.snippet = await this.snippets().snippet(
          query,
          passage?.text ?? doc.text,
          opts,
          this.analyzer.language,
          p.key,
        );
      }
      hits.push(hit);
    }
    return {
      hits,
      mode,
      tookMs: Math.round((performance.now() - t0) * 100) / 100,
      ...(warnings.length ? { warnings } : {}),
    };
  }

  /**
   * The raw ranked lists of every retriever for a query (lexical, and dense for the given field),
   * before fusion — used to tune fusion offline on a training split.
   */
  async rankedLists(
    query: string,
    opts: {
      depth?: number;
      vectorField?: string;
      task?: string;
      sparseQuery?: SearchRequest['sparseQuery'];
    } = {},
  ): Promise<RankedList[]> {
    const depth = opts.depth ?? LIMITS.defaultCandidates;
    await this.catchUp();
    const lists: RankedList[] = [{ name: 'lexical', hits: await this.lexical.search(query, depth) }];
    if (this.fields.length) {
      const f = this.field(opts.vectorField);
      const qv = await f.embedQuery(query, opts.task);
      lists.push({ name: 'dense', hits: await f.index.search(qv, depth) });
    }
    // Every sparse field that can form a query vector (user fields need the query's vector).
    for (const f of this.sparseFieldsFor(
      'hybrid',
      opts.sparseQuery !== undefined ? { sparseQuery: opts.sparseQuery } : {},
    )) {
      const qv = await f.queryVector(query, opts.sparseQuery);
      lists.push({ name: Collection.sparseListName(f.name), hits: await f.search(qv, depth, {}) });
    }
    return lists;
  }

  /** Documents for passage keys, keyed by passage key (for mapping raw retriever lists to ids). */
  async getByPassageKeys(keys: number[]): Promise<{ key: number; id: string }[]> {
    const out: { key: number; id: string }[] = [];
    for (const k of keys) {
      const e = this.docs.get(docKeyOf(k));
      if (e) out.push({ key: k, id: e.id });
    }
    return out;
  }

  private snippetSelector: SnippetSelector | undefined;
  /** Sentence selection with the collection's analyzer and its BM25 idf. */
  private snippets(): SnippetSelector {
    if (!this.snippetSelector) {
      const lex = this.lexical;
      const idf = lex instanceof Bm25Index ? (t: string) => lex.idf(t) : () => 1;
      this.snippetSelector = new SnippetSelector(this.analyzer, idf);
    }
    return this.snippetSelector;
  }

  private readonly rerankers = new Map<string, Promise<Reranker>>();
  /**
   * Rerankers by name: default = the offline similarity reranker (the collection's analyzer and
   * BM25 idf); "cross-encoder:<folder>" = a local ONNX cross-encoder; "http(s)://…/rerank" = remote.
   */
  private reranker(model?: string): Promise<Reranker> {
    const name = model ?? 'similarity';
    let r = this.rerankers.get(name);
    if (!r) {
      r = (async (): Promise<Reranker> => {
        if (name === 'similarity') {
          const lex = this.lexical;
          return new SimilarityReranker(
            this.analyzer,
            lex instanceof Bm25Index ? (t) => lex.idf(t) : () => 1,
          );
        }
        if (name.startsWith('cross-encoder:')) {
          const { CrossEncoderReranker } = await import('../rerank/cross-encoder.js');
          return CrossEncoderReranker.load(name.slice('cross-encoder:'.length));
        }
        if (/^https?:\/\//.test(name)) {
          const { RemoteReranker } = await import('../rerank/remote.js');
          return new RemoteReranker({
            url: name,
            ...(process.env.QUIVER_RERANK_KEY ? { apiKey: process.env.QUIVER_RERANK_KEY } : {}),
          });
        }
        throw new QuiverError(
          'INVALID_ARGUMENT',
          `unknown reranker "${name}" (use similarity, cross-encoder:<folder> or an http(s) /rerank URL)`,
          {
            location: { field: 'rerank.model' },
          },
        );
      })();
      this.rerankers.set(name, r);
      r.catch(() => this.rerankers.delete(name));
    }
    return r;
  }

  /** Text of passages by key (title + chunk text), for reranking. */
  private async passageTexts(keys: number[]): Promise<Map<number, string>> {
    const docs = await this.store.getByKeys([...new Set(keys.map(docKeyOf))]);
    const out = new Map<number, string>();
    const want = new Set(keys);
    for (const d of docs)
      for (const p of this.passagesOf(d))
        if (want.has(p.key)) out.set(p.key, p.title ? `${p.title} ${p.text}` : p.text);
    return out;
  }

  /** Passage text for a hit (chunk-level results, snippets). */
  async passage(id: string, chunk = 0): Promise<Passage | undefined> {
    const [doc] = await this.store.get([id]);
    if (!doc) return undefined;
    return this.passagesOf(doc).find((p) => p.key === passageKey(doc.key, chunk));
  }

  private readonly semanticIdIndexes = new Map<string, SemanticIdIndex>();
  /**
   * Balanced semantic IDs over a vector field's document vectors (src/ids/collection-ids.ts):
   * fitted explicitly, stored in the collection's meta, new documents coded on read.
   */
  async semanticIds(fieldName?: string): Promise<SemanticIdIndex> {
    this.assertOpen();
    await this.catchUp();
    const f = this.field(fieldName);
    let ix = this.semanticIdIndexes.get(f.name);
    if (!ix) {
      ix = new SemanticIdIndex({
        collection: this.name,
        field: f.name,
        metric: f.config.metric ?? 'cos',
        fingerprint: () => f.embedder.fingerprint,
        vectorSeq: () => f.seq,
        store: this.store,
        idOf: (key) => this.docs.get(key)?.id,
        passageKeys: (key) => this.docs.passageKeys(key),
      });
      this.semanticIdIndexes.set(f.name, ix);
    }
    return ix;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await this.serial(() => this.persistNow());
    for (const f of this.fields) f.close();
    for (const r of this.rerankers.values()) await (await r.catch(() => undefined))?.close?.();
    this.closed = true;
    await this.store.close();
  }

  /** Delete derived files (the store is dropped by the backend). */
  async removeDerivedFiles(): Promise<void> {
    if (this.lexicalPath) await rm(this.lexicalPath, { force: true });
    for (const f of this.sparse) await f.removeFile();
  }
}
