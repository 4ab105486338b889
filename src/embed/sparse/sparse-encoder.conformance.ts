/**
 * The behaviour every SparseEncoder must have, whatever computes the weights (local ONNX, a remote
 * /embed_sparse endpoint). Each implementation's test file calls `runSparseEncoderConformance` with
 * a factory; the suite owns nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SparseEncoder, SparseVector } from './sparse-encoder.js';

export interface SparseEncoderUnderTest {
  encoder: SparseEncoder;
  /** The encoder's document and query top-k (0 = no pruning). */
  documentTopK: number;
  queryTopK: number;
  /** Whether the encoder tokenizes locally and so counts truncated inputs in stats(). */
  countsTruncation: boolean;
  cleanup(): Promise<void>;
}

const TEXTS = [
  'how much protein should a female eat',
  'The quick brown fox jumps over the lazy dog near the river bank at dawn.',
  'short',
  'Vitamin D deficiency is associated with an increased risk of respiratory infections in adults, '.repeat(6),
  'a b c',
  'Paris is the capital of France.',
  'Quantum entanglement links the states of two particles regardless of the distance between them.',
];

const UNICODE = [
  '机器学习是人工智能的一个分支', // CJK
  'التعلم الآلي فرع من فروع الذكاء الاصطناعي', // Arabic (right-to-left)
  'I love pizza 🍕🔥 and rockets 🚀', // emoji (astral plane)
  'naïve café — Zürich', // accents
];

/** Every weight a finite number > 0 under a non-empty term. */
export function assertValidSparse(v: SparseVector, what: string): void {
  assert.equal(typeof v, 'object', `${what}: not an object`);
  for (const [term, w] of Object.entries(v)) {
    assert.ok(term.length > 0, `${what}: empty term`);
    assert.equal(typeof w, 'number', `${what}: weight of "${term}" is ${typeof w}`);
    assert.ok(Number.isFinite(w), `${what}: weight of "${term}" is ${w}`);
    assert.ok(w > 0, `${what}: weight of "${term}" is ${w} (zero and negative weights must be dropped)`);
  }
}

/**
 * `a` and `b` agree within `tol`: the same weight for every term, except that a term may be missing
 * from one side when both sides were cut at a top-k boundary it sits on (a weight within `tol` of
 * that side's smallest kept weight), where float noise may swap near-equal terms.
 */
export function assertSparseClose(a: SparseVector, b: SparseVector, tol: number, what: string): void {
  const minA = Math.min(...Object.values(a));
  const minB = Math.min(...Object.values(b));
  for (const term of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[term];
    const y = b[term];
    if (x !== undefined && y !== undefined) {
      assert.ok(Math.abs(x - y) <= tol, `${what}: "${term}" ${x} vs ${y}`);
    } else if (x !== undefined) {
      assert.ok(x <= minB + tol, `${what}: "${term}" (${x}) missing from the second vector`);
    } else {
      assert.ok(y! <= minA + tol, `${what}: "${term}" (${y}) missing from the first vector`);
    }
  }
}

const size = (v: SparseVector) => Object.keys(v).length;

export function runSparseEncoderConformance(
  label: string,
  factory: () => Promise<SparseEncoderUnderTest>,
): void {
  describe(`SparseEncoder conformance: ${label}`, () => {
    let sut: SparseEncoderUnderTest;
    let e: SparseEncoder;

    before(async () => {
      sut = await factory();
      e = sut.encoder;
    });
    after(async () => {
      await sut?.cleanup();
    });

    it('has a model id', () => {
      assert.equal(typeof e.model, 'string');
      assert.ok(e.model.length > 0);
    });

    it('returns one valid vector per text, in input order, for documents and queries', async () => {
      for (const encode of [(t: string[]) => e.encodeDocuments(t), (t: string[]) => e.encodeQueries(t)]) {
        const vecs = await encode(TEXTS);
        assert.equal(vecs.length, TEXTS.length);
        vecs.forEach((v, i) => {
          assertValidSparse(v, `text ${i}`);
          assert.ok(size(v) > 0, `text ${i} has no terms`);
        });
        // Different texts give different vectors (a provider returning one constant vector fails).
        assert.notDeepEqual(vecs[0], vecs[1]);
        // Order: each vector is that text's own vector.
        const [alone] = await encode([TEXTS[2]!]);
        assertSparseClose(vecs[2]!, alone!, 1e-5, 'order');
      }
    });

    it('returns an empty list for no texts', async () => {
      assert.deepEqual(await e.encodeDocuments([]), []);
      assert.deepEqual(await e.encodeQueries([]), []);
    });

    it('is deterministic: the same texts twice give the same vectors', async () => {
      const a = await e.encodeDocuments(TEXTS);
      const b = await e.encodeDocuments(TEXTS);
      a.forEach((v, i) => assertSparseClose(v, b[i]!, 1e-6, `text ${i}`));
    });

    it('agrees batched vs one at a time within 1e-5 (padding never leaks)', async () => {
      const batched = await e.encodeDocuments(TEXTS);
      for (let i = 0; i < TEXTS.length; i++) {
        const [single] = await e.encodeDocuments([TEXTS[i]!]);
        assertSparseClose(batched[i]!, single!, 1e-5, `text ${i}`);
      }
    });

    it('respects document and query top-k', async () => {
      const docs = await e.encodeDocuments(TEXTS);
      const queries = await e.encodeQueries(TEXTS);
      for (let i = 0; i < TEXTS.length; i++) {
        if (sut.documentTopK > 0)
          assert.ok(size(docs[i]!) <= sut.documentTopK, `doc ${i}: ${size(docs[i]!)} terms`);
        if (sut.queryTopK > 0)
          assert.ok(size(queries[i]!) <= sut.queryTopK, `query ${i}: ${size(queries[i]!)} terms`);
      }
    });

    it('encodes the empty string and whitespace to the empty vector', async () => {
      assert.deepEqual(await e.encodeDocuments(['', '   ']), [{}, {}]);
      assert.deepEqual(await e.encodeQueries(['']), [{}]);
      // A blank text among others does not disturb them.
      const [, v] = await e.encodeDocuments(['', TEXTS[0]!]);
      const [w] = await e.encodeDocuments([TEXTS[0]!]);
      assertSparseClose(v!, w!, 1e-5, 'neighbour of a blank text');
    });

    it('truncates a 100k-character input instead of failing', async () => {
      const long = 'All work and no play makes Jack a dull boy. '.repeat(2300).slice(0, 100_000);
      const before = e.stats?.().truncated ?? 0;
      const [v] = await e.encodeDocuments([long]);
      assertValidSparse(v!, 'long input');
      assert.ok(size(v!) > 0);
      if (sut.countsTruncation)
        assert.ok((e.stats?.().truncated ?? 0) > before, 'truncation is counted in stats()');
    });

    it('encodes CJK, Arabic and emoji text', async () => {
      const vecs = await e.encodeDocuments(UNICODE);
      assert.equal(vecs.length, UNICODE.length);
      vecs.forEach((v, i) => assertValidSparse(v, UNICODE[i]!));
      assert.ok(size(vecs[0]!) > 0, 'CJK text has terms');
    });
  });
}
