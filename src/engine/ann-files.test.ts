import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsearchVectorIndex } from '../index/vector/usearch.js';
import { clusteredVectors } from '../index/vector/vector-index.conformance.js';
import { tempDir } from '../testing/paths.js';
import { openVectorIndex, saveVectorIndex } from './ann-files.js';

describe('ANN index files of a vector field', () => {
  const data = clusteredVectors(1500, 32, 40, 9);
  const keys = data.map((_, i) => i + 1);
  const queries = clusteredVectors(20, 32, 40, 9, { querySeed: 10 });

  it('an i8 field above residentMax keeps no f32 copy in memory, before and after reopening', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'vectors-dense.usearch');
      const opts = {
        dims: 32,
        metric: 'cos' as const,
        quantization: 'i8' as const,
        spillDir: t.dir,
        residentMax: 500,
      };
      const first = await openVectorIndex(path, { ...opts, expectWatermark: 0 });
      assert.equal(first.fresh, false, 'no file yet: built from the store');
      const index = first.index as UsearchVectorIndex;
      await index.add(keys.slice(0, 400), data.slice(0, 400));
      assert.equal(index.residentVectors(), 400, 'a small field keeps its copies for exact search');
      await index.add(keys.slice(400), data.slice(400));
      assert.equal(index.residentVectors(), 0, 'above residentMax the copies leave memory');
      const before = await Promise.all(queries.map((q) => index.search(q, 10)));
      await saveVectorIndex(index, path, 7);
      index.close();

      const reopened = await openVectorIndex(path, { ...opts, expectWatermark: 7 });
      assert.equal(reopened.fresh, true);
      const again = reopened.index as UsearchVectorIndex;
      assert.equal(again.size(), 1500);
      assert.equal(again.residentVectors(), 0, 'reopening does not load the copies either');
      assert.deepEqual(await Promise.all(queries.map((q) => again.search(q, 10))), before);
      again.close();

      const stale = await openVectorIndex(path, { ...opts, expectWatermark: 8 });
      assert.equal(stale.fresh, false, 'another watermark: rebuilt, not served');
      assert.equal(stale.index.size(), 0);
      assert.deepEqual(
        readdirSync(t.dir).sort(),
        ['vectors-dense.usearch', 'vectors-dense.usearch.json', 'vectors-dense.usearch.vectors'],
        'no scratch file is left behind',
      );
    } finally {
      t.cleanup();
    }
  });

  it('by default a field keeps up to 20,000 copies in memory (exact search without the disk)', async () => {
    const t = tempDir();
    try {
      const { index } = await openVectorIndex(join(t.dir, 'v.usearch'), {
        dims: 32,
        metric: 'cos',
        quantization: 'i8',
        spillDir: t.dir,
        expectWatermark: 0,
      });
      await index.add(keys, data);
      assert.equal((index as UsearchVectorIndex).residentVectors(), 1500);
    } finally {
      t.cleanup();
    }
  });
});
