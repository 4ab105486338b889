/**
 * Learned-sparse retrieval end to end with user-supplied vectors, run against every storage
 * backend (test/sparse.test.ts: SQLite data directory; test/sparse.pg.test.ts: Postgres via
 * PGlite): upsert, search, explain, filters, update, delete, hybrid fusion with sparse, restart.
 * Expected rankings are computed here by brute-force dot products, never hard-coded.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Quiver } from '../src/engine/quiver.js';
import { QuiverError } from '../src/errors.js';
import { tempDir } from '../src/testing/paths.js';
import type { QuiverDocument, SearchHit, SparseVector } from '../src/types.js';

/** Vectors with expansion terms that the text does not contain, as SPLADE produces. */
export const SPARSE_DOCS: QuiverDocument[] = [
  {
    id: 'otters',
    title: 'River otters',
    text: 'Otters are mammals that swim in rivers and eat fish.',
    metadata: { topic: 'animals' },
    sparse: { splade: { otter: 2.1, mammal: 1.4, river: 1.2, fish: 0.6, wildlife: 0.9 } },
  },
  {
    id: 'bees',
    title: 'Honeybees',
    text: 'Bees dance to tell other bees where the flowers are.',
    metadata: { topic: 'animals' },
    sparse: { splade: { bee: 2.4, pollination: 1.7, flower: 1.1, insect: 1.3, wildlife: 0.4 } },
  },
  {
    id: 'bread',
    title: 'Sourdough',
    text: 'Sourdough bread rises with wild yeast and bacteria.',
    metadata: { topic: 'cooking' },
    sparse: { splade: { bread: 2.2, yeast: 1.6, fermentation: 1.9, baking: 1.2 } },
  },
  {
    id: 'coffee',
    title: 'Espresso',
    text: 'Espresso forces hot water through finely ground coffee.',
    metadata: { topic: 'cooking' },
    sparse: { splade: { espresso: 2.3, coffee: 2.0, caffeine: 1.8, drink: 1.0, brewing: 1.1 } },
  },
  {
    id: 'kombucha',
    title: 'Kombucha',
    text: 'Sweet tea left to sour with a culture of bacteria.',
    metadata: { topic: 'cooking' },
    sparse: { splade: { tea: 2.0, fermentation: 2.2, drink: 1.3, caffeine: 0.5 } },
  },
  {
    id: 'plain',
    title: 'No vector',
    text: 'A document about fish and bread that has no sparse vector.',
    metadata: { topic: 'animals' },
  },
];

/** Brute-force dot-product ranking over the documents' current vectors. */
function expected(
  docs: QuiverDocument[],
  q: SparseVector,
  filter?: (d: QuiverDocument) => boolean,
): string[] {
  return docs
    .filter((d) => !filter || filter(d))
    .map((d) => {
      const v = d.sparse?.['splade'] ?? {};
      let s = 0;
      let shared = false;
      for (const [t, w] of Object.entries(q)) {
        if (v[t] !== undefined && v[t]! > 0) {
          s += w * v[t]!;
          shared = true;
        }
      }
      return { id: d.id, s, shared };
    })
    .filter((x) => x.shared)
    .sort((a, b) => b.s - a.s)
    .map((x) => x.id);
}

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof QuiverError, String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.location.field, field, e.message);
    return;
  }
  assert.fail(`expected ${code}`);
}

export function runSparseScenario(
  label: string,
  open: (dataDir: string) => Promise<Quiver>,
  opts: { snapshots: boolean },
): void {
  describe(`learned-sparse retrieval end to end (${label})`, () => {
    it('indexes user vectors, ranks by dot product, explains, filters, updates, deletes and survives a restart', async () => {
      const t = tempDir();
      let q = await open(t.dir);
      try {
        const c = await q.createCollection('sp', { sparse: [{ name: 'splade', model: 'user' }] });
        await c.upsert(SPARSE_DOCS);
        let docs = structuredClone(SPARSE_DOCS);

        const query = { caffeine: 1, drink: 0.5, fermentation: 0.3 };
        const res = await c.search({
          query: 'a warm morning drink',
          mode: 'sparse',
          sparseQuery: query,
          k: 10,
          explain: true,
        });
        assert.equal(res.mode, 'sparse');
        assert.deepEqual(
          res.hits.map((h) => h.id),
          expected(docs, query),
        );
        // Per-term contributions add up to the score.
        const top = res.hits[0]!;
        const terms = top.explain!.retrievers['sparse:splade']!.terms!;
        assert.ok(Object.keys(terms).length > 1);
        const sum = Object.values(terms).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - top.score) < 1e-4, `${sum} vs ${top.score}`);

        // Filters apply inside retrieval.
        const filtered = await c.search({
          query: 'x',
          mode: 'sparse',
          sparseQuery: { wildlife: 1, drink: 1 },
          filter: { topic: 'animals' },
          k: 10,
        });
        assert.deepEqual(
          filtered.hits.map((h) => h.id),
          expected(docs, { wildlife: 1, drink: 1 }, (d) => d.metadata?.['topic'] === 'animals'),
        );
        assert.ok(filtered.hits.length > 0);

        // Update: new vector replaces the old; a document updated without one leaves the sparse index.
        await c.upsert([
          { ...SPARSE_DOCS[1]!, sparse: { splade: { caffeine: 5 } } },
          { ...SPARSE_DOCS[3]!, sparse: undefined },
        ]);
        docs = docs.map((d) =>
          d.id === 'bees'
            ? { ...d, sparse: { splade: { caffeine: 5 } } }
            : d.id === 'coffee'
              ? { ...d, sparse: undefined }
              : d,
        );
        const afterUpdate = await c.search({ query: 'x', mode: 'sparse', sparseQuery: query, k: 10 });
        assert.deepEqual(
          afterUpdate.hits.map((h) => h.id),
          expected(docs, query),
        );
        assert.equal(afterUpdate.hits[0]!.id, 'bees');
        assert.ok(!afterUpdate.hits.some((h) => h.id === 'coffee'));

        // Delete: never returned again.
        await c.delete(['bees']);
        docs = docs.filter((d) => d.id !== 'bees');
        const afterDelete = await c.search({ query: 'x', mode: 'sparse', sparseQuery: query, k: 10 });
        assert.deepEqual(
          afterDelete.hits.map((h) => h.id),
          expected(docs, query),
        );

        const stats = await c.stats();
        assert.deepEqual(
          stats.sparseFields.map((f) => [f.name, f.model, f.passages]),
          [['splade', 'user', docs.filter((d) => d.sparse).length]],
        );

        // Restart: the same answers (from the snapshot where the backend keeps files).
        const before = await c.search({
          query: 'bread fish',
          sparseQuery: { fermentation: 1, otter: 0.5, river: 1 },
          k: 10,
          explain: true,
        });
        await q.close();
        q = await open(t.dir);
        const again = await (
          await q.getCollection('sp')
        ).search({
          query: 'bread fish',
          sparseQuery: { fermentation: 1, otter: 0.5, river: 1 },
          k: 10,
          explain: true,
        });
        assert.deepEqual(again.hits, before.hits);
        const file = join(t.dir, 'sp', 'sparse-splade.idx');
        assert.equal(existsSync(file), opts.snapshots, 'snapshot file where the backend keeps index files');
        if (opts.snapshots) {
          // A damaged snapshot is rebuilt from the store of record, with the same answers.
          await q.close();
          writeFileSync(file, 'torn');
          q = await open(t.dir);
          const rebuilt = await (
            await q.getCollection('sp')
          ).search({
            query: 'bread fish',
            sparseQuery: { fermentation: 1, otter: 0.5, river: 1 },
            k: 10,
            explain: true,
          });
          assert.deepEqual(rebuilt.hits, before.hits);
          await q.close();
          rmSync(file);
          q = await open(t.dir);
          const missing = await (
            await q.getCollection('sp')
          ).search({
            query: 'bread fish',
            sparseQuery: { fermentation: 1, otter: 0.5, river: 1 },
            k: 10,
            explain: true,
          });
          assert.deepEqual(missing.hits, before.hits);
        }
      } finally {
        await q.close();
        t.cleanup();
      }
    });

    it('fuses sparse with lexical in hybrid (and in rankedLists), with the lexical weight by default', async () => {
      const t = tempDir();
      const q = await open(t.dir);
      try {
        const c = await q.createCollection('hy', { sparse: [{ name: 'splade', model: 'user' }] });
        await c.upsert(SPARSE_DOCS);
        // "fermented drinks": lexically nothing matches "fermented"/"drinks" except via stemming
        // nowhere; sparse finds kombucha and bread. Hybrid must contain the sparse-only hits.
        const sparseQuery = { fermentation: 1, drink: 0.8 };
        const hybrid = await c.search({ query: 'fish fermented drinks', sparseQuery, k: 10, explain: true });
        assert.equal(hybrid.mode, 'hybrid', 'hybrid is the default when a sparse query can run');
        const ids = hybrid.hits.map((h) => h.id);
        for (const id of expected(SPARSE_DOCS, sparseQuery))
          assert.ok(ids.includes(id), `${id} from the sparse list`);
        assert.ok(ids.includes('otters') && ids.includes('plain'), 'lexical hits for "fish"');
        const both = hybrid.hits.find(
          (h) => h.explain!.retrievers['lexical'] && h.explain!.retrievers['sparse:splade'],
        );
        const anyHit = hybrid.hits[0]!;
        assert.ok(anyHit.explain!.fused !== undefined);
        if (both)
          assert.ok(
            both.explain!.retrievers['sparse:splade']!.terms,
            'sparse term contributions in hybrid explain',
          );
        // Default weights: sparse gets the lexical weight (0.9 under DBSF), so a document that only
        // one retriever found with the same normalised score scores the same either way.
        const lexOnly = hybrid.hits.find(
          (h) => h.explain!.retrievers['lexical'] && !h.explain!.retrievers['sparse:splade'],
        )!;
        const spOnly = hybrid.hits.find(
          (h) => !h.explain!.retrievers['lexical'] && h.explain!.retrievers['sparse:splade'],
        )!;
        const ratio = (e: NonNullable<SearchHit['explain']>, name: string) =>
          e.fused! / e.retrievers[name]!.normalized!;
        assert.ok(Math.abs(ratio(lexOnly.explain!, 'lexical') - 0.9) < 1e-9);
        assert.ok(Math.abs(ratio(spOnly.explain!, 'sparse:splade') - 0.9) < 1e-9);
        // An explicit weight wins.
        const weighted = await c.search({
          query: 'fish fermented drinks',
          sparseQuery,
          k: 10,
          explain: true,
          fusion: { weights: { lexical: 0.9, sparse: 0.3 } },
        });
        const sp2 = weighted.hits.find(
          (h) => !h.explain!.retrievers['lexical'] && h.explain!.retrievers['sparse:splade'],
        )!;
        assert.ok(Math.abs(ratio(sp2.explain!, 'sparse:splade') - 0.3) < 1e-9);

        // Without a sparse query a user field is skipped (with a warning), lexical still answers.
        const noSparse = await c.search({ query: 'fish', mode: 'hybrid', k: 3 });
        assert.ok(noSparse.warnings?.some((w) => /sparseQuery/.test(w)));
        assert.equal(noSparse.hits[0]!.id === 'otters' || noSparse.hits[0]!.id === 'plain', true);
        assert.equal(
          (await c.search({ query: 'fish', k: 3 })).mode,
          'lexical',
          'default mode without a sparse query',
        );

        // tune-fusion sees the sparse list too.
        const lists = await c.rankedLists('fish fermented drinks', { sparseQuery, depth: 10 });
        assert.deepEqual(
          lists.map((l) => l.name),
          ['lexical', 'sparse:splade'],
        );
        assert.deepEqual(
          (await c.getByPassageKeys(lists[1]!.hits.map((h) => h.key))).map((d) => d.id),
          expected(SPARSE_DOCS, sparseQuery),
        );
      } finally {
        await q.close();
        t.cleanup();
      }
    });

    it('rejects bad sparse input with the field that was wrong', async () => {
      const t = tempDir();
      const q = await open(t.dir);
      try {
        const c = await q.createCollection('bad', { sparse: [{ name: 'splade', model: 'user' }] });
        await c.upsert(SPARSE_DOCS.slice(0, 2));
        await rejects(c.search({ query: 'x', mode: 'sparse', k: 3 }), 'INVALID_ARGUMENT', 'sparseQuery');
        await rejects(
          c.search({ query: 'x', mode: 'sparse', sparseQuery: { a: -1 }, k: 3 }),
          'INVALID_ARGUMENT',
          'sparseQuery.a',
        );
        await rejects(
          c.search({ query: 'x', mode: 'sparse', sparseQuery: { a: Number.NaN }, k: 3 }),
          'INVALID_ARGUMENT',
          'sparseQuery.a',
        );
        await rejects(
          c.search({ query: 'x', mode: 'sparse', sparseQuery: [1] as unknown as SparseVector, k: 3 }),
          'INVALID_ARGUMENT',
          'sparseQuery',
        );
        await rejects(
          c.search({ query: 'x', mode: 'sparse', sparseField: 'nope', sparseQuery: { a: 1 }, k: 3 }),
          'INVALID_ARGUMENT',
          'sparseField',
        );
        await rejects(
          c.upsert([{ id: 'x', text: 't', sparse: { other: { a: 1 } } }]),
          'INVALID_DOCUMENT',
          'sparse.other',
        );
        await rejects(
          c.upsert([{ id: 'x', text: 't', sparse: { splade: { a: 'high' as unknown as number } } }]),
          'INVALID_DOCUMENT',
          'sparse.splade.a',
        );
        assert.equal(await c.count(), 2, 'nothing of a rejected batch was written');
        const lexical = await q.createCollection('lex');
        await rejects(
          lexical.search({ query: 'x', mode: 'sparse', sparseQuery: { a: 1 }, k: 3 }),
          'INVALID_ARGUMENT',
          'mode',
        );
        await rejects(
          lexical.upsert([{ id: 'x', text: 't', sparse: { splade: { a: 1 } } }]),
          'INVALID_DOCUMENT',
          'sparse.splade',
        );
        for (const [sparse, field] of [
          [
            [
              { name: 'a', model: 'user' },
              { name: 'a', model: 'user' },
            ],
            'sparse[1].name',
          ],
          [[{ name: 'bad name', model: 'user' }], 'sparse[0].name'],
          [[{ name: 'a', model: '' }], 'sparse[0].model'],
          [[{ name: 'a', model: 'user', url: 'http://x/embed_sparse' }], 'sparse[0].model'],
          [[{ name: 'a', model: 'user', topK: -1 }], 'sparse[0].topK'],
          [[{ name: 'a', model: 'user', source: 'image' }], 'sparse[0].source'],
          [[{ name: 'dense', model: 'user' }], 'sparse[0].name'],
        ] as const) {
          await rejects(
            q.createCollection(`cfg${Math.random().toString(36).slice(2, 8)}`, {
              vectors:
                field === 'sparse[0].name' && sparse[0].name === 'dense'
                  ? [{ name: 'dense', model: 'static:glove-100' }]
                  : [],
              sparse: sparse as never,
            }),
            'INVALID_CONFIG',
            field,
          );
        }
      } finally {
        await q.close();
        t.cleanup();
      }
    });
  });
}
