/**
 * The HTTP API for learned-sparse fields: collection config, documents with user vectors, mode
 * sparse with sparseQuery, explain, stats and OpenAPI — and bad input answered with the field.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Quiver } from '../engine/quiver.js';
import { tempDir } from '../testing/paths.js';
import { createServer } from './server.js';

const KEY = 'admin-key';
type Json = Record<string, unknown>;

async function call(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Json };
}
const errorOf = (r: { json: Json }) => r.json['error'] as { code: string; field?: string; message: string };

describe('HTTP API: learned-sparse fields', () => {
  const t = tempDir();
  let quiver: Quiver;
  let app: FastifyInstance;
  let base = '';
  before(async () => {
    quiver = await Quiver.open({ data: t.dir });
    app = await createServer({ quiver, apiKeys: [{ key: KEY, scopes: ['admin'] }] });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app.close();
    await quiver.close();
    t.cleanup();
  });

  it('creates a collection with a user sparse field, stores vectors, searches in mode sparse with explain', async () => {
    const created = await call(base, 'POST', '/v1/collections', {
      name: 'sp',
      config: { sparse: [{ name: 'splade', model: 'user' }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.deepEqual(
      (created.json['sparseFields'] as Json[]).map((f) => f['name']),
      ['splade'],
    );
    const docs = [
      { id: 'tea', text: 'Green tea is steamed.', sparse: { splade: { tea: 2, drink: 1, caffeine: 0.5 } } },
      {
        id: 'coffee',
        text: 'Espresso is strong.',
        sparse: { splade: { coffee: 2, drink: 1.5, caffeine: 2 } },
      },
      { id: 'bread', text: 'Sourdough rises.' },
    ];
    const up = await call(base, 'POST', '/v1/collections/sp/documents', { documents: docs });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    const got = await call(base, 'GET', '/v1/collections/sp/documents/coffee');
    assert.deepEqual(got.json['sparse'], docs[1]!.sparse);

    const r = await call(base, 'POST', '/v1/collections/sp/search', {
      query: 'a hot drink',
      mode: 'sparse',
      sparseQuery: { caffeine: 1, drink: 1 },
      explain: true,
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const hits = r.json['hits'] as {
      id: string;
      score: number;
      explain: { retrievers: Record<string, { terms: Record<string, number> }> };
    }[];
    assert.deepEqual(
      hits.map((h) => h.id),
      ['coffee', 'tea'],
    ); // 2·1 + 1.5·1 = 3.5 > 0.5 + 1 = 1.5
    assert.ok(Math.abs(hits[0]!.score - 3.5) < 1e-5);
    assert.deepEqual(hits[0]!.explain.retrievers['sparse:splade']!.terms, { caffeine: 2, drink: 1.5 });
    const stats = await call(base, 'GET', '/v1/collections/sp');
    assert.equal((stats.json['sparseFields'] as Json[])[0]!['passages'], 2);
  });

  it('rejects bad sparse input with 400 and the field that was wrong', async () => {
    const bad = async (path: string, body: unknown, field: RegExp) => {
      const r = await call(base, 'POST', path, body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.match(errorOf(r).field ?? '', field, JSON.stringify(r.json));
    };
    const docs = '/v1/collections/sp/documents';
    await bad(
      docs,
      { documents: [{ id: 'x', text: 't', sparse: { splade: { a: -1 } } }] },
      /documents\.0\.sparse\.splade\.a/,
    );
    await bad(
      docs,
      { documents: [{ id: 'x', text: 't', sparse: { splade: { a: 'high' } } }] },
      /documents\.0\.sparse\.splade\.a/,
    );
    await bad(
      docs,
      { documents: [{ id: 'x', text: 't', sparse: { splade: [1] } }] },
      /documents\.0\.sparse\.splade/,
    );
    await bad(
      docs,
      { documents: [{ id: 'x', text: 't', sparse: { splade: { a: 1e300 } } }] },
      /^sparse\.splade\.a$/,
    );
    await bad(docs, { documents: [{ id: 'x', text: 't', sparse: { nope: { a: 1 } } }] }, /^sparse\.nope$/);
    const search = '/v1/collections/sp/search';
    await bad(search, { query: 'x', mode: 'sparse' }, /^sparseQuery$/);
    await bad(search, { query: 'x', mode: 'sparse', sparseQuery: 'caffeine' }, /sparseQuery/);
    await bad(search, { query: 'x', mode: 'sparse', sparseQuery: { a: -2 } }, /sparseQuery\.a/);
    await bad(
      search,
      { query: 'x', mode: 'sparse', sparseQuery: { a: 1 }, sparseField: 'nope' },
      /^sparseField$/,
    );
    await bad(search, { query: 'x', mode: 'splade' }, /mode/);
    await bad(
      '/v1/collections',
      { name: 'badcfg', config: { sparse: [{ name: 'a', model: 'user', topK: -1 }] } },
      /sparse/,
    );
    await bad(
      '/v1/collections',
      { name: 'badcfg', config: { sparse: [{ name: 'a b', model: 'user' }] } },
      /^sparse\[0\]\.name$/,
    );
    const count = await call(base, 'GET', '/v1/collections/sp');
    assert.equal(count.json['documents'], 3, 'nothing of the bad batches was written');
  });

  it('documents sparse in /openapi.json', async () => {
    const doc = (await call(base, 'GET', '/openapi.json')).json as {
      paths: Record<string, Record<string, Json>>;
    };
    const body = JSON.stringify(doc.paths['/v1/collections/{name}/search']!['post']);
    assert.match(body, /sparseQuery/);
    assert.match(body, /"sparse"/);
    assert.match(JSON.stringify(doc.paths['/v1/collections/{name}/documents']!['post']), /sparse/);
  });
});
