/**
 * The semantic-ID routes on a real loopback server: status, fit (admin only), browsing the code
 * tree level by level down to documents, JSONL export, and bad input naming its field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { vectorField } from '../engine/config.js';
import { Quiver } from '../engine/quiver.js';
import { SCIFACT, tempDir } from '../testing/paths.js';
import { createServer } from './server.js';

type Json = Record<string, unknown>;
const ADMIN = 'admin-key';
const READER = 'read-key';

async function call(base: string, method: string, path: string, body?: unknown, key = ADMIN) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(key !== '' ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { text };
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') ?? '' };
}
const errorOf = (r: { json: Json }) => r.json['error'] as { code: string; field?: string; message: string };

describe('semantic ID routes', () => {
  const t = tempDir();
  let quiver: Quiver;
  let app: FastifyInstance;
  let base = '';
  const docs = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 300)
    .map((l) => JSON.parse(l) as { _id: string; title: string; text: string })
    .map((d) => ({ id: d._id, title: d.title, text: d.text }));

  before(async () => {
    quiver = await Quiver.open({ data: t.dir });
    const c = await quiver.createCollection('sf', { vectors: [vectorField('static:glove-100')] });
    await c.upsert(docs, { deferVectors: true });
    await c.flush({ fit: true });
    await quiver.createCollection('plain');
    app = await createServer({
      quiver,
      apiKeys: [
        { key: ADMIN, scopes: ['admin'] },
        { key: READER, scopes: ['read'] },
      ],
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app.close();
    await quiver.close();
    t.cleanup();
  });

  it('reports no IDs before a fit, and browsing then names the fit command', async () => {
    const s = await call(base, 'GET', '/v1/collections/sf/ids', undefined, READER);
    assert.equal(s.status, 200);
    assert.deepEqual(s.json, { fitted: false, field: 'dense' });
    const tree = await call(base, 'GET', '/v1/collections/sf/ids/tree', undefined, READER);
    assert.equal(tree.status, 400);
    assert.equal(errorOf(tree).code, 'INVALID_ARGUMENT');
    assert.match(errorOf(tree).message, /ids fit --collection sf/);
  });

  it('fits only with an admin key, and rejects bad fit options by field', async () => {
    const denied = await call(base, 'POST', '/v1/collections/sf/ids/fit', { levels: 2, codes: 8 }, READER);
    assert.equal(denied.status, 403);
    const bad = await call(base, 'POST', '/v1/collections/sf/ids/fit', { levels: 0 });
    assert.deepEqual(
      [bad.status, errorOf(bad).code, errorOf(bad).field],
      [400, 'INVALID_ARGUMENT', 'levels'],
    );
    const extra = await call(base, 'POST', '/v1/collections/sf/ids/fit', { level: 2 });
    assert.equal(extra.status, 400);
    const noField = await call(base, 'POST', '/v1/collections/plain/ids/fit', {});
    assert.deepEqual([noField.status, errorOf(noField).code], [400, 'INVALID_ARGUMENT']);
    const fit = await call(base, 'POST', '/v1/collections/sf/ids/fit', { levels: 2, codes: 8 });
    assert.equal(fit.status, 200, JSON.stringify(fit.json));
    assert.equal(fit.json['fitted'], true);
    assert.equal(fit.json['documents'], 300);
    assert.equal((fit.json['utilisation'] as number[]).length, 2);
    assert.equal(typeof fit.json['seconds'], 'number');
    const s = await call(base, 'GET', '/v1/collections/sf/ids', undefined, READER);
    assert.equal(s.json['fitted'], true);
    assert.equal(s.json['fittedDocuments'], 300);
  });

  it('browses the code tree down to the documents of one code, and exports JSONL', async () => {
    type Tree = {
      total: number;
      prefix: number[];
      children: { code: number[]; count: number; samples: { id: string; title?: string }[] }[];
      documents?: { id: string; code: number[] }[];
    };
    const root = (await call(base, 'GET', '/v1/collections/sf/ids/tree?samples=2', undefined, READER))
      .json as unknown as Tree;
    assert.equal(root.total, 300);
    assert.equal(root.children.length, 8);
    assert.equal(
      root.children.reduce((n, c) => n + c.count, 0),
      300,
    );
    assert.ok(
      root.children.every((c) => c.count <= Math.ceil(300 / 8)),
      'balanced: no code over capacity',
    );
    assert.ok(root.children.every((c) => c.samples.length === 2 && c.samples.every((x) => x.title && x.id)));
    const top = root.children[0]!;
    const lvl2 = (
      await call(base, 'GET', `/v1/collections/sf/ids/tree?prefix=${top.code[0]}`, undefined, READER)
    ).json as unknown as Tree;
    assert.equal(lvl2.total, top.count);
    assert.deepEqual(lvl2.prefix, top.code);
    const leafCode = lvl2.children[0]!.code;
    const leaf = (
      await call(base, 'GET', `/v1/collections/sf/ids/tree?prefix=${leafCode.join('.')}`, undefined, READER)
    ).json as unknown as Tree;
    assert.equal(leaf.children.length, 0);
    assert.equal(leaf.documents?.length, lvl2.children[0]!.count);
    assert.ok(leaf.documents!.every((d) => d.code.join('.') === leafCode.join('.')));

    const exp = await call(base, 'GET', '/v1/collections/sf/ids/export', undefined, READER);
    assert.equal(exp.status, 200);
    assert.match(exp.type, /application\/x-ndjson/);
    const rows = exp.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; code: number[] });
    assert.equal(rows.length, 300);
    const mine = rows
      .filter((r) => r.code.join('.') === leafCode.join('.'))
      .map((r) => r.id)
      .sort();
    assert.deepEqual(mine, leaf.documents!.map((d) => d.id).sort(), 'export and tree agree');
  });

  it('rejects bad prefixes and parameters by field, and unknown collections or fields', async () => {
    for (const [q, field] of [
      ['prefix=abc', 'prefix'],
      ['prefix=99', 'prefix'],
      ['prefix=1.2.3', 'prefix'],
      ['samples=x', 'samples'],
      ['bogus=1', 'bogus'],
    ] as const) {
      const r = await call(base, 'GET', `/v1/collections/sf/ids/tree?${q}`, undefined, READER);
      assert.equal(r.status, 400, q);
      assert.equal(errorOf(r).code, 'INVALID_ARGUMENT', q);
      if (field !== 'bogus') assert.equal(errorOf(r).field, field, q);
    }
    const none = await call(base, 'GET', '/v1/collections/nope/ids/tree', undefined, READER);
    assert.deepEqual([none.status, errorOf(none).code], [404, 'COLLECTION_NOT_FOUND']);
    const badField = await call(base, 'GET', '/v1/collections/sf/ids?field=other', undefined, READER);
    assert.deepEqual([badField.status, errorOf(badField).field], [400, 'vectorField']);
    const anon = await call(base, 'GET', '/v1/collections/sf/ids/tree', undefined, '');
    assert.equal(anon.status, 401);
    const spec = (await call(base, 'GET', '/openapi.json')).json as {
      paths: Record<string, Record<string, { 'x-scope'?: string }>>;
    };
    assert.equal(spec.paths['/v1/collections/{name}/ids/tree']?.['get']?.['x-scope'], 'read');
    assert.equal(spec.paths['/v1/collections/{name}/ids/fit']?.['post']?.['x-scope'], 'admin');
  });
});
