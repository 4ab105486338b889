/**
 * The storage conformance suite: every StorageBackend (SQLite, Postgres, …) runs these same tests
 * through the interfaces in ./store.ts only, so the engine can rely on one behaviour.
 *
 * Usage, in a backend's test file:
 *   runStoreConformance('sqlite', async () => { const b = await openSqliteBackend(dir); return { backend: b, cleanup } });
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import type { CollectionConfig, QuiverDocument, StoredDocument } from '../types.js';
import { DEFAULT_COLLECTION_CONFIG, passageKey } from '../types.js';
import type { Change, CollectionStore, StorageBackend, StoredVector } from './store.js';

export interface StoreFixture {
  backend: StorageBackend;
  cleanup(): Promise<void>;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Asserts the promise rejects with a QuiverError of this code; returns it for further checks. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<QuiverError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof QuiverError, `expected a QuiverError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
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

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

const config = (over: Partial<CollectionConfig> = {}): CollectionConfig => ({
  ...structuredClone(DEFAULT_COLLECTION_CONFIG),
  ...over,
});

export function runStoreConformance(label: string, factory: () => Promise<StoreFixture>): void {
  describe(`store conformance: ${label}`, () => {
    let fx: StoreFixture;
    let backend: StorageBackend;
    let n = 0;
    /** A fresh, uniquely named collection per test so tests do not see each other's writes. */
    const fresh = async (cfg = config()): Promise<CollectionStore> =>
      backend.createCollection(`conf_${Date.now().toString(36)}_${n++}`, cfg);

    before(async () => {
      fx = await factory();
      backend = fx.backend;
    });
    after(async () => {
      await backend.close();
      await fx.cleanup();
    });

    it('creates, lists, opens and drops collections with clear errors', async () => {
      const name = `coll_${Date.now().toString(36)}`;
      await backend.createCollection(name, config());
      assert.ok((await backend.listCollections()).includes(name));
      await rejectsWith(backend.createCollection(name, config()), 'COLLECTION_EXISTS');
      await rejectsWith(backend.openCollection(`${name}_missing`), 'COLLECTION_NOT_FOUND');
      await rejectsWith(backend.createCollection('bad name!', config()), 'INVALID_ARGUMENT');
      await rejectsWith(backend.createCollection('../escape', config()), 'INVALID_ARGUMENT');
      const again = await backend.openCollection(name);
      assert.equal(again.name, name);
      await again.close();
      await backend.dropCollection(name);
      assert.ok(!(await backend.listCollections()).includes(name));
      await rejectsWith(backend.openCollection(name), 'COLLECTION_NOT_FOUND');
      await rejectsWith(backend.dropCollection(name), 'COLLECTION_NOT_FOUND');
      // The name is free again, and the new collection starts empty.
      const reborn = await backend.createCollection(name, config());
      assert.equal(await reborn.count(), 0);
      assert.equal(await reborn.headSeq(), 0);
      await backend.dropCollection(name);
    });

    it('round-trips the collection config, also through a reopen', async () => {
      const cfg = config({
        analyzer: { language: 'fr', stopwords: ['le', 'la'], stemming: false },
        vectors: [{ name: 'dense', model: 'intfloat/e5-small-v2', metric: 'cos', dims: 384 }],
      });
      const s = await fresh(cfg);
      assert.deepEqual(await s.getConfig(), cfg);
      const changed = { ...cfg, bm25: { k1: 1.2, b: 0.75 } };
      await s.setConfig(changed);
      assert.deepEqual(await s.getConfig(), changed);
      await s.close();
      const reopened = await backend.openCollection(s.name);
      assert.deepEqual(await reopened.getConfig(), changed);
    });

    it('upserts, gets and replaces documents keeping the key and advancing seq', async () => {
      const s = await fresh();
      assert.equal(await s.headSeq(), 0);
      const first = await s.upsert([
        {
          id: 'a',
          text: 'alpha text',
          title: 'Alpha',
          metadata: { year: 2020, tags: ['x', 'y'], nested: { ok: true } },
        },
        { id: 'b', text: 'beta text' },
        { id: 'c', text: '' },
      ]);
      assert.equal(first.keys.length, 3);
      assert.equal(new Set(first.keys).size, 3, 'keys are distinct');
      assert.equal(first.inserted, 3);
      assert.equal(first.updated, 0);
      assert.ok(first.seq > 0);
      assert.equal(await s.headSeq(), first.seq);
      assert.equal(await s.count(), 3);

      const [a, b, c] = await s.get(['a', 'b', 'c']);
      assert.deepEqual(
        { id: a!.id, text: a!.text, title: a!.title, metadata: a!.metadata, key: a!.key, seq: a!.seq },
        {
          id: 'a',
          text: 'alpha text',
          title: 'Alpha',
          metadata: { year: 2020, tags: ['x', 'y'], nested: { ok: true } },
          key: first.keys[0],
          seq: first.seq,
        },
      );
      assert.equal(b!.title, undefined, 'an absent title stays absent');
      assert.equal(b!.metadata, undefined, 'absent metadata stays absent');
      assert.equal(c!.text, '', 'empty text is a valid text');

      const second = await s.upsert([
        { id: 'b', text: 'beta replaced', title: 'Beta' },
        { id: 'd', text: 'delta' },
      ]);
      assert.equal(second.keys[0], first.keys[1], 'a replaced document keeps its key');
      assert.ok(!first.keys.includes(second.keys[1]!), 'a new document gets a new key');
      assert.equal(second.inserted, 1);
      assert.equal(second.updated, 1);
      assert.ok(second.seq > first.seq, 'seq increases');
      const [b2] = await s.get(['b']);
      assert.equal(b2!.text, 'beta replaced');
      assert.equal(b2!.title, 'Beta');
      assert.equal(b2!.key, first.keys[1]);
      assert.equal(b2!.seq, second.seq);
      const [a2] = await s.get(['a']);
      assert.equal(a2!.seq, first.seq, 'an untouched document keeps its seq');

      // Replacing drops fields that are not given again.
      await s.upsert([{ id: 'a', text: 'alpha 2' }]);
      const [a3] = await s.get(['a']);
      assert.equal(a3!.title, undefined);
      assert.equal(a3!.metadata, undefined);
      assert.equal(await s.count(), 4);
    });

    it('returns keys in input order, one per input, when a batch repeats an id (last wins)', async () => {
      const s = await fresh();
      const res = await s.upsert([
        { id: 'x', text: 'one' },
        { id: 'y', text: 'y' },
        { id: 'x', text: 'two' },
      ]);
      assert.equal(res.keys.length, 3);
      assert.equal(res.keys[0], res.keys[2]);
      assert.equal(res.inserted, 2);
      const [x] = await s.get(['x']);
      assert.equal(x!.text, 'two');
      assert.equal(await s.count(), 2);
    });

    it('writes nothing of a batch that holds one invalid document, naming the field', async () => {
      const s = await fresh();
      await s.upsert([{ id: 'keep', text: 'kept' }]);
      const seq = await s.headSeq();
      const good = (id: string): QuiverDocument => ({ id, text: `text of ${id}` });
      const bad: [unknown, string][] = [
        [{ id: '', text: 't' }, 'id'],
        [{ id: 42, text: 't' }, 'id'],
        [{ id: 'x'.repeat(513), text: 't' }, 'id'],
        [{ id: 'no-text' }, 'text'],
        [{ id: 'num-text', text: 7 }, 'text'],
        [{ id: 'num-title', text: 't', title: 3 }, 'title'],
        [{ id: 'arr-meta', text: 't', metadata: [1, 2] }, 'metadata'],
        [{ id: 'str-meta', text: 't', metadata: 'x' }, 'metadata'],
        [{ id: 'sp-arr', text: 't', sparse: [1] }, 'sparse'],
        [{ id: 'sp-vec', text: 't', sparse: { s: 5 } }, 'sparse.s'],
        [{ id: 'sp-nan', text: 't', sparse: { s: { a: NaN } } }, 'sparse.s.a'],
        [{ id: 'sp-inf', text: 't', sparse: { s: { a: Infinity } } }, 'sparse.s.a'],
        [{ id: 'sp-neg', text: 't', sparse: { s: { a: -0.5 } } }, 'sparse.s.a'],
        [{ id: 'sp-str', text: 't', sparse: { s: { a: '1' } } }, 'sparse.s.a'],
        [{ id: 'sp-huge', text: 't', sparse: { s: { a: 1e300 } } }, 'sparse.s.a'],
        [{ id: 'sp-empty-term', text: 't', sparse: { s: { '': 1 } } }, 'sparse.s'],
      ];
      for (const [doc, field] of bad) {
        const batch = [good('g1'), doc as QuiverDocument, good('g2'), { id: 'keep', text: 'overwritten?' }];
        const err = await rejectsWith(s.upsert(batch), 'INVALID_DOCUMENT');
        assert.ok(
          err.location.field?.startsWith(field),
          `field for ${JSON.stringify(doc).slice(0, 60)}: ${err.location.field}`,
        );
      }
      assert.equal(await s.count(), 1);
      assert.equal(await s.headSeq(), seq, 'a rejected batch does not advance seq');
      assert.deepEqual(await s.get(['g1', 'g2']), []);
      assert.equal((await s.get(['keep']))[0]!.text, 'kept');
      // An id of exactly 512 characters is fine.
      await s.upsert([{ id: 'y'.repeat(512), text: 'long id' }]);
      assert.equal((await s.get(['y'.repeat(512)]))[0]!.text, 'long id');
    });

    it('deletes documents and all their passage vectors, reporting what existed', async () => {
      const s = await fresh();
      const { keys } = await s.upsert([
        { id: 'a', text: 'a' },
        { id: 'b', text: 'b' },
        { id: 'c', text: 'c' },
      ]);
      const [ka, kb] = keys as [number, number, number];
      const v = (x: number) => new Float32Array([x, x + 1, x + 2]);
      for (const field of ['dense', 'other']) {
        await s.putVectors(field, [
          { key: passageKey(ka, 0), vector: v(1) },
          { key: passageKey(ka, 3), vector: v(2) },
          { key: passageKey(ka, 65535), vector: v(3) },
          { key: passageKey(kb, 0), vector: v(4) },
        ]);
      }
      const before = await s.headSeq();
      const res = await s.delete(['a', 'missing', 'a']);
      assert.equal(res.deleted, 1);
      assert.deepEqual(res.keys, [ka]);
      assert.ok(res.seq > before);
      assert.deepEqual(await s.get(['a']), []);
      assert.deepEqual(await s.getByKeys([ka]), []);
      assert.equal(await s.count(), 2);
      for (const field of ['dense', 'other']) {
        assert.equal(await s.countVectors(field), 1, `${field}: only b's vector is left`);
        assert.equal((await s.getVectors(field, [passageKey(kb, 0)])).length, 1);
      }
      const none = await s.delete(['missing']);
      assert.equal(none.deleted, 0);
      assert.equal(none.seq, await s.headSeq(), 'a delete of nothing does not advance seq');
    });

    it('gets by ids and by keys in request order, leaving missing ones out', async () => {
      const s = await fresh();
      const { keys } = await s.upsert(['p', 'q', 'r'].map((id) => ({ id, text: id })));
      assert.deepEqual(
        (await s.get(['r', 'nope', 'p'])).map((d) => d.id),
        ['r', 'p'],
      );
      assert.deepEqual(
        (await s.getByKeys([keys[1]!, 999_999, keys[0]!])).map((d) => d.id),
        ['q', 'p'],
      );
      assert.deepEqual(await s.get([]), []);
      assert.deepEqual(await s.getByKeys([]), []);
      // More ids than one SQL parameter list holds.
      const many = Array.from({ length: 1200 }, (_, i) => `m${i}`);
      await s.upsert(many.map((id) => ({ id, text: id })));
      assert.equal((await s.get(many)).length, 1200);
    });

    it('pages through every id exactly once, in id order', async () => {
      const s = await fresh();
      const r = rng(7);
      const ids = Array.from({ length: 250 }, (_, i) => `doc-${Math.floor(r() * 1e6)}-${i}`);
      ids.push('Ä-umlaut', 'z', 'a', '日本', '😀');
      await s.upsert(ids.map((id) => ({ id, text: id })));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s.list({ limit: 37, ...(cursor !== undefined ? { cursor } : {}) });
        assert.ok(page.docs.length <= 37);
        seen.push(...page.docs.map((d) => d.id));
        cursor = page.next;
        pages++;
        assert.ok(pages < 100, 'paging terminates');
      } while (cursor !== undefined);
      assert.equal(seen.length, ids.length);
      assert.equal(new Set(seen).size, ids.length, 'no id twice');
      assert.deepEqual(new Set(seen), new Set(ids));
      for (let i = 1; i < seen.length; i++) {
        assert.ok(
          Buffer.compare(Buffer.from(seen[i - 1]!), Buffer.from(seen[i]!)) < 0,
          'ids come in (byte) order',
        );
      }
      const empty = await fresh();
      assert.deepEqual(await empty.list({ limit: 10 }), { docs: [] });
    });

    it('scans every document once, in key order, in small batches', async () => {
      const s = await fresh();
      const docs = Array.from({ length: 103 }, (_, i) => ({ id: `s${i}`, text: `text ${i}` }));
      await s.upsert(docs.slice(0, 50));
      await s.upsert(docs.slice(50));
      await s.delete(['s10']);
      const scanned: StoredDocument[] = await collect(s.scan({ batchSize: 7 }));
      assert.equal(scanned.length, 102);
      assert.equal(new Set(scanned.map((d) => d.id)).size, 102);
      for (let i = 1; i < scanned.length; i++) assert.ok(scanned[i - 1]!.key < scanned[i]!.key);
      assert.ok(!scanned.some((d) => d.id === 's10'));
      assert.equal(scanned.find((d) => d.id === 's77')!.text, 'text 77');
      assert.equal((await collect(s.scan())).length, 102);
    });

    it('reports changes since a seq: each document once with its latest op, in seq order', async () => {
      const s = await fresh();
      const r1 = await s.upsert([
        { id: 'a', text: 'a1' },
        { id: 'b', text: 'b1' },
        { id: 'c', text: 'c1' },
      ]);
      const r2 = await s.upsert([{ id: 'a', text: 'a2' }]);
      const r3 = await s.delete(['b']);
      const r4 = await s.upsert([{ id: 'd', text: 'd1' }]);
      const all = await collect(s.changesSince(0));
      const byId = new Map(all.map((c) => [c.id, c]));
      assert.equal(all.length, 4, JSON.stringify(all));
      assert.equal(byId.size, 4, 'each id once');
      assert.deepEqual(byId.get('a'), { seq: r2.seq, id: 'a', key: r1.keys[0], op: 'upsert' });
      assert.deepEqual(byId.get('b'), { seq: r3.seq, id: 'b', key: r1.keys[1], op: 'delete' });
      assert.deepEqual(byId.get('c'), { seq: r1.seq, id: 'c', key: r1.keys[2], op: 'upsert' });
      assert.deepEqual(byId.get('d'), { seq: r4.seq, id: 'd', key: r4.keys[0], op: 'upsert' });
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.seq <= all[i]!.seq, 'seq order');
      assert.deepEqual(
        (await collect(s.changesSince(r2.seq))).map((c) => [c.id, c.op]),
        [
          ['b', 'delete'],
          ['d', 'upsert'],
        ],
      );
      assert.deepEqual(await collect(s.changesSince(r4.seq)), []);

      // A deleted id that comes back: a reader that last saw seq r2 must end with exactly the
      // current key for b, whichever way the backend reports it.
      const r5 = await s.upsert([{ id: 'b', text: 'b2' }]);
      const known = new Map<string, number>([
        ['a', r1.keys[0]!],
        ['b', r1.keys[1]!],
        ['c', r1.keys[2]!],
      ]);
      const keys = new Set(known.values());
      const replay: Change[] = await collect(s.changesSince(r2.seq));
      for (const ch of replay) {
        if (ch.op === 'delete') keys.delete(ch.key);
        else {
          const old = known.get(ch.id);
          if (old !== undefined && old !== ch.key)
            assert.fail('a returning id with a new key needs a delete of the old key');
          keys.add(ch.key);
          known.set(ch.id, ch.key);
        }
      }
      assert.ok(keys.has(r5.keys[0]!));
      const current = new Set((await collect(s.scan())).map((d) => d.key));
      assert.deepEqual(keys, current, 'replaying the change log yields exactly the stored keys');
    });

    it('pages the change log past thousands of changes in one batch', async () => {
      const s = await fresh();
      const docs = Array.from({ length: 6100 }, (_, i) => ({ id: `k${i}`, text: 't' }));
      const res = await s.upsert(docs);
      const changes = await collect(s.changesSince(0));
      assert.equal(changes.length, 6100);
      assert.equal(new Set(changes.map((c) => c.key)).size, 6100);
      assert.ok(changes.every((c) => c.seq === res.seq && c.op === 'upsert'));
    });

    it('stores vectors bit-exactly per field with upsert semantics, scan, get, delete and count', async () => {
      const s = await fresh();
      const r = rng(42);
      const dims = 384;
      const make = () => {
        const v = new Float32Array(dims);
        for (let i = 0; i < dims; i++) v[i] = (r() - 0.5) * 10 ** Math.floor(r() * 10 - 5);
        return v;
      };
      const special = new Float32Array([-0, 0, 1e-45, -3.4028234663852886e38, Number.MIN_VALUE, 1 / 3]);
      const items: StoredVector[] = [
        { key: passageKey(1, 0), vector: make() },
        { key: passageKey(2, 0), vector: make() },
        { key: passageKey(1, 1), vector: make() },
        { key: 7, vector: special },
      ];
      // A view into a larger buffer must store only its own bytes.
      const big = make();
      items.push({ key: 9, vector: big.subarray(10, 20) });
      await s.putVectors('dense', items);
      assert.equal(await s.countVectors('dense'), 5);
      assert.equal(await s.countVectors('sparse'), 0);

      const got = await s.getVectors('dense', [9, passageKey(2, 0), 123456, 7]);
      assert.deepEqual(
        got.map((g) => g.key),
        [9, passageKey(2, 0), 7],
      );
      assert.ok(sameBits(got[0]!.vector, big.subarray(10, 20)));
      assert.ok(sameBits(got[1]!.vector, items[1]!.vector));
      assert.ok(sameBits(got[2]!.vector, special));
      assert.ok(Object.is(got[2]!.vector[0], -0), 'negative zero survives');

      const scanned = await collect(s.scanVectors('dense'));
      assert.deepEqual(
        scanned.map((x) => x.key),
        [...items.map((i) => i.key)].sort((a, b) => a - b),
      );
      for (const x of scanned) assert.ok(sameBits(x.vector, items.find((i) => i.key === x.key)!.vector));

      const replacement = make();
      await s.putVectors('dense', [{ key: 7, vector: replacement }]);
      assert.equal(await s.countVectors('dense'), 5);
      assert.ok(sameBits((await s.getVectors('dense', [7]))[0]!.vector, replacement));

      await s.putVectors('title', [{ key: 7, vector: special }]);
      await s.deleteVectors('dense', [7, 9, 424242]);
      assert.equal(await s.countVectors('dense'), 3);
      assert.equal(await s.countVectors('title'), 1, 'other fields are untouched');
      assert.deepEqual(await s.getVectors('dense', [7]), []);
      await s.putVectors('dense', []);
      await s.deleteVectors('dense', []);
    });

    it('keeps small named JSON meta values', async () => {
      const s = await fresh();
      assert.equal(await s.getMeta('nothing'), undefined);
      const value = { weights: [0.1, 0.25], name: 'sif', nested: { n: null, ok: false }, unicode: 'é😀' };
      await s.setMeta('sif', value);
      assert.deepEqual(await s.getMeta('sif'), value);
      await s.setMeta('sif', 3);
      assert.equal(await s.getMeta('sif'), 3);
      await s.setMeta('watermark', 'x');
      await s.setMeta('flag', null);
      assert.equal(await s.getMeta('flag'), null, 'a stored null is not a missing key');
      assert.equal(await s.getMeta('watermark'), 'x');
      // Meta is not the config and not documents.
      assert.equal(await s.count(), 0);
      assert.deepEqual(await s.getConfig(), config());
      await s.setMeta('config', { not: 'the config' });
      assert.deepEqual(await s.getConfig(), config());
    });

    it('round-trips unicode ids, titles, text and metadata', async () => {
      const s = await fresh();
      const docs: QuiverDocument[] = [
        {
          id: '日本語/ドキュメント',
          title: 'Überschrift — «titre»',
          text: 'Ünïcödé 😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 עברית العربية',
        },
        {
          id: '😀',
          text: 'e\u0301 (combining) vs é (precomposed)',
          metadata: { clé: 'valeur', emoji: ['🎉'] },
        },
        { id: 'e\u0301', text: 'decomposed id' },
        { id: 'é', text: 'precomposed id' },
        { id: 'quote\'"\\back\\slash', text: 'line1\nline2\r\n\ttab' },
      ];
      await s.upsert(docs);
      const got = await s.get(docs.map((d) => d.id));
      assert.equal(got.length, docs.length, 'ids are not normalised: é and e\u0301 are two documents');
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i]!;
        const g = got[i]!;
        assert.equal(g.id, d.id);
        assert.equal(g.text, d.text);
        assert.equal(g.title, d.title);
        assert.deepEqual(g.metadata, d.metadata);
      }
    });

    it('round-trips a 50 MB document', async () => {
      const s = await fresh();
      const unit = 'The quick brown fox jumps over the lazy dog — ünïcödé 😀. ';
      const text = unit.repeat(Math.ceil((50 * 2 ** 20) / Buffer.byteLength(unit)));
      assert.ok(Buffer.byteLength(text) >= 50 * 2 ** 20);
      await s.upsert([{ id: 'huge', text, title: 'Huge' }]);
      const [got] = await s.get(['huge']);
      assert.equal(got!.text.length, text.length);
      assert.ok(got!.text === text, 'identical text');
      await s.delete(['huge']);
      assert.equal(await s.count(), 0);
    });

    it('round-trips user-supplied sparse vectors through get, getByKeys, list, scan, update and reopen', async () => {
      const s = await fresh();
      const sparse = {
        splade: { otter: 1.25, '##ase': 0.5, clé: 2, zero: 0, tiny: 1e-9 },
        other: { 'term with spaces': 3 },
      };
      const { keys } = await s.upsert([
        { id: 'sp', text: 'with sparse', sparse },
        { id: 'plain', text: 'without' },
      ]);
      const [got] = await s.get(['sp']);
      assert.deepEqual(got!.sparse, sparse);
      assert.deepEqual((await s.getByKeys([keys[0]!]))[0]!.sparse, sparse);
      assert.deepEqual((await s.list({ limit: 10 })).docs.find((d) => d.id === 'sp')!.sparse, sparse);
      const scanned = await collect(s.scan({ batchSize: 1 }));
      assert.deepEqual(scanned.find((d) => d.id === 'sp')!.sparse, sparse);
      assert.equal(scanned.find((d) => d.id === 'plain')!.sparse, undefined, 'absent stays absent');
      // An update replaces the vectors; an update without them removes them.
      await s.upsert([{ id: 'sp', text: 'with sparse', sparse: { splade: { seal: 4 } } }]);
      assert.deepEqual((await s.get(['sp']))[0]!.sparse, { splade: { seal: 4 } });
      await s.upsert([{ id: 'plain', text: 'now with', sparse: { splade: { fish: 0.75 } } }]);
      await s.upsert([{ id: 'sp', text: 'dropped' }]);
      assert.equal((await s.get(['sp']))[0]!.sparse, undefined);
      await s.close();
      const again = await backend.openCollection(s.name);
      assert.deepEqual((await again.get(['plain']))[0]!.sparse, { splade: { fish: 0.75 } });
    });

    it('keeps data across close and reopen', async () => {
      const s = await fresh();
      const { keys, seq } = await s.upsert([{ id: 'persist', text: 'stays', metadata: { n: 1 } }]);
      await s.putVectors('dense', [{ key: passageKey(keys[0]!, 0), vector: new Float32Array([1.5, -2]) }]);
      await s.setMeta('m', { v: 1 });
      await s.close();
      const again = await backend.openCollection(s.name);
      const [d] = await again.get(['persist']);
      assert.equal(d!.key, keys[0]);
      assert.equal(d!.text, 'stays');
      assert.equal(await again.headSeq(), seq);
      assert.deepEqual(await again.getMeta('m'), { v: 1 });
      assert.equal(await again.countVectors('dense'), 1);
      // Keys keep growing after a reopen: a new document never reuses a key.
      const more = await again.upsert([{ id: 'next', text: 'n' }]);
      assert.ok(more.keys[0]! > keys[0]!);
    });

    it('never reuses the key of a deleted document for another id', async () => {
      const s = await fresh();
      const { keys } = await s.upsert([
        { id: 'a', text: 'a' },
        { id: 'b', text: 'b' },
      ]);
      await s.delete(['b']);
      const res = await s.upsert([{ id: 'c', text: 'c' }]);
      assert.ok(!keys.includes(res.keys[0]!), 'c must not take b’s key: derived indexes may still hold it');
    });
  });
}
