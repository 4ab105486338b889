/**
 * The server's edges on a real loopback server: configurable limits naming their field, 404 codes,
 * CORS, open mode vs. no keys, API key parsing, document images, response serialisation keeping
 * every field, exact `usage` under concurrency, and graceful close finishing in-flight writes.
 * (Every endpoint's happy path, auth and the openai client are in test/api.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { Quiver } from '../engine/quiver.js';
import { isQuiverError } from '../errors.js';
import { REPO_ROOT, tempDir } from '../testing/paths.js';
import { Authenticator, parseApiKeys } from './auth.js';
import { createServer, startServer } from './server.js';

const KEY = 'admin-key';
type Json = Record<string, unknown>;

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { text };
  }
  return { status: res.status, json, headers: res.headers };
}
const errorOf = (r: { json: Json }) =>
  r.json['error'] as { code: string; field?: string; hint: string; message: string };

describe('server edges', () => {
  const t = tempDir();
  let quiver: Quiver;
  let app: FastifyInstance;
  let base = '';

  before(async () => {
    quiver = await Quiver.open({ data: t.dir });
    app = await createServer({
      quiver,
      apiKeys: [{ key: KEY, scopes: ['admin'] }],
      limits: { queryChars: 50, maxK: 20 },
      cors: ['https://app.example'],
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    await call(base, 'POST', '/v1/collections', {
      name: 'notes',
      config: { vectors: [{ name: 'dense', model: 'static:glove-100' }] },
    });
    await call(base, 'POST', '/v1/collections/notes/documents', {
      documents: [
        {
          id: 'n1',
          title: 'Tea',
          text: 'Green tea is steamed, black tea is oxidised.',
          metadata: { kind: 'drink' },
        },
        {
          id: 'n2',
          title: 'Bread',
          text: 'Sourdough bread rises with wild yeast.',
          metadata: { kind: 'food' },
        },
      ],
    });
  });
  after(async () => {
    await app.close();
    await quiver.close();
    t.cleanup();
  });

  it('enforces the configured query length and k, naming the field', async () => {
    const long = await call(base, 'POST', '/v1/collections/notes/search', { query: 'tea '.repeat(20) });
    assert.equal(long.status, 400);
    assert.deepEqual([errorOf(long).code, errorOf(long).field], ['INVALID_ARGUMENT', 'query']);
    const bigK = await call(base, 'POST', '/v1/collections/notes/search', { query: 'tea', k: 21 });
    assert.deepEqual([bigK.status, errorOf(bigK).code, errorOf(bigK).field], [400, 'INVALID_ARGUMENT', 'k']);
    assert.match(errorOf(bigK).message, /at most 20/);
    assert.equal(
      (await call(base, 'POST', '/v1/collections/notes/search', { query: 'tea', k: 20 })).status,
      200,
    );
  });

  it('keeps every field of a hit through response serialisation (snippet, explain, metadata)', async () => {
    const r = await call(base, 'POST', '/v1/collections/notes/search', {
      query: 'black tea',
      mode: 'hybrid',
      explain: true,
      snippets: true,
    });
    const hit = (r.json['hits'] as Json[])[0]!;
    assert.equal(hit['id'], 'n1');
    assert.deepEqual(hit['metadata'], { kind: 'drink' });
    assert.match((hit['snippet'] as { html: string }).html, /<mark>/);
    const explain = hit['explain'] as { retrievers: Record<string, { rank: number }>; fused: number };
    assert.equal(explain.retrievers['lexical']!.rank, 1);
    assert.ok(explain.retrievers['dense'], 'the dense retriever is explained too');
    assert.equal(typeof explain.fused, 'number');
  });

  it('answers unknown routes and jobs with 404 and their own codes', async () => {
    const route = await call(base, 'GET', '/v1/nothing-here');
    assert.deepEqual([route.status, errorOf(route).code], [404, 'ROUTE_NOT_FOUND']);
    const job = await call(base, 'GET', '/v1/jobs/job_nope');
    assert.deepEqual([job.status, errorOf(job).code, errorOf(job).field], [404, 'JOB_NOT_FOUND', 'id']);
    const badName = await call(base, 'GET', '/v1/collections/bad%20name');
    assert.deepEqual(
      [badName.status, errorOf(badName).code, errorOf(badName).field],
      [400, 'INVALID_ARGUMENT', 'name'],
    );
    assert.ok(errorOf(badName).hint.length > 0, 'every error carries a hint');
  });

  it('sends CORS headers to allowed origins only and answers preflights', async () => {
    const pre = await fetch(`${base}/v1/collections`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const other = await call(base, 'GET', '/v1/collections', undefined, { origin: 'https://evil.example' });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it("serves a document's image and nothing that is not an image", async () => {
    const png = join(t.dir, 'red.png');
    await sharp({ create: { width: 4, height: 4, channels: 3, background: '#ff0000' } })
      .png()
      .toFile(png);
    const secret = join(t.dir, 'secret.txt');
    writeFileSync(secret, 'do not serve');
    await call(base, 'POST', '/v1/collections/notes/documents', {
      documents: [
        { id: 'img', text: 'a red square', metadata: { image: png } },
        { id: 'txt', text: 'sneaky', metadata: { image: secret } },
      ],
    });
    const res = await fetch(`${base}/v1/collections/notes/documents/img/image`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.equal(meta.width, 4);
    const refused = await call(base, 'GET', '/v1/collections/notes/documents/txt/image');
    assert.deepEqual([refused.status, errorOf(refused).code], [404, 'FILE_NOT_FOUND']);
    assert.equal(
      errorOf(await call(base, 'GET', '/v1/collections/notes/documents/n1/image')).field,
      'metadata.image',
    );
    assert.equal(
      (await fetch(`${base}/v1/collections/notes/documents/img/image`)).status,
      401,
      'images need a key too',
    );
  });

  it('counts usage tokens per request exactly, even for concurrent requests', async () => {
    const one = async (input: string[]) =>
      (await call(base, 'POST', '/v1/embeddings', { model: 'static:glove-100', input })).json['usage'] as {
        prompt_tokens: number;
        total_tokens: number;
      };
    const a = ['one two three four five six'];
    const b = ['seven eight', 'nine'];
    const [alone, alsoAlone] = [await one(a), await one(b)];
    const together = await Promise.all([one(a), one(b), one(a), one(b)]);
    assert.deepEqual(together, [alone, alsoAlone, alone, alsoAlone]);
    assert.equal(alone.prompt_tokens, alone.total_tokens);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /quiver_embedded_tokens_total [1-9]/);
  });

  it('publishes request and response schemas in /openapi.json', async () => {
    const doc = (await call(base, 'GET', '/openapi.json')).json as {
      paths: Record<string, Record<string, Json>>;
    };
    const emb = doc.paths['/v1/embeddings']!['post']!;
    const ok = (emb['responses'] as Record<string, { content: { 'application/json': { schema: Json } } }>)[
      '200'
    ]!;
    assert.deepEqual(ok.content['application/json'].schema['required'], ['object', 'data', 'model', 'usage']);
    assert.ok(doc.paths['/v1/collections/{name}/documents/{id}/image'], 'the image route is documented');
    assert.equal((doc.paths['/healthz']!['get']!['security'] as unknown[]).length, 0, 'health is public');
  });
});

describe('server lifecycle and modes', () => {
  it('finishes an in-flight write and a running ingest job when closed, then refuses new requests', async () => {
    const t = tempDir();
    const quiver = await Quiver.open({ data: t.dir });
    const app = await createServer({ quiver, apiKeys: [{ key: KEY, scopes: ['admin'] }] });
    // Close only once the batch is really in flight (received and being handled), not merely sent.
    let markInFlight = () => {};
    const inFlight = new Promise<void>((resolve) => (markInFlight = resolve));
    app.addHook('preHandler', async (req) => {
      if (req.url === '/v1/collections/c/documents') markInFlight();
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    await call(base, 'POST', '/v1/collections', {
      name: 'c',
      config: { vectors: [{ name: 'dense', model: 'static:glove-100' }] },
    });
    const docs = Array.from({ length: 800 }, (_, i) => ({
      id: `d${i}`,
      text: `document ${i} about tea, bread and the number ${i * 7}`,
    }));
    const jsonl = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ id: `j${i}`, text: `ingested line ${i} on coffee` }),
    ).join('\n');
    const job = await call(base, 'POST', '/v1/collections/c/ingest', jsonl, {
      'content-type': 'application/x-ndjson',
    });
    assert.equal(job.status, 202);
    const write = call(base, 'POST', '/v1/collections/c/documents', { documents: docs });
    await inFlight;
    await app.close(); // waits for the write and the job
    const written = await write;
    assert.equal(written.status, 200);
    assert.equal(written.json['upserted'], 800);
    const c = await quiver.getCollection('c');
    assert.equal(
      await c.count(),
      3800,
      'both the batch and the whole ingest job were committed before close returned',
    );
    await quiver.close();
    t.cleanup();
  });

  it('without keys and without open mode, refuses everything but the public routes', async () => {
    const t = tempDir();
    const quiver = await Quiver.open({ data: t.dir });
    const app = await createServer({ quiver });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    assert.equal((await fetch(`${base}/v1/collections`)).status, 401);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    await app.close();
    const openApp = await createServer({ quiver, open: true });
    const openBase = await openApp.listen({ port: 0, host: '127.0.0.1' });
    assert.equal((await fetch(`${openBase}/v1/collections`)).status, 200, 'open mode needs no key');
    await openApp.close();
    await quiver.close();
    t.cleanup();
  });

  it('`quiver serve` logs JSON, serves, and exits 0 promptly on SIGTERM', async () => {
    const t = tempDir();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'src/cli/main.ts'),
        'serve',
        '--data',
        t.dir,
        '--port',
        '0',
        '--api-key',
        KEY,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, QUIVER_API_KEYS: '' },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let base = '';
      for (let i = 0; i < 150 && !base; i++) {
        base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
        if (!base) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(base, `the server said where it listens:\n${out}`);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal(
        (await fetch(`${base}/v1/collections`, { headers: { authorization: `Bearer ${KEY}` } })).status,
        200,
      );
      // Access logs are written asynchronously after the response: wait for the line.
      const healthLines = () => out.split('\n').filter((l) => l.includes('"url":"/healthz"'));
      for (let i = 0; i < 50 && healthLines().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      const lines = healthLines();
      assert.equal(lines.length, 1, 'one log line per request');
      const logged = JSON.parse(lines[0]!) as {
        level: number;
        statusCode: number;
        method: string;
        ms: number;
      };
      assert.equal(logged.level, 30, 'requests are logged as structured JSON (pino)');
      assert.equal(logged.statusCode, 200);
      assert.equal(logged.method, 'GET');
      assert.ok(logged.ms >= 0);
      const t0 = performance.now();
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(performance.now() - t0 < 5000, 'keep-alive connections do not hold the shutdown');
      assert.match(out, /SIGTERM: finishing in-flight requests/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      t.cleanup();
    }
  });

  it('`quiver serve --log-level` rejects unknown levels, naming the option', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'serve', '--log-level', 'loud', '--port', '0'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /INVALID_ARGUMENT at field "log-level": --log-level must be one of fatal, error, warn, info/,
    );
  });

  it('refuses to bind beyond loopback without keys or --open', async () => {
    const saved = process.env['QUIVER_API_KEYS'];
    delete process.env['QUIVER_API_KEYS'];
    const t = tempDir();
    try {
      await assert.rejects(
        startServer({ data: t.dir, port: 0, host: '0.0.0.0' }),
        (e: unknown) => isQuiverError(e) && e.code === 'INVALID_CONFIG',
      );
    } finally {
      if (saved !== undefined) process.env['QUIVER_API_KEYS'] = saved;
      t.cleanup();
    }
  });
});

describe('API keys', () => {
  it('parses QUIVER_API_KEYS and rejects unknown scopes', () => {
    assert.deepEqual(parseApiKeys('k1:read,write; k2:admin ;k3'), [
      { key: 'k1', scopes: ['read', 'write'] },
      { key: 'k2', scopes: ['admin'] },
      { key: 'k3', scopes: ['read'] },
    ]);
    assert.throws(
      () => parseApiKeys('k1:root'),
      (e: unknown) => isQuiverError(e) && e.code === 'INVALID_CONFIG',
    );
  });

  it('accepts "Bearer <key>" and a bare key, 401 for unknown, 403 for a missing scope', () => {
    const auth = new Authenticator([{ key: 'r', scopes: ['read'] }], false);
    auth.require('Bearer r', 'read');
    auth.require('r', 'read');
    assert.throws(
      () => auth.require(undefined, 'read'),
      (e: unknown) => isQuiverError(e) && e.code === 'UNAUTHORIZED',
    );
    assert.throws(
      () => auth.require('Bearer x', 'read'),
      (e: unknown) => isQuiverError(e) && e.code === 'UNAUTHORIZED',
    );
    assert.throws(
      () => auth.require('Bearer r', 'write'),
      (e: unknown) => isQuiverError(e) && e.code === 'FORBIDDEN',
    );
  });
});
