/**
 * End-to-end behaviour of the engine: collections on the embedded store, lexical/dense/hybrid
 * search, filters inside retrieval, deletes, chunking, persistence and bad input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Quiver } from '../src/engine/quiver.js';
import { vectorField } from '../src/engine/config.js';
import { QuiverError } from '../src/errors.js';
import { tempDir } from '../src/testing/paths.js';
import type { QuiverDocument } from '../src/types.js';

const DOCS: QuiverDocument[] = [
  {
    id: 'otters',
    title: 'River otters',
    text: 'Otters are mammals that swim in rivers and eat fish.',
    metadata: { topic: 'animals', year: 2019 },
  },
  {
    id: 'bees',
    title: 'Honeybees',
    text: 'Bees dance to tell other bees where the flowers are.',
    metadata: { topic: 'animals', year: 2021 },
  },
  {
    id: 'bread',
    title: 'Sourdough',
    text: 'Sourdough bread rises with wild yeast and bacteria.',
    metadata: { topic: 'cooking', year: 2020 },
  },
  {
    id: 'coffee',
    title: 'Espresso',
    text: 'Espresso forces hot water through finely ground coffee.',
    metadata: { topic: 'cooking', year: 2023 },
  },
  {
    id: 'sqlite',
    title: 'SQLite WAL',
    text: 'The write-ahead log keeps the database safe after a crash.',
    metadata: { topic: 'software', year: 2021 },
  },
  {
    id: 'fish',
    title: 'Fish farming',
    text: 'Fish farms raise salmon and trout in pens in rivers and the sea.',
    metadata: { topic: 'animals', year: 2018, tags: ['water', 'food'] },
  },
];

describe('engine: lexical collections', () => {
  const t = tempDir();
  let q: Quiver;
  before(async () => {
    q = await Quiver.open({ data: t.dir });
    const c = await q.createCollection('docs');
    await c.upsert(DOCS);
  });
  after(async () => {
    await q.close();
    t.cleanup();
  });

  it('ranks the document with the query terms first and explains the score', async () => {
    const c = await q.getCollection('docs');
    const res = await c.search({ query: 'which animals eat fish in rivers', k: 3, explain: true });
    assert.equal(res.mode, 'lexical');
    assert.equal(res.hits[0]!.id, 'otters');
    const terms = res.hits[0]!.explain!.retrievers['lexical']!.terms!;
    assert.ok(terms['fish'] && terms['river'], 'per-term contributions of the stemmed terms');
    const sum = Object.values(terms).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - res.hits[0]!.score) < 1e-4, 'term contributions add up to the score');
  });

  it('applies filters inside retrieval so k matches come back', async () => {
    const c = await q.getCollection('docs');
    const res = await c.search({
      query: 'fish rivers bread coffee bees',
      k: 2,
      filter: { topic: 'cooking' },
    });
    assert.deepEqual(res.hits.map((h) => h.id).sort(), ['bread', 'coffee']);
    const ranged = await c.search({
      query: 'fish rivers bees',
      k: 10,
      filter: { $and: [{ year: { $gte: 2019 } }, { topic: { $in: ['animals'] } }] },
    });
    assert.deepEqual(ranged.hits.map((h) => h.id).sort(), ['bees', 'otters']);
    const tags = await c.search({ query: 'fish', k: 10, filter: { tags: 'water' } });
    assert.deepEqual(
      tags.hits.map((h) => h.id),
      ['fish'],
    );
    await assert.rejects(
      c.search({ query: 'fish', filter: { year: { $between: 1 } } as never }),
      (e: QuiverError) => e.code === 'INVALID_FILTER' && e.location.field === 'year',
    );
  });

  it('never returns deleted documents and sees replacements', async () => {
    const c = await q.getCollection('docs');
    await c.delete(['otters']);
    const res = await c.search({ query: 'otters rivers fish', k: 10 });
    assert.ok(!res.hits.some((h) => h.id === 'otters'));
    await c.upsert([{ id: 'bread', text: 'Now this document is about otters.' }]);
    const again = await c.search({ query: 'otters', k: 10 });
    assert.deepEqual(
      again.hits.map((h) => h.id),
      ['bread'],
    );
    assert.equal(await c.count(), 5);
  });

  it('gives clear errors for bad queries and survives huge ones', async () => {
    const c = await q.getCollection('docs');
    await assert.rejects(
      c.search({ query: '   ' }),
      (e: QuiverError) => e.code === 'INVALID_QUERY' && e.location.field === 'query',
    );
    await assert.rejects(c.search({ query: 'x', k: 0 }), (e: QuiverError) => e.location.field === 'k');
    await assert.rejects(
      c.search({ query: 'x', mode: 'dense' }),
      (e: QuiverError) => e.location.field === 'mode',
    );
    const words = Array.from({ length: 10_000 }, (_, i) => (i % 7 === 0 ? 'coffee' : `word${i}`)).join(' ');
    const res = await c.search({ query: words, k: 3 });
    assert.equal(res.hits[0]!.id, 'coffee');
    const stop = await c.search({ query: 'the and of', k: 3 });
    assert.deepEqual(stop.hits, [], 'a query of stopwords matches nothing rather than failing');
  });

  it('persists: a reopened data directory answers the same', async () => {
    const c = await q.getCollection('docs');
    const before = await c.search({ query: 'bees flowers', k: 5 });
    await q.close();
    q = await Quiver.open({ data: t.dir });
    const reopened = await q.getCollection('docs');
    const afterRes = await reopened.search({ query: 'bees flowers', k: 5 });
    assert.deepEqual(
      afterRes.hits.map((h) => [h.id, h.score]),
      before.hits.map((h) => [h.id, h.score]),
    );
    assert.deepEqual(await q.listCollections(), ['docs']);
    await assert.rejects(q.getCollection('nope'), (e: QuiverError) => e.code === 'COLLECTION_NOT_FOUND');
    await assert.rejects(q.createCollection('docs'), (e: QuiverError) => e.code === 'COLLECTION_EXISTS');
  });
});

describe('engine: chunking and per-document results', () => {
  const t = tempDir();
  after(() => t.cleanup());
  it('splits long documents, links chunks to their parent and lets the best chunk win', async () => {
    const q = await Quiver.open({ data: t.dir });
    try {
      const c = await q.createCollection('long', { chunking: { maxChars: 200, overlapSentences: 1 } });
      const filler = Array.from(
        { length: 30 },
        (_, i) => `Sentence number ${i} talks about nothing in particular.`,
      ).join(' ');
      await c.upsert([
        { id: 'long', text: `${filler} The giraffe has a very long neck. ${filler}` },
        { id: 'short', text: 'A giraffe fact sheet.' },
      ]);
      const stats = await c.stats();
      assert.ok(stats.passages > 3, `long document split into chunks (${stats.passages} passages)`);
      const byDoc = await c.search({ query: 'giraffe neck', k: 10 });
      assert.deepEqual(
        byDoc.hits.map((h) => h.id),
        ['long', 'short'],
        'one hit per document',
      );
      assert.ok(byDoc.hits[0]!.chunk! > 0, 'the matching chunk is reported');
      const byChunk = await c.search({ query: 'sentence number', k: 10, groupBy: 'chunk' });
      assert.ok(
        byChunk.hits.filter((h) => h.id === 'long').length > 1,
        'per-chunk results return several chunks',
      );
      const passage = await c.passage('long', byDoc.hits[0]!.chunk!);
      assert.match(passage!.text, /giraffe/);
    } finally {
      await q.close();
    }
  });
});

describe('engine: dense and hybrid with static vectors', () => {
  const t = tempDir();
  let q: Quiver;
  before(async () => {
    q = await Quiver.open({ data: t.dir });
    const c = await q.createCollection('dense', { vectors: [vectorField('static:glove-100')] });
    await c.upsert(DOCS);
    await c.flush({ fit: true });
  });
  after(async () => {
    await q.close();
    t.cleanup();
  });

  it('finds documents by meaning without shared words (dense)', async () => {
    const c = await q.getCollection('dense');
    const res = await c.search({ query: 'barista brewing a cappuccino', mode: 'dense', k: 2 });
    assert.equal(res.hits[0]!.id, 'coffee');
  });

  it('fuses lexical and dense and explains both sides', async () => {
    const c = await q.getCollection('dense');
    const res = await c.search({ query: 'fish', mode: 'hybrid', k: 3, explain: true });
    assert.equal(res.mode, 'hybrid');
    const top = res.hits[0]!;
    assert.ok(top.explain!.retrievers['lexical'] && top.explain!.retrievers['dense']);
    assert.equal(typeof top.explain!.fused, 'number');
    const rrf = await c.search({ query: 'fish', mode: 'hybrid', k: 3, fusion: { method: 'rrf' } });
    assert.ok(rrf.hits.length > 0 && rrf.hits.every((h) => Number.isFinite(h.score)));
  });

  it('keeps vectors consistent across delete and reopen, and honours filters in dense search', async () => {
    const c = await q.getCollection('dense');
    await c.delete(['coffee']);
    const res = await c.search({ query: 'barista brewing a cappuccino', mode: 'dense', k: 10 });
    assert.ok(!res.hits.some((h) => h.id === 'coffee'));
    assert.equal((await c.stats()).vectorFields[0]!.vectors, 5);
    await q.close();
    q = await Quiver.open({ data: t.dir });
    const again = await q.getCollection('dense');
    const r2 = await again.search({ query: 'bees and flowers', mode: 'dense', k: 1 });
    assert.equal(r2.hits[0]!.id, 'bees');
    // dense filters are honoured too
    const f = await again.search({
      query: 'bees and flowers',
      mode: 'dense',
      k: 2,
      filter: { topic: 'software' },
    });
    assert.deepEqual(
      f.hits.map((h) => h.id),
      ['sqlite'],
    );
  });
});

describe('engine: transformer embeddings are cached in the data directory', () => {
  const t = tempDir();
  after(() => t.cleanup());
  it('re-indexing the same texts computes nothing new', async () => {
    const { TINY_BERT } = await import('../src/testing/paths.js');
    const q = await Quiver.open({ data: t.dir });
    try {
      const c = await q.createCollection('e5', {
        vectors: [vectorField('intfloat/e5-small-v2', 'dense', { modelDir: TINY_BERT })],
      });
      await c.upsert(DOCS);
      const emb = c.vectorFields[0]!.embedder as unknown as {
        cacheStats(): { hits: number; misses: number };
      };
      const before = emb.cacheStats();
      assert.equal(before.misses, DOCS.length, 'first indexing computes every passage');
      await c.upsert(DOCS.map((d) => ({ ...d, metadata: { ...d.metadata, touched: true } })));
      const afterStats = emb.cacheStats();
      assert.equal(afterStats.misses, before.misses, 'same texts: no new computation');
      assert.ok(afterStats.hits >= DOCS.length);
      const res = await c.search({ query: 'fish in rivers', mode: 'dense', k: 2 });
      assert.equal(res.hits.length, 2);
    } finally {
      await q.close();
    }
  });
});
