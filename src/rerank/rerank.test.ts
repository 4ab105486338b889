import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createAnalyzer } from '../analyze/index.js';
import { Quiver } from '../engine/quiver.js';
import { QuiverError } from '../errors.js';
import { TINY_CROSS_ENCODER, tempDir } from '../testing/paths.js';
import { CrossEncoderReranker } from './cross-encoder.js';
import { RemoteReranker } from './remote.js';
import type { Reranker } from './reranker.js';
import { SimilarityReranker } from './similarity.js';

const CANDIDATES = [
  { key: 1, text: 'Coffee is brewed from roasted beans. Tea is steeped.' },
  { key: 2, text: 'Otters swim in rivers. They eat fish and crabs in the river.' },
  { key: 3, text: 'Rivers flow to the sea. Fish live there. Otters are mentioned elsewhere.' },
];

/** What every reranker must do, whatever computes its scores. */
function conformance(label: string, make: () => Promise<Reranker>) {
  describe(`reranker conformance: ${label}`, () => {
    it('returns one finite score per candidate, deterministically, and handles empty input', async () => {
      const r = await make();
      const a = await r.rerank('otters eating fish in rivers', CANDIDATES);
      const b = await r.rerank('otters eating fish in rivers', CANDIDATES);
      assert.equal(a.length, 3);
      assert.ok(a.every((x) => Number.isFinite(x)));
      assert.deepEqual(a, b);
      assert.deepEqual(await r.rerank('x', []), []);
      const long = await r.rerank('otters', [{ key: 9, text: 'otters '.repeat(5000) }]);
      assert.equal(long.length, 1);
      await r.close?.();
    });
  });
}

conformance('similarity', async () => new SimilarityReranker(createAnalyzer({ language: 'en' }), () => 1));
conformance('cross-encoder (random-weight fixture)', () =>
  CrossEncoderReranker.load(TINY_CROSS_ENCODER, { batchSize: 2 }),
);

describe('rerankers', () => {
  it('similarity prefers passages where the query terms occur together', async () => {
    const r = new SimilarityReranker(createAnalyzer({ language: 'en' }), () => 1);
    const s = await r.rerank('otters eating fish in rivers', CANDIDATES);
    assert.ok(s[1]! > s[2]! && s[2]! > s[0]!, JSON.stringify(s));
  });

  it('cross-encoder encodes pairs with token types, truncates the passage, and batches like single', async () => {
    const ce = await CrossEncoderReranker.load(TINY_CROSS_ENCODER, { maxLength: 16, batchSize: 2 });
    const { ids, types } = ce.encodePair('how much protein', 'adults need protein every day, '.repeat(10));
    assert.equal(ids.length, 16);
    assert.equal(ids[0], 101);
    assert.equal(ids[ids.length - 1], 102);
    assert.ok(types.includes(1) && types[0] === 0);
    const batched = await ce.rerank('otters', CANDIDATES);
    const single = await Promise.all(CANDIDATES.map(async (c) => (await ce.rerank('otters', [c]))[0]!));
    batched.forEach((x, i) => assert.ok(Math.abs(x - single[i]!) < 1e-5));
    await ce.close();
    await assert.rejects(
      CrossEncoderReranker.load('/nonexistent'),
      (e: QuiverError) => e.code === 'FILE_NOT_FOUND',
    );
  });

  it('remote reranker speaks Cohere/Jina and TEI shapes against a loopback server', async () => {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const b = JSON.parse(body) as { documents?: string[]; texts?: string[] };
        const docs = b.documents ?? b.texts ?? [];
        const scored = docs.map((d, index) => ({ index, s: (d.match(/otter/gi) ?? []).length }));
        if (req.url === '/fail') {
          res.statusCode = 500;
          return res.end('boom');
        }
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify(
            b.documents
              ? { results: scored.map((x) => ({ index: x.index, relevance_score: x.s })) }
              : scored.map((x) => ({ index: x.index, score: x.s })),
          ),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.deepEqual(
        await new RemoteReranker({ url: `${base}/v1/rerank` }).rerank('otters', CANDIDATES),
        [0, 1, 1],
      );
      assert.deepEqual(
        await new RemoteReranker({ url: `${base}/rerank` }).rerank('otters', CANDIDATES),
        [0, 1, 1],
      );
      await assert.rejects(
        new RemoteReranker({ url: `${base}/fail` }).rerank('x', CANDIDATES),
        (e: QuiverError) => e.code === 'REMOTE_ERROR' && /500/.test(e.message),
      );
    } finally {
      server.close();
    }
  });

  it('reranks search results in the engine and keeps the score in explain', async () => {
    const t = tempDir();
    const q = await Quiver.open({ data: t.dir });
    try {
      const c = await q.createCollection('r');
      await c.upsert(CANDIDATES.map((x) => ({ id: `d${x.key}`, text: x.text })));
      const plain = await c.search({ query: 'otters fish rivers', k: 3 });
      const reranked = await c.search({ query: 'otters fish rivers', k: 3, rerank: true, explain: true });
      assert.equal(reranked.hits.length, plain.hits.length);
      assert.ok(reranked.hits.every((h) => typeof h.explain?.rerank === 'number'));
      assert.deepEqual(new Set(reranked.hits.map((h) => h.id)), new Set(plain.hits.map((h) => h.id)));
      const ce = await c.search({
        query: 'otters',
        k: 2,
        rerank: { model: `cross-encoder:${TINY_CROSS_ENCODER}` },
      });
      assert.equal(ce.hits.length, 2);
      await assert.rejects(
        c.search({ query: 'otters', rerank: { model: 'nope' } }),
        (e: QuiverError) => e.location.field === 'rerank.model',
      );
    } finally {
      await q.close();
      t.cleanup();
    }
  });
});
