import assert from 'node:assert/strict';
import { cpSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSparseEncoder } from '../embed/sparse/index.js';
import type { SparseEncoder } from '../embed/sparse/sparse-encoder.js';
import { TINY_SPLADE, tempDir } from '../testing/paths.js';
import { sparseEncoderFingerprint, withSparseCache } from './sparse-cache.js';

describe('sparse encoding cache (tiny random SPLADE)', () => {
  const t = tempDir();
  let encoder: SparseEncoder;
  before(async () => {
    encoder = await createSparseEncoder({ name: 's', model: 'tiny', modelDir: TINY_SPLADE });
  });
  after(async () => {
    await encoder.close?.();
    t.cleanup();
  });

  it('serves what the encoder computed, per role, across reopen; computes each new text once', async () => {
    const path = join(t.dir, 'cache.sqlite');
    const fp = sparseEncoderFingerprint('cfg', encoder);
    const texts = ['otters swim in rivers', 'sweet tea', 'otters swim in rivers'];
    const direct = await encoder.encodeDocuments(texts);
    const a = withSparseCache(encoder, path, fp);
    assert.deepEqual(await a.encodeDocuments(texts), direct);
    assert.deepEqual(a.cacheStats(), { hits: 0, misses: 2 }, 'the repeated text is computed once');
    assert.deepEqual(await a.encodeDocuments(texts), direct);
    assert.deepEqual(a.cacheStats(), { hits: 3, misses: 2 });
    // Queries are cached separately: the encoder may treat them differently.
    assert.deepEqual(await a.encodeQueries(['sweet tea']), await encoder.encodeQueries(['sweet tea']));
    assert.deepEqual(a.cacheStats(), { hits: 3, misses: 3 });
    const b = withSparseCache(encoder, path, fp);
    assert.deepEqual(await b.encodeDocuments(['sweet tea']), [direct[1]]);
    assert.deepEqual(b.cacheStats(), { hits: 1, misses: 0 }, 'persisted');
  });

  it('changes fingerprint with the configuration and with the model file', async () => {
    // A copy of the fixture, so touching its model file leaves the shared one alone.
    const dir = join(t.dir, 'model');
    cpSync(TINY_SPLADE, dir, { recursive: true });
    const copy = await createSparseEncoder({ name: 's', model: 'tiny', modelDir: dir });
    try {
      const fp = sparseEncoderFingerprint('cfg', copy);
      assert.notEqual(sparseEncoderFingerprint('other cfg', copy), fp);
      const modelPath = (copy as unknown as { modelPath: string }).modelPath;
      assert.ok(modelPath.startsWith(dir));
      const later = new Date(Date.now() + 5000);
      utimesSync(modelPath, later, later);
      assert.notEqual(sparseEncoderFingerprint('cfg', copy), fp, 'replaced weights invalidate');
    } finally {
      await copy.close?.();
    }
  });
});
