/**
 * The ONNX provider on the tiny random-weight BERT fixture (real e5-small-v2 tokenizer), built by
 * `node scripts/prepare-tests.mjs`. Pooling is checked against an independent computation: the
 * ONNX session run directly on one unpadded sequence and pooled by hand.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { runEmbedderConformance } from '../embedder.conformance.js';
import { createEmbedder, getModelSpec, registerModel } from '../index.js';
import type { Pooling } from '../registry.js';
import { OnnxEmbedder, hiddenStates, packBatches } from './onnx-embedder.js';

const fixtures = fileURLToPath(new URL('../../../.cache/fixtures/', import.meta.url));
const TINY = join(fixtures, 'tiny-bert');
const TINY_Q8 = join(fixtures, 'tiny-bert-q8');
if (!existsSync(join(TINY, 'onnx', 'model.onnx'))) {
  throw new Error(`missing ${TINY}: run \`node scripts/prepare-tests.mjs\` first`);
}

runEmbedderConformance('onnx (tiny-bert fp32)', async () => {
  const embedder = await createEmbedder('e5-small-v2', { modelDir: TINY, batchSize: 3 });
  return { embedder, cleanup: () => embedder.close() };
});

/**
 * A fixture's model rewritten by one of scripts/*.py (`script <in.onnx> <out.onnx>`) into a fresh
 * model folder beside the fixture's tokenizer and config; removed by the returned cleanup.
 */
function rewrittenFixture(from: string, script: string, out: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-rewritten-'));
  mkdirSync(join(dir, 'onnx'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'config.json'])
    copyFileSync(join(from, f), join(dir, f));
  const path = fileURLToPath(new URL(`../../../scripts/${script}`, import.meta.url));
  execFileSync('/usr/bin/python3', [path, join(from, 'onnx', 'model.onnx'), join(dir, 'onnx', out)]);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The q8 fixture with one activation scale per token (scripts/int8_per_token.py). */
const perTokenFixture = () => rewrittenFixture(TINY_Q8, 'int8_per_token.py', 'model_quantized.onnx');

runEmbedderConformance('onnx (tiny-bert int8, per-token activation scales, batched by default)', async () => {
  const fixture = perTokenFixture();
  const embedder = await createEmbedder('e5-small-v2', { modelDir: fixture.dir, variant: 'int8' });
  assert.equal((embedder as OnnxEmbedder).batchSize, 32, 'measured batch-invariant, so batched');
  return {
    embedder,
    cleanup: async () => {
      await embedder.close();
      fixture.cleanup();
    },
  };
});

runEmbedderConformance('onnx (tiny-bert int8)', async () => {
  // The q8 fixture keeps its model in onnx/model.onnx; present it as the int8 file of a folder.
  const dir = mkdtempSync(join(tmpdir(), 'quiver-q8-'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'config.json'])
    symlinkSync(join(TINY_Q8, f), join(dir, f));
  symlinkSync(join(TINY_Q8, 'onnx', 'model.onnx'), join(dir, 'model_quantized.onnx'));
  const embedder = await createEmbedder('e5-small-v2', { modelDir: dir, variant: 'int8', threads: 1 });
  return {
    embedder,
    cleanup: async () => {
      await embedder.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** Run the raw session on one sequence (no padding) and pool its last_hidden_state by hand. */
async function referenceVector(ids: number[], pooling: Pooling, normalize: boolean): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(TINY, 'onnx', 'model.onnx'));
  const n = ids.length;
  const t = (vals: number[]) => new ort.Tensor('int64', BigInt64Array.from(vals.map(BigInt)), [1, n]);
  const out = await session.run({
    input_ids: t(ids),
    attention_mask: t(ids.map(() => 1)),
    token_type_ids: t(ids.map(() => 0)),
  });
  const hidden = out['last_hidden_state']!;
  const data = hidden.data as Float32Array;
  const h = Number(hidden.dims[2]);
  const row = (i: number) => Array.from(data.subarray(i * h, (i + 1) * h));
  let v: number[];
  if (pooling === 'cls') v = row(0);
  else if (pooling === 'last') v = row(n - 1);
  else {
    v = new Array<number>(h).fill(0);
    for (let i = 0; i < n; i++) row(i).forEach((x, d) => (v[d]! += x / n));
  }
  await session.release();
  if (normalize) {
    const len = Math.hypot(...v);
    v = v.map((x) => x / len);
  }
  return Float32Array.from(v);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('onnx provider: pooling equals a by-hand computation from last_hidden_state', () => {
  const texts = [
    'short one',
    'a considerably longer sentence that forces padding of the short ones in its batch',
    'mid size text',
  ];
  for (const pooling of ['mean', 'cls', 'last'] as const) {
    for (const normalize of [false, true]) {
      it(`${pooling} pooling, normalize=${normalize}`, async () => {
        const name = `test/tiny-${pooling}-${normalize}`;
        registerModel({
          name,
          family: 'test',
          provider: 'onnx',
          dims: 32,
          maxTokens: 512,
          pooling,
          normalize,
        });
        const e = await createEmbedder(name, { modelDir: TINY });
        try {
          const got = await e.embed(texts, { role: 'document' });
          for (const [i, text] of texts.entries()) {
            const { ids } = await e.explain(text, { role: 'document' });
            const want = await referenceVector(ids!, pooling, normalize);
            const d = maxAbsDiff(got[i]!, want);
            assert.ok(d < 1e-5, `${text}: differs by ${d}`);
          }
        } finally {
          await e.close();
        }
      });
    }
  }
});

describe('onnx provider: tokenization, truncation, batching, Matryoshka', () => {
  it('tokenizes the e5 query exactly like the reference tokenizer', async () => {
    const e = await createEmbedder('e5-small-v2', { modelDir: TINY });
    const ex = await e.explain('how much protein should a female eat', { role: 'query' });
    assert.equal(ex.input, 'query: how much protein should a female eat');
    assert.deepEqual(ex.ids, [101, 23032, 1024, 2129, 2172, 5250, 2323, 1037, 2931, 4521, 102]);
    assert.equal(ex.truncated, false);
    await e.close();
  });

  it('truncates at 512 tokens keeping [CLS] and [SEP], counts it, never throws', async () => {
    const e = await createEmbedder('e5-small-v2', { modelDir: TINY });
    const ex = await e.explain('protein '.repeat(1000), { role: 'document' });
    assert.equal(ex.ids!.length, 512);
    assert.equal(ex.ids![0], 101);
    assert.equal(ex.ids![511], 102);
    assert.equal(ex.truncated, true);
    const [v] = await e.embed(['protein '.repeat(1000), 'short'], { role: 'document' });
    assert.equal(v!.length, 32);
    assert.deepEqual(e.stats(), { texts: 2, tokens: 512 + 5, truncated: 1 });
    // Exactly at the limit is not a truncation: 510 words + [CLS] + [SEP] + "passage" ":" = 514 > 512,
    // so 508 words are exactly 512 tokens.
    const exact = await e.explain('protein '.repeat(508).trim(), { role: 'document' });
    assert.equal(exact.ids!.length, 512);
    assert.equal(exact.truncated, false);
    await e.close();
  });

  it('restores input order after length-sorted batching, at any batch size', async () => {
    const texts = Array.from({ length: 11 }, (_, i) => 'word '.repeat((i * 7) % 13) + `text ${i}`);
    const ref = await createEmbedder('e5-small-v2', { modelDir: TINY, batchSize: 1 });
    const batched = await createEmbedder('e5-small-v2', { modelDir: TINY, batchSize: 4 });
    const a = await ref.embed(texts, { role: 'document' });
    const b = await batched.embed(texts, { role: 'document' });
    for (let i = 0; i < texts.length; i++) assert.ok(maxAbsDiff(a[i]!, b[i]!) < 1e-5, `text ${i}`);
    await ref.close();
    await batched.close();
  });

  it('Matryoshka: keeps the first N dimensions and re-normalises; refuses impossible sizes', async () => {
    const e = await createEmbedder('e5-small-v2', { modelDir: TINY });
    const [full] = await e.embed(['hello'], { role: 'query' });
    const [cut] = await e.embed(['hello'], { role: 'query', dimensions: 8 });
    assert.equal(cut!.length, 8);
    assert.ok(Math.abs(Math.hypot(...cut!) - 1) < 1e-5);
    const prefix = full!.slice(0, 8);
    const len = Math.hypot(...prefix);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(cut![i]! - prefix[i]! / len) < 1e-6);
    await assert.rejects(e.embed(['x'], { role: 'query', dimensions: 33 }), { code: 'INVALID_ARGUMENT' });
    await e.close();
  });

  it('int8 and fp32 fixtures are different files, so their fingerprints differ', async () => {
    const a = await OnnxEmbedder.load(
      {
        name: 'e5-small-v2',
        family: 'e5',
        provider: 'onnx',
        dims: 32,
        maxTokens: 512,
        pooling: 'mean',
        normalize: true,
      },
      TINY,
    );
    const b = await OnnxEmbedder.load(
      {
        name: 'e5-small-v2',
        family: 'e5',
        provider: 'onnx',
        dims: 32,
        maxTokens: 512,
        pooling: 'mean',
        normalize: true,
      },
      TINY_Q8,
    );
    assert.notEqual(a.fingerprint, b.fingerprint);
    await a.close();
    await b.close();
  });

  it('batches by default only models measured batch-invariant at load', async () => {
    const spec = getModelSpec('e5-small-v2');
    const fp32 = await OnnxEmbedder.load(spec, TINY);
    assert.equal(fp32.batchSize, 32);
    assert.ok((await fp32.batchDeviation()) <= 1e-6);
    // Per-tensor dynamic quantisation: the batch's scale leaks into every vector.
    const perTensor = await OnnxEmbedder.load(spec, TINY_Q8);
    assert.equal(perTensor.batchSize, 1);
    assert.ok((await perTensor.batchDeviation()) > 1e-5);
    const forced = await OnnxEmbedder.load(spec, TINY_Q8, { batchSize: 8 });
    assert.equal(forced.batchSize, 8, 'an explicit batch size is the caller’s choice');
    const fixture = perTokenFixture();
    try {
      const perToken = await OnnxEmbedder.load(spec, fixture.dir, { variant: 'int8' });
      assert.equal(perToken.batchSize, 32);
      assert.equal(await perToken.batchDeviation(), 0, 'nothing crosses rows, so batching changes no bit');
      // Same int8 weights, finer activation scales: at least as close to fp32 as per-tensor int8.
      const texts = ['how much protein should a female eat', 'Paris is the capital of France.', 'a b c'];
      const [ref, pt, pb] = await Promise.all(
        [fp32, perToken, perTensor].map((e) => e.embed(texts, { role: 'document' })),
      );
      const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
      for (let i = 0; i < texts.length; i++) {
        assert.ok(
          cos(ref![i]!, pt![i]!) > 0.99,
          `per-token int8 vs fp32, text ${i}: ${cos(ref![i]!, pt![i]!)}`,
        );
        assert.ok(cos(ref![i]!, pt![i]!) >= cos(ref![i]!, pb![i]!) - 1e-3, `text ${i}`);
      }
      await perToken.close();
    } finally {
      fixture.cleanup();
    }
    await Promise.all([fp32.close(), perTensor.close(), forced.close()]);
  });

  it('the per-token converter refuses a model without dynamic quantisation', () => {
    const script = fileURLToPath(new URL('../../../scripts/int8_per_token.py', import.meta.url));
    const out = join(tmpdir(), `quiver-not-written-${process.pid}.onnx`);
    assert.throws(
      () =>
        execFileSync('/usr/bin/python3', [script, join(TINY, 'onnx', 'model.onnx'), out], { stdio: 'pipe' }),
      (e: Error & { status?: number; stderr?: Buffer }) => {
        assert.equal(e.status, 1);
        assert.match(e.stderr!.toString(), /no DynamicQuantizeLinear -> MatMulInteger pattern/);
        return true;
      },
    );
    assert.equal(existsSync(out), false);
  });

  it('a missing model folder or file is a clear error', async () => {
    await assert.rejects(createEmbedder('e5-small-v2', { modelDir: '/nonexistent/model' }), {
      code: 'FILE_NOT_FOUND',
    });
    await assert.rejects(createEmbedder('e5-small-v2', { modelDir: TINY, variant: 'int8' }), (e: Error) => {
      assert.equal((e as { code?: string }).code, 'FILE_NOT_FOUND');
      assert.match(e.message, /model_quantized\.onnx/);
      return true;
    });
  });
});

describe('onnx provider: other export layouts of the same model', () => {
  it('pools token_embeddings (not a sentence_embedding listed first) and feeds position_ids', async () => {
    // The fixture's weights rewritten as a sentence-transformers/decoder-style export.
    const { dir, cleanup } = rewrittenFixture(TINY, 'export_variant_onnx.py', 'model.onnx');
    try {
      const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
      assert.deepEqual(session.outputNames, ['sentence_embedding', 'token_embeddings']);
      assert.ok(session.inputNames.includes('position_ids'));
      await session.release();

      const texts = ['short one', 'a considerably longer sentence that pads the others', 'mid size'];
      // A decoder-style spec served locally: last-token pooling, as e5-mistral or gte-Qwen2 are.
      registerModel({
        name: 'test/tiny-decoder-style',
        family: 'test',
        provider: 'onnx',
        dims: 32,
        maxTokens: 512,
        pooling: 'last',
        normalize: true,
      });
      for (const model of ['e5-small-v2', 'test/tiny-decoder-style']) {
        const reference = await createEmbedder(model, { modelDir: TINY });
        const variant = await createEmbedder(model, { modelDir: dir });
        try {
          const want = await reference.embed(texts, { role: 'query', task: 'Find it' });
          const got = await variant.embed(texts, { role: 'query', task: 'Find it' });
          texts.forEach((t, i) => assert.ok(maxAbsDiff(got[i]!, want[i]!) < 1e-6, `${model}: ${t}`));
        } finally {
          await reference.close();
          await variant.close();
        }
      }
    } finally {
      cleanup();
    }
  });

  it('names the outputs when none is per-token', () => {
    const pooled = new ort.Tensor('float32', new Float32Array(6), [2, 3]);
    assert.throws(
      () => hiddenStates({ sentence_embedding: pooled }, ['sentence_embedding'], '/m/model.onnx'),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'INVALID_CONFIG');
        assert.match(e.message, /no per-token output.*sentence_embedding \[2×3\]/);
        return true;
      },
    );
  });
});

describe('onnx provider: batch packing', () => {
  const pack = (lens: number[], batchSize = 32, maxPadded = 8192) =>
    packBatches(
      lens.map((_, i) => i),
      (i) => lens[i]!,
      batchSize,
      maxPadded,
    ).map((b) => b.map((i) => lens[i]));

  it('groups equal lengths up to batchSize, never pads short texts to a long one', () => {
    assert.deepEqual(pack([10, 10, 10, 10, 10], 2), [[10, 10], [10, 10], [10]]);
    assert.deepEqual(pack([16, 16, 17, 512]), [[16, 16, 17], [512]]);
    assert.deepEqual(pack([100, 100, 100], 32, 250), [[100, 100], [100]]);
  });
});
