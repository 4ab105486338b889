/**
 * The remote sparse encoder against a real loopback HTTP server that implements TEI's
 * `POST /embed_sparse` with real numbers: the local ONNX encoder's pooled id weights for the tiny
 * random SPLADE fixture (special tokens included, nothing pruned, as TEI answers). Fault injection:
 * 429 with Retry-After, 500s, slow answers, malformed JSON, wrong counts, bad entries.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { QuiverError } from '../../errors.js';
import { TINY_SPLADE } from '../../testing/paths.js';
import { OnnxSparseEncoder } from './onnx-sparse-encoder.js';
import { RemoteSparseEncoder } from './remote-sparse-encoder.js';
import {
  assertSparseClose,
  assertValidSparse,
  runSparseEncoderConformance,
} from './sparse-encoder.conformance.js';

type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'slow'; ms: number }
  | { kind: 'malformed' }
  | { kind: 'count' }
  | { kind: 'entry'; entry: unknown };

interface SeenRequest {
  path: string;
  inputs: string[] | string;
  truncate?: boolean;
  auth?: string;
  at: number;
}

class FakeTei {
  faults: Fault[] = [];
  requests: SeenRequest[] = [];
  url = '';
  private server!: Server;
  private stopped = false;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly model: OnnxSparseEncoder) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        void this.handle(req.url ?? '', req.headers.authorization, raw, res);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(
    path: string,
    auth: string | undefined,
    raw: string,
    res: import('node:http').ServerResponse,
  ): Promise<void> {
    const body = JSON.parse(raw) as { inputs: string[] | string; truncate?: boolean };
    this.requests.push({
      path,
      inputs: body.inputs,
      at: Date.now(),
      ...(body.truncate !== undefined ? { truncate: body.truncate } : {}),
      ...(auth ? { auth } : {}),
    });
    if (path !== '/embed_sparse') return void res.writeHead(404).end('no such route');
    const inputs = typeof body.inputs === 'string' ? [body.inputs] : body.inputs;
    const reply = async () => {
      // A slow answer may come due after the server stopped; the model may be closed by then.
      if (this.stopped) return void res.destroy();
      const pending = this.model.poolIds(inputs);
      this.pending.add(pending);
      const pooled = await pending.finally(() => this.pending.delete(pending));
      const json = pooled.map((p) => p.ids.map((index, j) => ({ index, value: p.weights[j]! })));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const fault = this.faults.shift();
    if (!fault) return reply();
    if (fault.kind === 'status') {
      res.writeHead(fault.status, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      return void res.end(
        fault.body ?? JSON.stringify({ error: `error ${fault.status}`, error_type: 'Backend' }),
      );
    }
    if (fault.kind === 'slow') return void setTimeout(() => void reply(), fault.ms);
    if (fault.kind === 'malformed') return void res.writeHead(200).end('[[{"index": 1, "val');
    if (fault.kind === 'count') return void res.writeHead(200).end(JSON.stringify([]));
    res.writeHead(200).end(JSON.stringify(inputs.map(() => [fault.entry])));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.pending]);
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

let local: OnnxSparseEncoder;
let tei: FakeTei;
before(async () => {
  // topK 0: the local encoder is also the reference for the remote vectors, pruned per test.
  local = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'tiny-splade', topK: 0 });
  tei = new FakeTei(local);
  await tei.start();
});
after(async () => {
  await tei.stop();
  await local.close();
});
beforeEach(() => {
  tei.faults = [];
  tei.requests = [];
});

const fast = { retries: 3, timeoutMs: 2000 };

runSparseEncoderConformance('remote (loopback TEI /embed_sparse backed by the ONNX encoder)', async () => {
  const encoder = new RemoteSparseEncoder({
    url: tei.url,
    model: 'tiny-splade',
    tokenizerDir: TINY_SPLADE,
    batchSize: 3,
    concurrency: 2,
  });
  return {
    encoder,
    documentTopK: encoder.documentTopK,
    queryTopK: encoder.queryTopK,
    countsTruncation: false,
    cleanup: () => encoder.close(),
  };
});

describe('RemoteSparseEncoder', () => {
  const texts = ['how much protein should a female eat', 'Paris is the capital of France.', 'a b c'];

  it('gives the same vectors as the local encoder of the same model (tokens via the tokenizer)', async () => {
    const remote = new RemoteSparseEncoder({
      url: tei.url,
      model: 'tiny-splade',
      tokenizerDir: TINY_SPLADE,
      topK: 40,
    });
    const pruned = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'tiny-splade', topK: 40 });
    try {
      const [r, l] = [await remote.encodeDocuments(texts), await pruned.encodeDocuments(texts)];
      r.forEach((v, i) => {
        assert.equal(Object.keys(v).length, 40);
        assertSparseClose(v, l[i]!, 1e-6, `text ${i}`);
      });
      // Queries keep every term by default, as locally.
      assert.deepEqual(await remote.encodeQueries(texts), await local.encodeQueries(texts));
    } finally {
      await pruned.close();
    }
  });

  it('without a tokenizer the vocabulary id is the term (specials kept: they cannot be told apart)', async () => {
    const remote = new RemoteSparseEncoder({ url: tei.url, model: 'tiny-splade', topK: 0 });
    const [v] = await remote.encodeDocuments([texts[0]!]);
    const [raw] = await local.poolIds([texts[0]!]);
    assert.deepEqual(v, Object.fromEntries(raw!.ids.map((id, j) => [String(id), raw!.weights[j]!])));
    assertValidSparse(v!, 'ids as terms');
  });

  it('POSTs {inputs, truncate: true} to /embed_sparse with the key, in batches, skipping blank texts', async () => {
    const remote = new RemoteSparseEncoder({
      url: `${tei.url}/`,
      model: 'tiny-splade',
      apiKey: 'sk-sparse',
      batchSize: 2,
      concurrency: 1,
    });
    const vecs = await remote.encodeDocuments(['one', '', 'two', 'three', '  ', 'four', 'five']);
    assert.deepEqual(
      tei.requests.map((r) => r.inputs),
      [['one', 'two'], ['three', 'four'], ['five']],
    );
    for (const r of tei.requests) {
      assert.equal(r.path, '/embed_sparse');
      assert.equal(r.truncate, true);
      assert.equal(r.auth, 'Bearer sk-sparse');
    }
    assert.deepEqual(vecs[1], {});
    assert.deepEqual(vecs[4], {});
    assert.ok(Object.keys(vecs[0]!).length > 0);
    // A URL that already names the route is used as is.
    const named = new RemoteSparseEncoder({ url: `${tei.url}/embed_sparse`, model: 'm' });
    assert.equal(named.url, `${tei.url}/embed_sparse`);
  });

  it('retries a 429 after the Retry-After delay, then succeeds', async () => {
    tei.faults.push({ kind: 'status', status: 429, retryAfter: '1' });
    const remote = new RemoteSparseEncoder({ url: tei.url, model: 'm', ...fast });
    const [v] = await remote.encodeQueries(['hello']);
    assert.ok(Object.keys(v!).length > 0);
    assert.equal(tei.requests.length, 2);
    const gap = tei.requests[1]!.at - tei.requests[0]!.at;
    assert.ok(gap >= 950, `waited ${gap} ms for Retry-After: 1`);
  });

  it('retries 500s and gives up with REMOTE_ERROR carrying the status and body', async () => {
    for (let i = 0; i < 3; i++) tei.faults.push({ kind: 'status', status: 500, body: 'CUDA out of memory' });
    const remote = new RemoteSparseEncoder({ url: tei.url, model: 'm', retries: 2, timeoutMs: 2000 });
    await assert.rejects(remote.encodeDocuments(['x']), (e: QuiverError) => {
      assert.equal(e.code, 'REMOTE_ERROR');
      assert.match(e.message, /500: CUDA out of memory/);
      assert.equal(e.details?.['status'], 500);
      return true;
    });
    assert.equal(tei.requests.length, 3);
  });

  it('does not retry a 4xx (e.g. 424: not a SPLADE model)', async () => {
    tei.faults.push({
      kind: 'status',
      status: 424,
      body: '{"error":"model is not an embedding model with SPLADE pooling"}',
    });
    const remote = new RemoteSparseEncoder({ url: tei.url, model: 'm', ...fast });
    await assert.rejects(
      remote.encodeDocuments(['x']),
      (e: QuiverError) => e.code === 'REMOTE_ERROR' && /424/.test(e.message),
    );
    assert.equal(tei.requests.length, 1);
  });

  it('times out a slow server with TIMEOUT after its retries', async () => {
    tei.faults.push({ kind: 'slow', ms: 600 }, { kind: 'slow', ms: 600 });
    const remote = new RemoteSparseEncoder({ url: tei.url, model: 'm', retries: 1, timeoutMs: 150 });
    await assert.rejects(remote.encodeDocuments(['x']), (e: QuiverError) => e.code === 'TIMEOUT');
  });

  it('rejects malformed answers with REMOTE_ERROR naming the problem', async () => {
    const remote = new RemoteSparseEncoder({ url: tei.url, model: 'm', ...fast });
    const cases: [Fault, RegExp][] = [
      [{ kind: 'malformed' }, /invalid JSON/],
      [{ kind: 'count' }, /returned 0 sparse vectors for 1 inputs/],
      [{ kind: 'entry', entry: { index: -1, value: 1 } }, /bad index -1/],
      [{ kind: 'entry', entry: { index: 1.5, value: 1 } }, /bad index 1.5/],
      [{ kind: 'entry', entry: { index: 7, value: 'NaN' } }, /non-finite value at index 7/],
    ];
    for (const [fault, message] of cases) {
      tei.faults.push(fault);
      await assert.rejects(remote.encodeDocuments(['x']), (e: QuiverError) => {
        assert.equal(e.code, 'REMOTE_ERROR');
        assert.match(e.message, message);
        return true;
      });
    }
    // Zero weights are not terms.
    tei.faults.push({ kind: 'entry', entry: { index: 2003, value: 0 } });
    assert.deepEqual(await remote.encodeDocuments(['x']), [{}]);
  });

  it('fails with REMOTE_ERROR when nothing listens', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const remote = new RemoteSparseEncoder({
      url: `http://127.0.0.1:${port}`,
      model: 'm',
      retries: 1,
      timeoutMs: 500,
    });
    await assert.rejects(remote.encodeDocuments(['x']), (e: QuiverError) => e.code === 'REMOTE_ERROR');
  });
});
