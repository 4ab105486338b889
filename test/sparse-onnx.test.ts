/**
 * A collection with a model-encoded sparse field: the random-weight SPLADE-shaped fixture
 * (TINY_SPLADE, BERT masked-LM head) encodes passages at write time and queries at search time.
 * Rankings are checked against dot products of the encoder's own vectors, computed here.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSparseEncoder } from '../src/embed/sparse/index.js';
import type { SparseEncoder } from '../src/embed/sparse/sparse-encoder.js';
import { Quiver } from '../src/engine/quiver.js';
import { QuiverError } from '../src/errors.js';
import { TINY_SPLADE, tempDir } from '../src/testing/paths.js';
import type { SparseFieldConfig, SparseVector } from '../src/types.js';
import { SPARSE_DOCS } from './sparse-scenario.js';

const FIELD: SparseFieldConfig = { name: 'splade', model: 'tiny-splade', modelDir: TINY_SPLADE };
const DOCS = SPARSE_DOCS.map(({ sparse: _sparse, ...d }) => d);

const dot = (q: SparseVector, d: SparseVector) =>
  Object.entries(q).reduce((s, [t, w]) => s + w * (d[t] ?? 0), 0);

describe('learned-sparse field encoded by an ONNX model (tiny random SPLADE)', () => {
  const t = tempDir();
  let q: Quiver;
  let encoder: SparseEncoder;
  const docVectors = new Map<string, SparseVector>();
  before(async () => {
    encoder = await createSparseEncoder(FIELD);
    const vs = await encoder.encodeDocuments(DOCS.map((d) => (d.title ? `${d.title} ${d.text}` : d.text)));
    DOCS.forEach((d, i) => docVectors.set(d.id, vs[i]!));
    q = await Quiver.open({ data: t.dir });
    const c = await q.createCollection('onnx', { sparse: [FIELD] });
    await c.upsert(DOCS);
  });
  after(async () => {
    await q.close();
    await encoder.close?.();
    t.cleanup();
  });

  /** Ids by the encoder's own dot products, best first (only documents sharing a term). */
  async function expectedIds(query: string, k: number): Promise<{ ids: string[]; scores: number[] }> {
    const [qv] = await encoder.encodeQueries([query]);
    const scored = DOCS.map((d) => ({ id: d.id, s: dot(qv!, docVectors.get(d.id)!) }))
      .filter((x) => x.s > 0)
      .sort((a, b) => b.s - a.s)
      .slice(0, k);
    return { ids: scored.map((x) => x.id), scores: scored.map((x) => x.s) };
  }

  it('ranks passages by the dot product of the encoder vectors, explains per vocabulary token', async () => {
    const c = await q.getCollection('onnx');
    for (const query of ['fermented tea drink', 'otters swim in rivers', 'coffee']) {
      const res = await c.search({ query, mode: 'sparse', k: 4, explain: true });
      const want = await expectedIds(query, 4);
      assert.ok(res.hits.length > 0, 'random weights still share vocabulary tokens');
      res.hits.forEach((h, i) =>
        assert.ok(
          Math.abs(h.score - want.scores[i]!) <= 1e-4 * Math.max(1, want.scores[i]!),
          `${query}: score ${i}`,
        ),
      );
      assert.deepEqual(
        res.hits.map((h) => h.id),
        want.ids,
        query,
      );
      const terms = res.hits[0]!.explain!.retrievers['sparse:splade']!.terms!;
      const sum = Object.values(terms).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - res.hits[0]!.score) < 1e-3);
    }
    const stats = await c.stats();
    assert.equal(stats.sparseFields[0]!.model, 'tiny-splade');
    assert.equal(stats.sparseFields[0]!.passages, DOCS.length);
  });

  it('takes part in hybrid without a sparse query, and refuses user vectors for a model field', async () => {
    const c = await q.getCollection('onnx');
    const res = await c.search({ query: 'fermented tea drink', k: 6, explain: true });
    assert.equal(res.mode, 'hybrid');
    assert.ok(res.hits.some((h) => h.explain!.retrievers['sparse:splade']));
    await assert.rejects(
      c.upsert([{ id: 'x', text: 't', sparse: { splade: { a: 1 } } }]),
      (e: QuiverError) => e.code === 'INVALID_DOCUMENT' && e.location.field === 'sparse.splade',
    );
  });

  it('re-encodes on update, forgets deletes, and answers the same after a restart or a lost snapshot', async () => {
    let c = await q.getCollection('onnx');
    await c.upsert([
      { id: 'bees', title: 'Kombucha bees', text: 'Sweet tea left to sour with a culture of bacteria.' },
    ]);
    await c.delete(['bread']);
    const before = await c.search({ query: 'sweet tea bacteria', mode: 'sparse', k: 10 });
    assert.ok(!before.hits.some((h) => h.id === 'bread'));
    assert.ok(before.hits.some((h) => h.id === 'bees'));
    await q.close();
    q = await Quiver.open({ data: t.dir });
    c = await q.getCollection('onnx');
    assert.deepEqual(
      (await c.search({ query: 'sweet tea bacteria', mode: 'sparse', k: 10 })).hits,
      before.hits,
    );
    await q.close();
    rmSync(join(t.dir, 'onnx', 'sparse-splade.idx'));
    q = await Quiver.open({ data: t.dir });
    c = await q.getCollection('onnx');
    // Rebuilt (vectors from the sparse encoding cache): the same ranking; float32 sums may differ in
    // the last bit, since a fresh index orders its clauses by fresh bounds (deletes left stale ones).
    const rebuilt = (await c.search({ query: 'sweet tea bacteria', mode: 'sparse', k: 10 })).hits;
    assert.deepEqual(
      rebuilt.map((h) => h.id),
      before.hits.map((h) => h.id),
    );
    rebuilt.forEach((h, i) =>
      assert.ok(Math.abs(h.score - before.hits[i]!.score) < 1e-5 * before.hits[i]!.score),
    );
  });
});
