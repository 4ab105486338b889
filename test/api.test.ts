/**
 * The HTTP API against a real server on loopback: every endpoint, auth (no key, wrong key, read key
 * writing), limits and malformed bodies, the official `openai` client on /v1/embeddings, and the
 * remote embedding provider pointed at Quiver's own endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { getModelSpec } from '../src/embed/registry.js';
import { RemoteEmbedder } from '../src/embed/remote/remote-embedder.js';
import { runEmbedderConformance } from '../src/embed/embedder.conformance.js';
import { Quiver } from '../src/engine/quiver.js';
import { createServer } from '../src/serve/server.js';
import { tempDir } from '../src/testing/paths.js';

const ADMIN = 'admin-key-123';
const READER = 'read-key-456';
const WRITER = 'write-key-789';

describe('HTTP API', () => {
  const t = tempDir();
  let quiver: Quiver;
  let app: FastifyInstance;
  let base = '';
  const call = async (
    method: string,
    path: string,
    opts: { key?: string; body?: unknown; raw?: string; type?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (opts.key) headers['authorization'] = `Bearer ${opts.key}`;
    if (opts.body !== undefined || opts.raw !== undefined)
      headers['content-type'] = opts.type ?? 'application/json';
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(opts.raw !== undefined
        ? { body: opts.raw }
        : opts.body !== undefined
          ? { body: JSON.stringify(opts.body) }
          : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { text };
    }
    return { status: res.status, json, text };
  };
  const code = (r: { json: Record<string, unknown> }) =>
    (r.json['error'] as { code: string; field?: string } | undefined)?.code;
  const field = (r: { json: Record<string, unknown> }) =>
    (r.json['error'] as { field?: string } | undefined)?.field;

  before(async () => {
    quiver = await Quiver.open({ data: t.dir });
    app = await createServer({
      quiver,
      apiKeys: [
        { key: ADMIN, scopes: ['admin'] },
        { key: READER, scopes: ['read'] },
        { key: WRITER, scopes: ['read', 'write'] },
      ],
      limits: { bodyBytes: 256 * 1024, batchDocuments: 50 },
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app.close();
    await quiver.close();
    t.cleanup();
  });

  it('serves health, readiness, metrics, OpenAPI and the UI without a key', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal((await call('GET', '/readyz')).status, 200);
    const openapi = await call('GET', '/openapi.json');
    assert.equal(openapi.json['openapi'], '3.0.3');
    assert.ok((openapi.json['paths'] as Record<string, unknown>)['/v1/collections/{name}/search']);
    const ui = await fetch(`${base}/`);
    assert.match(await ui.text(), /<title>Quiver<\/title>/);
    assert.equal((await fetch(`${base}/ui/app.js`)).status, 200);
    assert.equal((await fetch(`${base}/ui/../../package.json`)).status, 404);
  });

  it('distinguishes no key (401), wrong key (401) and a read key writing (403)', async () => {
    assert.equal(code(await call('GET', '/v1/collections')), 'UNAUTHORIZED');
    const wrong = await call('GET', '/v1/collections', { key: 'nope' });
    assert.equal(wrong.status, 401);
    const forbidden = await call('POST', '/v1/collections', { key: READER, body: { name: 'x' } });
    assert.equal(forbidden.status, 403);
    assert.equal(code(forbidden), 'FORBIDDEN');
    const viaHeader = await fetch(`${base}/v1/collections`, { headers: { 'x-api-key': READER } });
    assert.equal(viaHeader.status, 200);
  });

  it('creates collections, upserts, gets, lists, searches and deletes', async () => {
    const created = await call('POST', '/v1/collections', {
      key: ADMIN,
      body: { name: 'papers', config: { vectors: [{ name: 'dense', model: 'static:glove-100' }] } },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(
      code(await call('POST', '/v1/collections', { key: ADMIN, body: { name: 'papers' } })),
      'COLLECTION_EXISTS',
    );
    const docs = [
      {
        id: 'd1',
        title: 'Protein',
        text: 'Adults need about 0.8 grams of protein per kilogram each day.',
        metadata: { topic: 'health' },
      },
      {
        id: 'd2',
        title: 'Coffee',
        text: 'Espresso is brewed by forcing hot water through ground coffee.',
        metadata: { topic: 'food' },
      },
      {
        id: 'd3',
        title: 'Sleep',
        text: 'Adults who sleep less than seven hours risk heart disease.',
        metadata: { topic: 'health' },
      },
    ];
    const up = await call('POST', '/v1/collections/papers/documents', {
      key: WRITER,
      body: { documents: docs },
    });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json['upserted'], 3);
    const got = await call('GET', '/v1/collections/papers/documents/d2', { key: READER });
    assert.equal(got.json['title'], 'Coffee');
    assert.equal(
      code(await call('GET', '/v1/collections/papers/documents/zzz', { key: READER })),
      'DOCUMENT_NOT_FOUND',
    );
    const page1 = await call('GET', '/v1/collections/papers/documents?limit=2', { key: READER });
    const page2 = await call(
      'GET',
      `/v1/collections/papers/documents?limit=2&cursor=${page1.json['next'] as string}`,
      { key: READER },
    );
    const ids = [
      ...(page1.json['documents'] as { id: string }[]),
      ...(page2.json['documents'] as { id: string }[]),
    ].map((d) => d.id);
    assert.deepEqual(ids, ['d1', 'd2', 'd3']);
    for (const mode of ['lexical', 'dense', 'hybrid']) {
      const res = await call('POST', '/v1/collections/papers/search', {
        key: READER,
        body: { query: 'how much protein do adults need', mode, k: 2, explain: true },
      });
      assert.equal(res.status, 200, res.text);
      const hits = res.json['hits'] as { id: string; explain: { retrievers: Record<string, unknown> } }[];
      if (mode === 'dense')
        assert.ok(
          hits.some((h) => h.id === 'd1'),
          'dense finds the protein document',
        );
      else assert.equal(hits[0]!.id, 'd1', `${mode} ranks the protein document first`);
      assert.ok(
        hits[0]!.explain.retrievers[mode === 'hybrid' ? 'lexical' : mode],
        'explain names the retriever',
      );
    }
    const filtered = await call('POST', '/v1/collections/papers/search', {
      key: READER,
      body: { query: 'adults', filter: { topic: 'health' }, k: 10 },
    });
    assert.deepEqual((filtered.json['hits'] as { id: string }[]).map((h) => h.id).sort(), ['d1', 'd3']);
    const facets = await call('GET', '/v1/collections/papers/facets', { key: READER });
    assert.deepEqual(facets.json['topic'], [
      { value: 'health', count: 2 },
      { value: 'food', count: 1 },
    ]);
    const stats = await call('GET', '/v1/collections/papers', { key: READER });
    assert.equal(stats.json['documents'], 3);
    const del = await call('DELETE', '/v1/collections/papers/documents/d2', { key: WRITER });
    assert.equal(del.json['deleted'], 1);
    assert.equal(
      code(await call('DELETE', '/v1/collections/papers/documents/d2', { key: WRITER })),
      'DOCUMENT_NOT_FOUND',
    );
    const metrics = await fetch(`${base}/metrics`);
    const text = await metrics.text();
    assert.match(
      text,
      /quiver_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/collections\/:name\/search"/,
    );
    assert.match(text, /quiver_collection_documents\{collection="papers"\} 2/);
  });

  it('runs ingest jobs with progress and reports bad lines', async () => {
    await call('POST', '/v1/collections', { key: ADMIN, body: { name: 'bulk' } });
    const lines = [
      ...Array.from({ length: 120 }, (_, i) =>
        JSON.stringify({ id: `b${i}`, text: `bulk document number ${i}` }),
      ),
      '{not json',
      JSON.stringify({ id: 'nt' }),
    ].join('\n');
    const started = await call('POST', '/v1/collections/bulk/ingest', {
      key: WRITER,
      raw: lines,
      type: 'application/x-ndjson',
    });
    assert.equal(started.status, 202, started.text);
    let job: Record<string, unknown> = started.json;
    for (let i = 0; i < 100 && job['state'] === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await call('GET', `/v1/jobs/${started.json['id'] as string}`, { key: READER })).json;
    }
    assert.equal(job['state'], 'done');
    assert.equal(job['added'], 120);
    const problems = job['problems'] as { code: string; line: number }[];
    assert.deepEqual(
      problems.map((p) => [p.code, p.line]),
      [
        ['INVALID_JSON', 121],
        ['INVALID_DOCUMENT', 122],
      ],
    );
  });

  it('rejects bad input with the documented codes and stays up', async () => {
    const bad = await call('POST', '/v1/collections/papers/search', { key: READER, raw: '{"query": ' });
    assert.equal(bad.status, 400);
    assert.equal(code(bad), 'INVALID_JSON');
    const wrongType = await call('POST', '/v1/collections/papers/search', {
      key: READER,
      body: { query: 'x', k: 'ten' },
    });
    assert.equal(code(wrongType), 'INVALID_ARGUMENT');
    assert.equal(field(wrongType), 'k');
    assert.equal(
      field(
        await call('POST', '/v1/collections/papers/search', { key: READER, body: { query: 'x', k: 5000 } }),
      ),
      'k',
    );
    assert.equal(
      code(await call('POST', '/v1/collections/papers/search', { key: READER, body: { query: '  ' } })),
      'INVALID_QUERY',
    );
    const filter = await call('POST', '/v1/collections/papers/search', {
      key: READER,
      body: { query: 'x', filter: { year: { $near: 3 } } },
    });
    assert.equal(code(filter), 'INVALID_FILTER');
    assert.equal(field(filter), 'year');
    const tooMany = await call('POST', '/v1/collections/papers/documents', {
      key: WRITER,
      body: { documents: Array.from({ length: 51 }, (_, i) => ({ id: `x${i}`, text: 'x' })) },
    });
    assert.equal(tooMany.status, 413);
    assert.equal(code(tooMany), 'LIMIT_EXCEEDED');
    const huge = await call('POST', '/v1/collections/papers/documents', {
      key: WRITER,
      body: { documents: [{ id: 'h', text: 'x'.repeat(300 * 1024) }] },
    });
    assert.equal(huge.status, 413);
    const missingText = await call('POST', '/v1/collections/papers/documents', {
      key: WRITER,
      body: { documents: [{ id: 'q' }] },
    });
    assert.equal(code(missingText), 'INVALID_ARGUMENT');
    assert.equal(code(await call('GET', '/v1/collections/nope', { key: READER })), 'COLLECTION_NOT_FOUND');
    assert.equal(
      (await call('GET', '/v1/collections/papers/documents/d1', { key: READER })).status,
      200,
      'still serving',
    );
  });

  it('records and lists eval runs', async () => {
    const rec = await call('POST', '/v1/eval-runs', {
      key: WRITER,
      body: {
        dataset: 'scifact',
        mode: 'lexical',
        method: 'bm25',
        metrics: { 'ndcg@10': 0.6789 },
        queries: 300,
      },
    });
    assert.equal(rec.status, 201);
    const list = await call('GET', '/v1/eval-runs', { key: READER });
    assert.equal((list.json['runs'] as unknown[]).length, 1);
  });

  it('answers the official openai client on /v1/embeddings, float and base64', async () => {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: READER });
    const res = await client.embeddings.create({
      model: 'static:glove-100',
      input: ['a cat sat', 'on the mat'],
      encoding_format: 'float',
    });
    assert.equal(res.object, 'list');
    assert.equal(res.data.length, 2);
    assert.equal(res.data[0]!.embedding.length, 100);
    assert.ok(res.usage.prompt_tokens > 0);
    const b64 = await client.embeddings.create({ model: 'static:glove-100', input: 'a cat sat' });
    // The client decodes base64 itself (its default encoding) — values must agree with float.
    assert.ok(Math.abs(b64.data[0]!.embedding[0]! - res.data[0]!.embedding[0]!) < 1e-6);
    const short = await client.embeddings.create({
      model: 'static:glove-100',
      input: 'a cat sat',
      dimensions: 32,
    });
    const v = short.data[0]!.embedding;
    assert.equal(v.length, 32);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, 'truncated vectors are renormalised');
    await assert.rejects(
      client.embeddings.create({ model: 'no-such-model', input: 'x' }),
      /MODEL_NOT_FOUND|404/,
    );
    const noKey = await call('POST', '/v1/embeddings', {
      body: { model: 'static:glove-100', input: ['a', 'b'] },
    });
    assert.equal(noKey.status, 401);
  });

  it('serves the remote embedding provider (Quiver talking to Quiver)', async () => {
    const remote = new RemoteEmbedder(getModelSpec('static:glove-100'), {
      baseUrl: base,
      apiKey: READER,
      batchSize: 3,
      concurrency: 2,
    });
    const texts = ['alpha beta', 'gamma', 'delta epsilon', 'zeta', 'eta theta', '中文 文本', ''];
    const vecs = await remote.embed(texts, { role: 'document' });
    const local = await quiver.getEmbedder('static:glove-100');
    const ref = await local.embed(texts, { role: 'document' });
    vecs.forEach((v, i) =>
      assert.ok(
        v.every((x, j) => Math.abs(x - ref[i]![j]!) < 1e-6),
        `text ${i} agrees`,
      ),
    );
  });
});

// The remote embedding provider's conformance suite, run against Quiver's own /v1/embeddings.
runEmbedderConformance('remote provider → Quiver /v1/embeddings (static:glove-100)', async () => {
  const t = tempDir();
  const quiver = await Quiver.open({ data: t.dir });
  const app = await createServer({ quiver, apiKeys: [{ key: READER, scopes: ['read'] }] });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const embedder = new RemoteEmbedder(getModelSpec('static:glove-100'), {
    baseUrl: base,
    apiKey: READER,
    batchSize: 4,
    concurrency: 2,
  });
  return {
    embedder,
    cleanup: async () => {
      await app.close();
      await quiver.close();
      t.cleanup();
    },
  };
});
