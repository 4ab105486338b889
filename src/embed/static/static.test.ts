import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QuiverError } from '../../errors.js';
import type { JsonValue } from '../../types.js';
import { runEmbedderConformance } from '../embedder.conformance.js';
import { createStaticEmbedder, principalComponents, staticTokens } from './index.js';

const CORPUS = [
  'otters swim in rivers and eat fish',
  'bees visit flowers to collect nectar',
  'rivers flood in spring after heavy rain',
  'the database crashed after a disk failure',
  'protein intake recommendations for adult women',
  'IL-6 and TNF-alpha levels rise in sepsis patients',
  'coffee brewing temperature affects extraction',
];

runEmbedderConformance('static GloVe 100-d (unfitted)', async () => ({
  embedder: await createStaticEmbedder('static:glove-100'),
  cleanup: async () => undefined,
}));
runEmbedderConformance('static GloVe 100-d (fitted)', async () => {
  const e = await createStaticEmbedder('static:glove-100');
  await e.fit(CORPUS);
  return { embedder: e, cleanup: async () => undefined };
});
runEmbedderConformance('static GloVe 100-d (SIF, OOV dropped, 1 component)', async () => {
  const e = await createStaticEmbedder('static:glove-100', { weighting: 'sif', oov: 'drop', components: 1 });
  await e.fit(CORPUS);
  return { embedder: e, cleanup: async () => undefined };
});

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float32Array) => Math.sqrt(cos(a, a));

describe('static tokenizer', () => {
  it('lowercases, keeps compounds and numbers whole, drops possessives', () => {
    assert.deepEqual(staticTokens("COVID-19 patients' data: the patient's IL-6 rose 1.5-fold (95%)"), [
      'covid-19',
      'patients',
      'data',
      'the',
      'patient',
      'il-6',
      'rose',
      '1.5',
      'fold',
      '95%',
    ]);
    assert.deepEqual(staticTokens('naïve café — Zürich'), ['naïve', 'café', 'zürich']);
  });

  it('splits scripts written without spaces into words', () => {
    const zh = staticTokens('机器学习是人工智能的一个分支');
    assert.ok(zh.length >= 4, zh.join('|'));
    assert.equal(zh.join(''), '机器学习是人工智能的一个分支');
  });
});

describe('static embedder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-vec-'));
  before(() => {
    process.env.QUIVER_CACHE = join(dir, 'cache');
  });
  after(() => {
    delete process.env.QUIVER_CACHE;
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes itself and embeds queries and documents alike (no prefixes)', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    assert.equal(e.modelId, 'static:glove-100');
    assert.equal(e.dims, 100);
    assert.ok(e.maxTokens >= 100_000);
    assert.deepEqual(e.formatInputs(['Hello there'], { role: 'query' }), ['Hello there']);
    assert.deepEqual(await e.explain('Hello there', { role: 'document' }), { input: 'Hello there' });
    const [q] = await e.embed(['otters eat fish'], { role: 'query' });
    const [d] = await e.embed(['otters eat fish'], { role: 'document' });
    assert.deepEqual(Array.from(q!), Array.from(d!));
    assert.ok(Math.abs(norm(q!) - 1) < 1e-5);
  });

  it('places related texts closer than unrelated ones, before and after fitting', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    const texts = ['the cat sat on the mat', 'a kitten rested on the rug', 'stock markets fell sharply'];
    for (const phase of ['unfitted', 'fitted']) {
      if (phase === 'fitted') await e.fit([...CORPUS, ...texts]);
      const [a, b, c] = await e.embed(texts, { role: 'document' });
      assert.ok(cos(a!, b!) > cos(a!, c!) + 0.1, `${phase}: ${cos(a!, b!)} vs ${cos(a!, c!)}`);
    }
  });

  it('gives out-of-vocabulary words a fixed vector of their own', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    const [a, b, c] = await e.embed(['zxqvirin', 'zxqvirin', 'blorptase'], { role: 'document' });
    assert.deepEqual(Array.from(a!), Array.from(b!));
    assert.ok(Math.abs(norm(a!) - 1) < 1e-5);
    assert.ok(Math.abs(cos(a!, c!)) < 0.5, `two unknown words should be unrelated: ${cos(a!, c!)}`);
    // A shared unknown term pulls two texts together; with OOV dropped it cannot.
    const [x, y] = await e.embed(['zxqvirin inhibits growth', 'zxqvirin in mice'], { role: 'document' });
    const dropping = await createStaticEmbedder('static:glove-100', { oov: 'drop' });
    const [x2, y2] = await dropping.embed(['zxqvirin inhibits growth', 'zxqvirin in mice'], {
      role: 'document',
    });
    assert.ok(cos(x!, y!) > cos(x2!, y2!) + 0.1, `${cos(x!, y!)} vs ${cos(x2!, y2!)}`);
  });

  it('fits per collection: state round-trips through JSON to identical vectors and changes the fingerprint', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    const before = e.fingerprint;
    const [unfitted] = await e.embed(['otters in the river'], { role: 'query' });
    assert.equal(e.fitted, false);
    await e.fit(CORPUS);
    assert.ok(e.fitted);
    assert.notEqual(e.fingerprint, before);
    const [fitted] = await e.embed(['otters in the river'], { role: 'query' });
    assert.notDeepEqual(Array.from(fitted!), Array.from(unfitted!));

    const state = JSON.parse(JSON.stringify(e.exportState())) as JsonValue;
    const f = await createStaticEmbedder('static:glove-100');
    f.importState(state);
    assert.ok(f.fitted);
    assert.equal(f.fingerprint, e.fingerprint);
    const texts = ['otters in the river', 'IL-6 in sepsis', '', 'zxqvirin'];
    const x = await e.embed(texts, { role: 'query' });
    const y = await f.embed(texts, { role: 'query' });
    assert.deepEqual(
      x.map((v) => Array.from(v)),
      y.map((v) => Array.from(v)),
    );

    // Fitting on another corpus is another state, another fingerprint.
    const g = await createStaticEmbedder('static:glove-100');
    await g.fit(['completely different text about markets']);
    assert.notEqual(g.fingerprint, e.fingerprint);
    // Other settings, other fingerprint, even unfitted.
    assert.notEqual((await createStaticEmbedder('static:glove-100', { components: 1 })).fingerprint, before);

    assert.throws(
      () => f.importState({ version: 9 }),
      (err: QuiverError) => err.code === 'INVALID_CONFIG',
    );
    f.importState(null);
    assert.equal(f.fitted, false);
    assert.equal(f.fingerprint, before);
  });

  it('exports a compact state: only words that occur; components only with enough texts', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    await e.fit(CORPUS);
    const s = e.exportState() as { words: string[]; docs: number; pcs: number[][]; mean: number[] };
    assert.equal(s.docs, CORPUS.length);
    assert.ok(s.words.includes('otters') && s.words.includes('rivers'));
    assert.ok(!s.words.includes('zebra'));
    assert.ok(s.words.length < 60, `${s.words.length} words stored`);
    assert.equal(s.pcs.length, 0, 'seven texts are too few to estimate common components');
    assert.ok(s.mean.every((x) => x === 0));
    assert.ok(JSON.stringify(s).length < 5_000);

    // 7 × 7 × 7 = 343 texts: enough for the default five components (one per 50 texts).
    const subjects = ['otters', 'bees', 'engineers', 'doctors', 'farmers', 'children', 'birds'];
    const verbs = ['watch', 'avoid', 'study', 'like', 'find', 'carry', 'build'];
    const objects = ['rivers', 'flowers', 'bridges', 'hospitals', 'fields', 'toys', 'nests'];
    const big = subjects.flatMap((a) =>
      verbs.flatMap((v) => objects.map((o) => `the ${a} ${v} ${o} every day`)),
    );
    await e.fit(big);
    const t = e.exportState() as { pcs: number[][]; mean: number[] };
    assert.equal(t.pcs.length, 5);
    assert.ok(t.mean.some((x) => x !== 0));
    for (const [i, p] of t.pcs.entries()) {
      assert.ok(Math.abs(Math.hypot(...p) - 1) < 1e-5, `component ${i} is a unit vector`);
    }
  });

  it('embeds the empty string and unknown-only text as finite unit vectors', async () => {
    const e = await createStaticEmbedder('static:glove-100', { oov: 'drop' });
    await e.fit(CORPUS);
    for (const v of await e.embed(['', '   ', '🍕🔥', 'qqqzzzxxx'], { role: 'document' })) {
      assert.ok(v.every((x) => Number.isFinite(x)));
      assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    }
  });

  it('reads GloVe .txt (no header) and fastText .vec (header) files', async () => {
    const vec = join(dir, 'good.vec');
    writeFileSync(vec, '3 2\nriver 1 0\nfish 0.9 0.1\nmoney 0 1\n');
    const e = await createStaticEmbedder('static:file', { vectorsPath: vec });
    assert.equal(e.dims, 2);
    assert.equal(e.modelId, `static:file:${vec}`);
    const [r, f, m] = await e.embed(['river', 'fish', 'money'], { role: 'document' });
    assert.ok(cos(r!, f!) > cos(r!, m!));
    const txt = join(dir, 'good.txt');
    writeFileSync(txt, 'river 1 0 0\r\nfish 0.9 0.1 0\r\nmoney 0 1 0\r\n');
    const t = await createStaticEmbedder(`static:file:${txt}`);
    assert.equal(t.dims, 3);
    assert.notEqual(t.fingerprint, e.fingerprint);
  });

  it('reports malformed vector lines with file:line, and unknown models', async () => {
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'a 1 2\nb 1 x\n');
    await assert.rejects(
      createStaticEmbedder('static:file', { vectorsPath: bad }),
      (err: QuiverError) => err.location.file === bad && err.location.line === 2,
    );
    const short = join(dir, 'short.vec');
    writeFileSync(short, '2 3\na 1 2 3\nb 1 2\n');
    await assert.rejects(
      createStaticEmbedder('static:file', { vectorsPath: short }),
      (err: QuiverError) => err.location.line === 3,
    );
    await assert.rejects(
      createStaticEmbedder('static:file', { vectorsPath: join(dir, 'missing.vec') }),
      (err: QuiverError) => err.code === 'FILE_NOT_FOUND',
    );
    await assert.rejects(
      createStaticEmbedder('static:file'),
      (err: QuiverError) => err.code === 'INVALID_ARGUMENT',
    );
    await assert.rejects(
      createStaticEmbedder('static:nope'),
      (err: QuiverError) => err.code === 'MODEL_NOT_FOUND',
    );
  });
});

describe('principal components', () => {
  it('finds the direction of largest spread, then the next one orthogonal to it', () => {
    const rows = [
      new Float32Array([3, 0.1, 0]),
      new Float32Array([-3, -0.1, 0]),
      new Float32Array([2.9, 0, 0.5]),
      new Float32Array([0, 0, -1]),
    ];
    const [pc1, pc2] = principalComponents(rows, 3, 2);
    assert.ok(Math.abs(Math.abs(pc1![0]!) - 1) < 0.01, `first component along x: ${pc1}`);
    assert.ok(Math.abs(Math.abs(pc2![2]!) - 1) < 0.05, `second along z: ${pc2}`);
    assert.ok(Math.abs(pc1!.reduce((s, x, i) => s + x * pc2![i]!, 0)) < 1e-9);
    assert.deepEqual(principalComponents([], 3, 2), []);
  });
});
