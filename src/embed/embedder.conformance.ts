/**
 * The behaviour every Embedder must have, whatever computes the vectors (local ONNX, a remote
 * endpoint, static word vectors, the cache wrapper). Each implementation's test file calls
 * `runEmbedderConformance` with a factory; the suite owns nothing else.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { EmbedOptions, Embedder } from './embedder.js';
import type { ModelSpec } from './registry.js';
import { formatInput, getModelSpec } from './registry.js';

export interface EmbedderUnderTest {
  embedder: Embedder;
  cleanup(): Promise<void>;
}

const TEXTS = [
  'how much protein should a female eat',
  'The quick brown fox jumps over the lazy dog near the river bank at dawn.',
  'short',
  'Vitamin D deficiency is associated with an increased risk of respiratory infections in adults, '.repeat(3),
  'a b c',
  'Paris is the capital of France.',
  'Quantum entanglement links the states of two particles regardless of the distance between them.',
];

const UNICODE = [
  '机器学习是人工智能的一个分支', // CJK
  'التعلم الآلي فرع من فروع الذكاء الاصطناعي', // Arabic (right-to-left)
  'I love pizza 🍕🔥 and rockets 🚀', // emoji (astral plane)
  'naïve café — Zürich', // combining-capable Latin
];

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'vectors of different lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function assertFinite(v: Float32Array, what: string): void {
  for (let i = 0; i < v.length; i++) assert.ok(Number.isFinite(v[i]!), `${what}: value ${i} is ${v[i]}`);
}

/** The registry spec behind an embedder, when it has one (user-built embedders may not). */
function specOf(e: Embedder): ModelSpec | undefined {
  try {
    return getModelSpec(e.modelId);
  } catch {
    return undefined;
  }
}

export function runEmbedderConformance(label: string, factory: () => Promise<EmbedderUnderTest>): void {
  describe(`Embedder conformance: ${label}`, () => {
    let sut: EmbedderUnderTest;
    let e: Embedder;
    const doc: EmbedOptions = { role: 'document' };
    const query: EmbedOptions = { role: 'query' };

    before(async () => {
      sut = await factory();
      e = sut.embedder;
    });
    after(async () => {
      await sut?.cleanup();
    });

    it('describes itself: model id, positive dims, max tokens, text modality, fingerprint', () => {
      assert.ok(e.modelId.length > 0);
      assert.ok(Number.isInteger(e.dims) && e.dims > 0, `dims ${e.dims}`);
      assert.ok(Number.isInteger(e.maxTokens) && e.maxTokens > 0);
      assert.ok(e.modalities.includes('text'));
      assert.match(e.fingerprint, /^\S{8,}$/);
    });

    it('returns one vector of `dims` finite values per text, in input order', async () => {
      const vecs = await e.embed(TEXTS, doc);
      assert.equal(vecs.length, TEXTS.length);
      for (const [i, v] of vecs.entries()) {
        assert.ok(v instanceof Float32Array);
        assert.equal(v.length, e.dims, `text ${i}`);
        assertFinite(v, `text ${i}`);
      }
      // Different texts give different vectors (a provider returning one constant vector fails).
      assert.ok(maxAbsDiff(vecs[0]!, vecs[1]!) > 1e-6);
    });

    it('returns an empty list for no texts', async () => {
      assert.deepEqual(await e.embed([], doc), []);
    });

    it('gives unit vectors when the model spec normalises', async (t) => {
      const spec = specOf(e);
      if (spec && !spec.normalize) {
        t.skip('spec does not normalise');
        return;
      }
      for (const v of await e.embed(TEXTS, query)) assert.ok(Math.abs(norm(v) - 1) < 1e-4, `norm ${norm(v)}`);
    });

    it('is deterministic: the same texts twice give the same vectors', async () => {
      const a = await e.embed(TEXTS, doc);
      const b = await e.embed(TEXTS, doc);
      for (let i = 0; i < a.length; i++) assert.ok(maxAbsDiff(a[i]!, b[i]!) <= 1e-6, `text ${i}`);
    });

    it('agrees batched vs one at a time within 1e-5 (padding never leaks)', async () => {
      const batched = await e.embed(TEXTS, doc);
      for (let i = 0; i < TEXTS.length; i++) {
        const [single] = await e.embed([TEXTS[i]!], doc);
        const d = maxAbsDiff(batched[i]!, single!);
        assert.ok(d <= 1e-5, `text ${i}: batched vs single differ by ${d}`);
      }
    });

    it('embeds the empty string', async () => {
      const [v] = await e.embed([''], doc);
      assert.equal(v!.length, e.dims);
      assertFinite(v!, 'empty string');
    });

    it('truncates a 100k-character input instead of failing', async () => {
      const long = 'All work and no play makes Jack a dull boy. '.repeat(2300).slice(0, 100_000);
      const statsBefore = e.stats();
      const [v] = await e.embed([long], doc);
      assert.equal(v!.length, e.dims);
      assertFinite(v!, 'long input');
      const ex = await e.explain(long, doc);
      if (ex.ids) {
        assert.ok(ex.ids.length <= e.maxTokens, `${ex.ids.length} tokens > ${e.maxTokens}`);
        assert.equal(ex.truncated, true);
        assert.ok(e.stats().truncated > statsBefore.truncated, 'truncation is counted in stats()');
      }
    });

    it('embeds CJK, Arabic and emoji text', async () => {
      const vecs = await e.embed(UNICODE, doc);
      assert.equal(vecs.length, UNICODE.length);
      for (const [i, v] of vecs.entries()) {
        assert.equal(v.length, e.dims);
        assertFinite(v, UNICODE[i]!);
      }
    });

    it('formats inputs exactly as the registry says, for every role', async (t) => {
      const spec = specOf(e);
      if (!spec) {
        t.skip('not a registry model');
        return;
      }
      for (const role of ['query', 'document', 'symmetric'] as const) {
        const opts: EmbedOptions = { role };
        assert.deepEqual(
          e.formatInputs(TEXTS, opts),
          TEXTS.map((x): string => formatInput(spec, x, opts)),
          role,
        );
        assert.equal((await e.explain(TEXTS[0]!, opts)).input, formatInput(spec, TEXTS[0]!, opts));
      }
    });

    it('counts texts in stats()', async () => {
      const textsBefore = e.stats().texts;
      await e.embed(['one', 'two'], doc);
      assert.equal(e.stats().texts, textsBefore + 2);
    });

    describe('images (providers with the image modality)', () => {
      const images: { dir?: string; redPath?: string; red?: Buffer; blue?: Buffer } = {};
      before(async () => {
        const solid = (r: number, g: number, b: number) =>
          sharp({ create: { width: 48, height: 32, channels: 3, background: { r, g, b } } })
            .png()
            .toBuffer();
        images.red = await solid(230, 20, 20);
        images.blue = await solid(20, 20, 230);
        images.dir = mkdtempSync(join(tmpdir(), 'quiver-conformance-'));
        images.redPath = join(images.dir, 'red.png');
        writeFileSync(images.redPath, images.red);
      });
      after(() => {
        if (images.dir) rmSync(images.dir, { recursive: true, force: true });
      });
      const embedImages = (t: { skip(msg: string): void }) => {
        if (!e.modalities.includes('image')) {
          t.skip('text-only provider');
          return undefined;
        }
        assert.equal(typeof e.embedImages, 'function', 'the image modality needs embedImages');
        return e.embedImages!.bind(e);
      };

      it('gives one finite vector of `dims` per image, from a path or the same bytes alike', async (t) => {
        const run = embedImages(t);
        if (!run) return;
        const [fromPath, fromBytes, blue] = await run([images.redPath!, images.red!, images.blue!]);
        for (const v of [fromPath!, fromBytes!, blue!]) {
          assert.equal(v.length, e.dims);
          assertFinite(v, 'image');
        }
        assert.ok(maxAbsDiff(fromPath!, fromBytes!) <= 1e-6, 'a path and its bytes give the same vector');
        assert.ok(maxAbsDiff(fromPath!, blue!) > 1e-6, 'different images give different vectors');
        assert.deepEqual(await run([]), []);
      });

      it('gives unit image vectors when the spec normalises, batched or one at a time alike', async (t) => {
        const run = embedImages(t);
        if (!run) return;
        const batched = await run([images.red!, images.blue!]);
        const spec = specOf(e);
        if (!spec || spec.normalize) {
          for (const v of batched) assert.ok(Math.abs(norm(v) - 1) < 1e-4, `norm ${norm(v)}`);
        }
        const [single] = await run([images.blue!]);
        assert.ok(maxAbsDiff(batched[1]!, single!) <= 1e-5, 'batched vs single');
      });

      it('refuses a missing path (FILE_NOT_FOUND) and bytes that are no image (INVALID_ARGUMENT)', async (t) => {
        const run = embedImages(t);
        if (!run) return;
        const missing = join(images.dir!, 'missing.png');
        await assert.rejects(run([missing]), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'FILE_NOT_FOUND');
          assert.ok(err.message.includes(missing), err.message);
          return true;
        });
        await assert.rejects(run([Buffer.from('definitely not an image')]), { code: 'INVALID_ARGUMENT' });
      });
    });
  });
}
