/** The SQLite embedding cache around the real ONNX provider (tiny-bert fixture). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withCache } from './cache.js';
import { runEmbedderConformance } from './embedder.conformance.js';
import { createEmbedder } from './index.js';

const TINY = fileURLToPath(new URL('../../.cache/fixtures/tiny-bert/', import.meta.url));

runEmbedderConformance('cache wrapper (over onnx tiny-bert)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-cache-'));
  const embedder = withCache(await createEmbedder('e5-small-v2', { modelDir: TINY }), join(dir, 'cache.db'));
  return {
    embedder,
    cleanup: async () => {
      await embedder.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('embedding cache', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'quiver-cache-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const texts = ['alpha beta', 'gamma delta epsilon', 'alpha beta', 'zeta'];

  it('computes only misses, returns the same vectors, and survives a reopen', async () => {
    const path = join(dir, 'a.db');
    const inner = await createEmbedder('e5-small-v2', { modelDir: TINY });
    const direct = await inner.embed(texts, { role: 'document' });
    const tokensBefore = inner.stats().tokens;

    const cached = withCache(inner, path);
    const first = await cached.embed(texts, { role: 'document' });
    assert.deepEqual(cached.cacheStats(), { hits: 0, misses: 3 }, 'the repeated text is computed once');
    for (let i = 0; i < texts.length; i++) assert.deepEqual(first[i], direct[i]);
    const tokensAfterFirst = inner.stats().tokens;
    assert.ok(tokensAfterFirst > tokensBefore);

    const second = await cached.embed(texts, { role: 'document' });
    assert.deepEqual(cached.cacheStats(), { hits: 4, misses: 3 });
    assert.equal(inner.stats().tokens, tokensAfterFirst, 'nothing recomputed');
    assert.deepEqual(second, first);
    // Returned vectors are independent copies: mutating one does not poison another.
    second[0]![0] = 42;
    assert.notEqual((await cached.embed([texts[0]!], { role: 'document' }))[0]![0], 42);
    await cached.close();

    const inner2 = await createEmbedder('e5-small-v2', { modelDir: TINY });
    const reopened = withCache(inner2, path);
    const third = await reopened.embed(texts, { role: 'document' });
    assert.deepEqual(reopened.cacheStats(), { hits: 4, misses: 0 });
    assert.equal(inner2.stats().tokens, 0);
    assert.deepEqual(third, first);
    await reopened.close();
  });

  it('keys on the formatted input: a query and a passage of the same text are different entries', async () => {
    const cached = withCache(await createEmbedder('e5-small-v2', { modelDir: TINY }), join(dir, 'b.db'));
    const [q] = await cached.embed(['same text'], { role: 'query' });
    const [d] = await cached.embed(['same text'], { role: 'document' });
    const [s] = await cached.embed(['same text'], { role: 'symmetric' }); // "query: " too → a hit
    assert.deepEqual(cached.cacheStats(), { hits: 1, misses: 2 });
    assert.notDeepEqual(q, d);
    assert.deepEqual(q, s);
    const [cut] = await cached.embed(['same text'], { role: 'query', dimensions: 8 });
    assert.equal(cut!.length, 8);
    assert.deepEqual(cached.cacheStats(), { hits: 1, misses: 3 });
    await cached.close();
  });

  it('keys on the fingerprint: another model (int8 weights) misses', async () => {
    const path = join(dir, 'c.db');
    const a = withCache(await createEmbedder('e5-small-v2', { modelDir: TINY }), path);
    await a.embed(['x y z'], { role: 'document' });
    await a.close();
    const q8 = fileURLToPath(new URL('../../.cache/fixtures/tiny-bert-q8/', import.meta.url));
    const b = withCache(await createEmbedder('e5-small-v2', { modelDir: q8 }), path);
    await b.embed(['x y z'], { role: 'document' });
    assert.deepEqual(b.cacheStats(), { hits: 0, misses: 1 });
    await b.close();
  });
});
