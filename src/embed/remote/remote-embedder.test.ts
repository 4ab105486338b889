/**
 * The remote provider against a real OpenAI-compatible /v1/embeddings server on loopback whose
 * vectors are a deterministic function of each input string, with fault injection: 429 with
 * Retry-After then OK, 500s, slow responses, malformed JSON, wrong shapes and dimensions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runEmbedderConformance } from '../embedder.conformance.js';
import { createEmbedder, formatInput, getModelSpec } from '../index.js';
import { RemoteEmbedder, parseRetryAfter } from './remote-embedder.js';

const DIMS = 16;

/** A vector derived from a hash of the text, so any server instance gives the same answer. */
function vectorOf(text: string, dims = DIMS): number[] {
  const h = createHash('sha512').update(text).digest();
  return Array.from({ length: dims }, (_, i) => (h[i % h.length]! - 127.5) / 50 + i / 1000);
}

type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'slow'; ms: number }
  | { kind: 'malformed' }
  | { kind: 'short' }
  | { kind: 'dims'; dims: number }
  | { kind: 'shuffled' };

class FakeEmbeddingServer {
  faults: Fault[] = [];
  requests: { model: string; input: string[]; auth?: string; at: number }[] = [];
  url = '';
  private server!: Server;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as { model: string; input: string[] };
        this.requests.push({
          model: body.model,
          input: body.input,
          at: Date.now(),
          ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
        });
        if (req.url !== '/v1/embeddings') return void res.writeHead(404).end('no such route');
        const fault = this.faults.shift();
        const reply = (dims = DIMS, shuffle = false) => {
          let data = body.input.map((t, index) => ({
            object: 'embedding',
            index,
            embedding: vectorOf(t, dims),
          }));
          if (shuffle) data = data.reverse();
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: 3 } }));
        };
        if (!fault) return reply();
        if (fault.kind === 'status') {
          res.writeHead(fault.status, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
          return void res.end(fault.body ?? `error ${fault.status}`);
        }
        if (fault.kind === 'slow') return void setTimeout(() => reply(), fault.ms);
        if (fault.kind === 'malformed') return void res.writeHead(200).end('{"data": [oops');
        if (fault.kind === 'short') return void res.writeHead(200).end(JSON.stringify({ data: [] }));
        if (fault.kind === 'dims') return reply(fault.dims);
        reply(DIMS, true);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

const server = new FakeEmbeddingServer();
before(() => server.start());
after(() => server.stop());
beforeEach(() => {
  server.faults = [];
  server.requests = [];
});

const spec = () => ({ ...getModelSpec('e5-small-v2'), dims: DIMS });
const fast = { retries: 3, timeoutMs: 2000 };

runEmbedderConformance('remote (loopback /v1/embeddings)', async () => {
  const embedder = new RemoteEmbedder(spec(), { baseUrl: server.url, batchSize: 3, concurrency: 2 });
  return { embedder, cleanup: () => embedder.close() };
});

describe('remote provider', () => {
  it('sends the registry-formatted strings, the server-side model name and the API key', async () => {
    const e = await createEmbedder('multilingual-e5-large-instruct', {
      remote: { baseUrl: `${server.url}/v1`, apiKey: 'sk-test', model: 'served-name' },
    });
    await e.embed(['what is a quark'], { role: 'query', task: 'scifact' }).catch(() => undefined); // 16 ≠ 1024 dims
    const sent = server.requests[0]!;
    assert.equal(sent.model, 'served-name');
    assert.equal(sent.auth, 'Bearer sk-test');
    assert.deepEqual(sent.input, [
      formatInput(getModelSpec('multilingual-e5-large-instruct'), 'what is a quark', {
        role: 'query',
        task: 'scifact',
      }),
    ]);
    assert.match(sent.input[0]!, /^Instruct: Given a scientific claim/);
  });

  it('batches by batchSize with bounded concurrency and keeps input order', async () => {
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, batchSize: 2, concurrency: 3 });
    const texts = Array.from({ length: 7 }, (_, i) => `text number ${i}`);
    const vecs = await e.embed(texts, { role: 'document' });
    assert.deepEqual(server.requests.map((r) => r.input.length).sort(), [1, 2, 2, 2]);
    const [single] = await e.embed([texts[5]!], { role: 'document' });
    assert.deepEqual(vecs[5], single);
  });

  it('puts shuffled response items back by their index', async () => {
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, ...fast });
    const ref = await e.embed(['a', 'b', 'c'], { role: 'document' });
    server.faults.push({ kind: 'shuffled' });
    assert.deepEqual(await e.embed(['a', 'b', 'c'], { role: 'document' }), ref);
  });

  it('retries a 429 after the Retry-After delay, then succeeds', async () => {
    server.faults.push({ kind: 'status', status: 429, retryAfter: '1' });
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, ...fast });
    const [v] = await e.embed(['hello'], { role: 'query' });
    assert.equal(v!.length, DIMS);
    assert.equal(server.requests.length, 2);
    const gap = server.requests[1]!.at - server.requests[0]!.at;
    assert.ok(gap >= 950, `waited ${gap} ms for Retry-After: 1`);
  });

  it('retries 500s with backoff and gives up with REMOTE_ERROR, status and body excerpt', async () => {
    for (let i = 0; i < 3; i++)
      server.faults.push({ kind: 'status', status: 500, body: 'CUDA out of memory' });
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, retries: 2, timeoutMs: 2000 });
    await assert.rejects(
      e.embed(['x'], { role: 'query' }),
      (err: Error & { code?: string; details?: object }) => {
        assert.equal(err.code, 'REMOTE_ERROR');
        assert.match(err.message, /500/);
        assert.match(err.message, /CUDA out of memory/);
        assert.equal((err.details as { status?: number }).status, 500);
        return true;
      },
    );
    assert.equal(server.requests.length, 3);
  });

  it('recovers when a 503 is followed by success', async () => {
    server.faults.push({ kind: 'status', status: 503 });
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, ...fast });
    assert.equal((await e.embed(['x'], { role: 'query' })).length, 1);
  });

  it('does not retry a 400: it is the request that is wrong', async () => {
    server.faults.push({ kind: 'status', status: 400, body: '{"error":"input too long"}' });
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, ...fast });
    await assert.rejects(e.embed(['x'], { role: 'query' }), /400.*input too long/);
    assert.equal(server.requests.length, 1);
  });

  it('times out a slow response with TIMEOUT', async () => {
    server.faults.push({ kind: 'slow', ms: 1500 }, { kind: 'slow', ms: 1500 });
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, retries: 1, timeoutMs: 200 });
    await assert.rejects(e.embed(['x'], { role: 'query' }), { code: 'TIMEOUT' });
  });

  it('a slow response within the timeout is fine', async () => {
    server.faults.push({ kind: 'slow', ms: 100 });
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, ...fast });
    assert.equal((await e.embed(['x'], { role: 'query' }))[0]!.length, DIMS);
  });

  it('rejects malformed JSON, a wrong count and wrong dimensions', async () => {
    const e = new RemoteEmbedder(spec(), { baseUrl: server.url, ...fast });
    server.faults.push({ kind: 'malformed' });
    await assert.rejects(e.embed(['x'], { role: 'query' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'REMOTE_ERROR');
      assert.match(err.message, /invalid JSON/);
      return true;
    });
    server.faults.push({ kind: 'short' });
    await assert.rejects(e.embed(['x', 'y'], { role: 'query' }), /0 embeddings for 2 inputs/);
    server.faults.push({ kind: 'dims', dims: 8 });
    await assert.rejects(e.embed(['x'], { role: 'query' }), { code: 'DIMENSION_MISMATCH' });
  });

  it('network errors (nothing listening) are REMOTE_ERROR after retries', async () => {
    const e = new RemoteEmbedder(spec(), { baseUrl: 'http://127.0.0.1:1', retries: 1, timeoutMs: 1000 });
    await assert.rejects(e.embed(['x'], { role: 'query' }), { code: 'REMOTE_ERROR' });
  });

  it('normalises unless told not to; Matryoshka truncation is client-side', async () => {
    const raw = new RemoteEmbedder(spec(), { baseUrl: server.url, normalize: false });
    const [r] = await raw.embed(['abc'], { role: 'query' });
    assert.deepEqual(Array.from(r!), Array.from(Float32Array.from(vectorOf('query: abc'))));
    const unit = new RemoteEmbedder(spec(), { baseUrl: server.url });
    const [cut] = await unit.embed(['abc'], { role: 'query', dimensions: 4 });
    assert.equal(cut!.length, 4);
    assert.ok(Math.abs(Math.hypot(...cut!) - 1) < 1e-6);
  });

  it('a remote-only model without an endpoint is a clear INVALID_CONFIG', async () => {
    const saved = process.env.QUIVER_REMOTE_URL;
    delete process.env.QUIVER_REMOTE_URL;
    await assert.rejects(createEmbedder('e5-mistral-7b-instruct'), /OpenAI-compatible endpoint/);
    if (saved !== undefined) process.env.QUIVER_REMOTE_URL = saved;
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('2'), 2000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 7_000), 3000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter('9999'), 30_000);
  });
});
