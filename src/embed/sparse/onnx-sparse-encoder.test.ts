/**
 * The local SPLADE encoder on a random-weight BERT masked-language model with the real e5-small-v2
 * tokenizer (scripts/make_splade_onnx.py). The pooling is checked against a reference computed in
 * this file from the raw logits of a separate onnxruntime session, token by token.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { QuiverError } from '../../errors.js';
import { TINY_SPLADE, tempDir } from '../../testing/paths.js';
import { DEFAULT_DOCUMENT_TOP_K, OnnxSparseEncoder, idWeightsToVector } from './onnx-sparse-encoder.js';
import type { SparseVector } from './sparse-encoder.js';
import { assertSparseClose, runSparseEncoderConformance } from './sparse-encoder.conformance.js';

runSparseEncoderConformance('onnx (tiny random SPLADE)', async () => {
  const encoder = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'tiny-splade', batchSize: 4 });
  return {
    encoder,
    documentTopK: encoder.documentTopK,
    queryTopK: encoder.queryTopK,
    countsTruncation: true,
    cleanup: () => encoder.close(),
  };
});

interface TokenizerJson {
  added_tokens: { id: number; special: boolean }[];
}

/** Everything the reference needs, built without the encoder: tokenizer, raw session, specials. */
const tokJson = JSON.parse(readFileSync(join(TINY_SPLADE, 'tokenizer.json'), 'utf8')) as TokenizerJson;
const tokenizer = new Tokenizer(
  tokJson,
  JSON.parse(readFileSync(join(TINY_SPLADE, 'tokenizer_config.json'), 'utf8')),
);
const SPECIAL = new Set(tokJson.added_tokens.filter((t) => t.special).map((t) => t.id));

/** Reference SPLADE vector from one unpadded forward pass: per token log1p(relu(x)), then max. */
async function referenceVector(session: ort.InferenceSession, ids: number[]): Promise<SparseVector> {
  const n = ids.length;
  const tensor = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [1, n]);
  const out = await session.run({
    input_ids: tensor(ids),
    attention_mask: tensor(ids.map(() => 1)),
    token_type_ids: tensor(ids.map(() => 0)),
  });
  const logits = out['logits']!;
  const vocab = Number(logits.dims[2]);
  const data = logits.data as Float32Array;
  const v: SparseVector = {};
  for (let j = 0; j < vocab; j++) {
    if (SPECIAL.has(j)) continue;
    let best = 0;
    for (let t = 0; t < n; t++) best = Math.max(best, Math.log(1 + Math.max(0, data[t * vocab + j]!)));
    if (best > 0) v[tokenizer.id_to_token(j)!] = best;
  }
  return v;
}

function topOf(v: SparseVector, k: number): SparseVector {
  return Object.fromEntries(
    Object.entries(v)
      .sort((a, b) => b[1] - a[1])
      .slice(0, k),
  );
}

describe('OnnxSparseEncoder', () => {
  let unpruned: OnnxSparseEncoder;
  let pruned: OnnxSparseEncoder;
  let session: ort.InferenceSession;
  before(async () => {
    unpruned = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'tiny-splade', topK: 0 });
    pruned = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'tiny-splade', topK: 32, queryTopK: 8 });
    session = await ort.InferenceSession.create(join(TINY_SPLADE, 'onnx', 'model.onnx'));
  });
  after(async () => {
    await unpruned.close();
    await pruned.close();
    await session.release();
  });

  const texts = [
    'how much protein should a female eat',
    'The quick brown fox jumps over the lazy dog.',
    'Vitamin D deficiency and respiratory infections. '.repeat(12),
  ];

  it('equals the reference max-pooled log(1 + ReLU(logits)) computed from raw logits', async () => {
    const got = await unpruned.encodeDocuments(texts);
    for (const [i, text] of texts.entries()) {
      const ref = await referenceVector(session, tokenizer.encode(text).ids as number[]);
      assert.ok(Object.keys(ref).length > 100, 'the fixture yields many non-zero terms');
      assert.deepEqual(Object.keys(got[i]!).sort(), Object.keys(ref).sort(), `text ${i}: same terms`);
      for (const [term, w] of Object.entries(ref))
        assert.ok(Math.abs(got[i]![term]! - w) <= 1e-6, `text ${i} "${term}": ${got[i]![term]} vs ${w}`);
      // Most of the vocabulary has no positive logit: zero weights are dropped, not stored.
      assert.ok(Object.keys(ref).length < unpruned.vocabSize / 2);
    }
  });

  it('agrees with an export that pools in the graph ([batch, vocab] output, same weights)', async () => {
    const inGraph = await OnnxSparseEncoder.load(TINY_SPLADE, {
      model: 'tiny-splade',
      topK: 0,
      modelFile: 'onnx/model_pooled.onnx',
      batchSize: 2,
    });
    try {
      assert.equal(inGraph.vocabSize, unpruned.vocabSize);
      const mixed = [...texts, 'x', 'word '.repeat(300)];
      const [a, b] = [await inGraph.encodeDocuments(mixed), await unpruned.encodeDocuments(mixed)];
      a.forEach((v, i) => {
        assert.ok(Object.keys(v).length > 0);
        assertSparseClose(v, b[i]!, 1e-5, `text ${i}`);
      });
    } finally {
      await inGraph.close();
    }
  });

  it('maps ids to vocabulary tokens and never emits special tokens', async () => {
    const [v] = await unpruned.encodeDocuments(['protein synthesis in cells']);
    const terms = Object.keys(v!);
    assert.ok(
      terms.some((t) => t.startsWith('##')),
      'word pieces keep their ## prefix',
    );
    for (const t of ['[CLS]', '[SEP]', '[PAD]', '[UNK]', '[MASK]']) assert.equal(v![t], undefined, t);
    for (const t of terms)
      assert.notEqual(tokenizer.token_to_id(t), undefined, `"${t}" is a vocabulary token`);
    // The id-level output a TEI server would give keeps specials; the mapping drops them.
    const mapped = idWeightsToVector(
      { ids: [0, 101, 102, 2003], weights: [1, 2, 3, 0.5] },
      unpruned['vocab'].terms,
      0,
    );
    assert.deepEqual(mapped, { is: 0.5 });
  });

  it('keeps the k heaviest document terms (default 256) and prunes queries only when asked', async () => {
    assert.equal(DEFAULT_DOCUMENT_TOP_K, 256);
    const def = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'tiny-splade' });
    try {
      assert.equal(def.documentTopK, 256);
      const [full] = await unpruned.encodeDocuments([texts[2]!]);
      assert.ok(Object.keys(full!).length > 256, 'the long text has more than 256 terms');
      const [doc] = await def.encodeDocuments([texts[2]!]);
      assert.deepEqual(doc, topOf(full!, 256));
      const [query] = await def.encodeQueries([texts[2]!]);
      assert.deepEqual(query, full, 'queries keep every term by default');
    } finally {
      await def.close();
    }
    const [doc] = await pruned.encodeDocuments([texts[0]!]);
    const [query] = await pruned.encodeQueries([texts[0]!]);
    const [full] = await unpruned.encodeDocuments([texts[0]!]);
    assert.deepEqual(doc, topOf(full!, 32));
    assert.deepEqual(query, topOf(full!, 8));
  });

  it('truncates at 512 tokens keeping [SEP], counts it, and pools only the kept tokens', async () => {
    const long = 'All work and no play makes Jack a dull boy. '.repeat(300);
    const all = tokenizer.encode(long).ids as number[];
    assert.ok(all.length > 512);
    const kept = [...all.slice(0, 511), all[all.length - 1]!];
    const tok = unpruned.tokenize(long);
    assert.deepEqual(tok.ids, kept);
    assert.equal(tok.truncated, true);
    const before = unpruned.stats().truncated;
    const [v] = await unpruned.encodeDocuments([long]);
    assert.equal(unpruned.stats().truncated, before + 1);
    assertSparseClose(v!, await referenceVector(session, kept), 1e-6, 'truncated text');
  });

  it('pools a padded batch of very different lengths exactly as one text at a time', async () => {
    const mixed = [
      'a',
      'short text here',
      'word '.repeat(200),
      'x '.repeat(600),
      'medium length sentence about cells',
    ];
    const batched = await unpruned.poolIds(mixed);
    for (const [i, t] of mixed.entries()) {
      const [single] = await unpruned.poolIds([t]);
      assert.deepEqual(batched[i]!.ids, single!.ids, `text ${i}: same non-zero ids`);
      batched[i]!.weights.forEach((w, j) =>
        assert.ok(Math.abs(w - single!.weights[j]!) <= 1e-5, `text ${i} id ${single!.ids[j]}`),
      );
    }
  });

  it('stats count texts, tokens and truncations', async () => {
    const e = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'tiny-splade', maxTokens: 8 });
    try {
      await e.encodeDocuments(['one two', 'one two three four five six seven eight nine']);
      assert.deepEqual(e.stats(), { texts: 2, tokens: 4 + 8, truncated: 1 });
    } finally {
      await e.close();
    }
  });

  it("inference-free queries ('tokens' mode): a query is its tokens, weighted by idf.json or 1", async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'onnx'));
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'])
        symlinkSync(join(TINY_SPLADE, f), join(dir, f));
      const plain = await OnnxSparseEncoder.load(dir, { model: 'free', queryMode: 'tokens' });
      const [q] = await plain.encodeQueries(['protein protein synthesis']);
      const expected = Object.fromEntries(
        (tokenizer.encode('protein protein synthesis').ids as number[])
          .filter((id) => !SPECIAL.has(id))
          .map((id) => [tokenizer.id_to_token(id)!, 1]),
      );
      assert.deepEqual(q, expected);
      // Documents still go through the model.
      const [d] = await plain.encodeDocuments(['protein protein synthesis']);
      const [ref] = await unpruned.encodeDocuments(['protein protein synthesis']);
      assert.deepEqual(d, topOf(ref!, 256));
      await plain.close();

      writeFileSync(join(dir, 'idf.json'), JSON.stringify({ protein: 3.5, synthesis: 0 }));
      const weighted = await OnnxSparseEncoder.load(dir, { model: 'free', queryMode: 'tokens' });
      assert.deepEqual(await weighted.encodeQueries(['protein synthesis', '']), [{ protein: 3.5 }, {}]);
      await weighted.close();
    } finally {
      cleanup();
    }
  });

  it('fails clearly on a folder without tokenizer or model, and on a bad topK', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await assert.rejects(
        OnnxSparseEncoder.load(dir, { model: 'x' }),
        (e: QuiverError) => e.code === 'FILE_NOT_FOUND' && /tokenizer\.json/.test(e.message),
      );
      symlinkSync(join(TINY_SPLADE, 'tokenizer.json'), join(dir, 'tokenizer.json'));
      await assert.rejects(
        OnnxSparseEncoder.load(dir, { model: 'x' }),
        (e: QuiverError) => e.code === 'FILE_NOT_FOUND' && /onnx\/model\.onnx, model\.onnx/.test(e.message),
      );
      await assert.rejects(
        OnnxSparseEncoder.load(TINY_SPLADE, { model: 'x', topK: -1 }),
        (e: QuiverError) => e.code === 'INVALID_CONFIG' && e.location.field === 'topK',
      );
    } finally {
      cleanup();
    }
  });
});
