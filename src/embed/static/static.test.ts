import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QuiverError } from '../../errors.js';
import { runEmbedderConformance } from '../embedder.conformance.js';
import { createStaticEmbedder, principalComponents, staticTokens } from './index.js';

runEmbedderConformance('static GloVe 100-d (unfitted)', async () => ({ embedder: await createStaticEmbedder('static:glove-100'), cleanup: async () => undefined }));
runEmbedderConformance('static GloVe 100-d (fitted)', async () => {
  const e = await createStaticEmbedder('static:glove-100');
  await e.fit(['rivers and fish', 'bees and flowers', 'coffee brewing', 'a database crash', 'protein for women']);
  return { embedder: e, cleanup: async () => undefined };
});

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('static embedder', () => {
  it('places related texts closer than unrelated ones', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    const [a, b, c] = await e.embed(['the cat sat on the mat', 'a kitten rested on the rug', 'stock markets fell sharply'], { role: 'document' });
    assert.ok(cos(a!, b!) > cos(a!, c!) + 0.1, `${cos(a!, b!)} vs ${cos(a!, c!)}`);
  });

  it('fits per collection: state round-trips to identical vectors and changes the fingerprint', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    const before = e.fingerprint;
    assert.equal(e.fitted, false);
    await e.fit(['otters swim in rivers', 'bees visit flowers', 'rivers flood in spring']);
    assert.ok(e.fitted);
    assert.notEqual(e.fingerprint, before);
    const state = JSON.parse(JSON.stringify(e.exportState())) as ReturnType<typeof e.exportState>;
    const f = await createStaticEmbedder('static:glove-100');
    f.importState(state);
    assert.equal(f.fingerprint, e.fingerprint);
    const [x] = await e.embed(['otters in the river'], { role: 'query' });
    const [y] = await f.embed(['otters in the river'], { role: 'query' });
    assert.deepEqual(Array.from(x!), Array.from(y!));
    assert.throws(() => f.importState({ version: 9 }), (err: QuiverError) => err.code === 'INVALID_CONFIG');
  });

  it('reads GloVe/fastText text files and reports malformed lines with file:line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quiver-vec-'));
    process.env.QUIVER_CACHE = join(dir, 'cache');
    try {
      const good = join(dir, 'good.vec');
      writeFileSync(good, '3 2\nriver 1 0\nfish 0.9 0.1\nmoney 0 1\n');
      const e = await createStaticEmbedder('static:file', { vectorsPath: good });
      assert.equal(e.dims, 2);
      const [r, f, m] = await e.embed(['river', 'fish', 'money'], { role: 'document' });
      assert.ok(cos(r!, f!) > cos(r!, m!));
      const bad = join(dir, 'bad.txt');
      writeFileSync(bad, 'a 1 2\nb 1 x\n');
      await assert.rejects(createStaticEmbedder('static:file', { vectorsPath: bad }), (err: QuiverError) => err.location.line === 2);
      await assert.rejects(createStaticEmbedder('static:nope'), (err: QuiverError) => err.code === 'MODEL_NOT_FOUND');
    } finally {
      delete process.env.QUIVER_CACHE;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tokenizes words with hyphens and apostrophes, and finds principal components', () => {
    assert.deepEqual(staticTokens("COVID-19 patients' data"), ['covid-19', "patients'", 'data'].map((t) => t.replace(/'$/, '')).slice(0, 2).concat(['data']));
    const rows = [new Float32Array([3, 0.1]), new Float32Array([-3, -0.1]), new Float32Array([2.9, 0])];
    const [pc] = principalComponents(rows, 2, 1);
    assert.ok(Math.abs(Math.abs(pc![0]!) - 1) < 0.01, 'first component along the spread');
  });
});
