/**
 * createSparseEncoder: which provider a SparseFieldConfig gets, the user-vectors refusal, the hub
 * download of a known model (from a loopback fake hub serving the tiny fixture under the real
 * repository layout), and the errors for models with no ONNX export or no network.
 */
import assert from 'node:assert/strict';
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QuiverError } from '../../errors.js';
import { TINY_SPLADE, tempDir } from '../../testing/paths.js';
import {
  OnnxSparseEncoder,
  RemoteSparseEncoder,
  UserSparseVectorsError,
  createSparseEncoder,
  findSparseModelSpec,
  isUserSparseModel,
  registerSparseModel,
} from './index.js';

/** Serves prithivida/Splade_PP_en_v1 as the hub lays it out: model.onnx and tokenizer.json at the root. */
class FakeHub {
  url = '';
  requests: string[] = [];
  private server!: Server;
  private readonly files: Record<string, string> = {
    '/prithivida/Splade_PP_en_v1/resolve/main/model.onnx': join(TINY_SPLADE, 'onnx', 'model.onnx'),
    '/prithivida/Splade_PP_en_v1/resolve/main/tokenizer.json': join(TINY_SPLADE, 'tokenizer.json'),
    '/prithivida/Splade_PP_en_v1/resolve/main/tokenizer_config.json': join(
      TINY_SPLADE,
      'tokenizer_config.json',
    ),
  };

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      const path = this.files[req.url ?? ''];
      if (!path) return void res.writeHead(404).end('Entry not found');
      res.writeHead(200, { 'content-length': String(statSync(path).size) });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(path).pipe(res);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('createSparseEncoder', () => {
  const hub = new FakeHub();
  before(() => hub.start());
  after(() => hub.stop());

  it("refuses model 'user' with a typed error: user-supplied vectors need no encoder", async () => {
    assert.equal(isUserSparseModel({ model: 'user' }), true);
    assert.equal(isUserSparseModel({ model: 'naver/splade-v3' }), false);
    await assert.rejects(createSparseEncoder({ name: 'splade', model: 'user' }), (e: unknown) => {
      assert.ok(e instanceof UserSparseVectorsError);
      assert.ok(e instanceof QuiverError);
      assert.equal(e.code, 'INVALID_CONFIG');
      assert.equal(e.location.field, 'sparse.splade.model');
      assert.equal(e.details?.['userVectors'], true);
      assert.match(e.message, /no encoder/);
      return true;
    });
  });

  it('modelDir → local ONNX with the configured top-k', async () => {
    const e = await createSparseEncoder({
      name: 's',
      model: 'my-splade',
      modelDir: TINY_SPLADE,
      topK: 10,
      queryTopK: 5,
    });
    try {
      assert.ok(e instanceof OnnxSparseEncoder);
      assert.equal(e.model, 'my-splade');
      const [d] = await e.encodeDocuments(['protein synthesis']);
      const [q] = await e.encodeQueries(['protein synthesis']);
      assert.equal(Object.keys(d!).length, 10);
      assert.equal(Object.keys(q!).length, 5);
    } finally {
      await e.close();
    }
  });

  it('url → the remote TEI client (modelDir then names its tokenizer)', async () => {
    const e = await createSparseEncoder({
      name: 's',
      model: 'splade-v3',
      url: 'http://127.0.0.1:9',
      modelDir: TINY_SPLADE,
    });
    assert.ok(e instanceof RemoteSparseEncoder);
    assert.equal(e.model, 'naver/splade-v3', 'aliases resolve to the registry name');
    assert.equal(e.url, 'http://127.0.0.1:9/embed_sparse');
  });

  it('a known hub model is downloaded into the cache and loaded from there', async () => {
    const { dir: cacheDir, cleanup } = tempDir();
    try {
      const e = await createSparseEncoder(
        { name: 's', model: 'splade-pp-en-v1', topK: 0 },
        { cacheDir, hub: { endpoint: hub.url } },
      );
      const ref = await OnnxSparseEncoder.load(TINY_SPLADE, { model: 'ref', topK: 0 });
      try {
        assert.ok(e instanceof OnnxSparseEncoder);
        assert.equal(e.model, 'prithivida/Splade_PP_en_v1');
        assert.equal(
          e.modelPath,
          join(cacheDir, 'models', 'prithivida', 'Splade_PP_en_v1', 'main', 'model.onnx'),
        );
        assert.ok(hub.requests.includes('GET /prithivida/Splade_PP_en_v1/resolve/main/model.onnx'));
        assert.deepEqual(
          await e.encodeDocuments(['a cached model']),
          await ref.encodeDocuments(['a cached model']),
        );
      } finally {
        await e.close();
        await ref.close();
      }
    } finally {
      cleanup();
    }
  });

  it('a known model without a hub ONNX export says how to get one, without touching the network', async () => {
    const before = hub.requests.length;
    for (const model of ['naver/splade-v3', 'naver/splade-cocondenser-ensembledistil']) {
      await assert.rejects(
        createSparseEncoder({ name: 's', model }, { hub: { endpoint: hub.url } }),
        (e: QuiverError) => {
          assert.equal(e.code, 'MODEL_NOT_FOUND');
          assert.match(e.message, /publishes no ONNX export/);
          assert.match(e.message, new RegExp(`optimum-cli export onnx --model ${model} --task fill-mask`));
          assert.match(e.message, /modelDir/);
          return true;
        },
      );
    }
    assert.equal(hub.requests.length, before);
  });

  it('an unknown model without modelDir or url is MODEL_NOT_FOUND listing the known ones', async () => {
    await assert.rejects(createSparseEncoder({ name: 's', model: 'nobody/splade' }), (e: QuiverError) => {
      assert.equal(e.code, 'MODEL_NOT_FOUND');
      assert.match(e.message, /prithivida\/Splade_PP_en_v1/);
      return true;
    });
  });

  it('offline: the download fails with MODEL_DOWNLOAD_FAILED pointing at modelDir', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const { dir: cacheDir, cleanup } = tempDir();
    try {
      await assert.rejects(
        createSparseEncoder(
          { name: 's', model: 'prithivida/Splade_PP_en_v1' },
          { cacheDir, hub: { endpoint: `http://127.0.0.1:${port}`, attempts: 1, timeoutMs: 1000 } },
        ),
        (e: QuiverError) => e.code === 'MODEL_DOWNLOAD_FAILED' && /--model-dir/.test(e.message),
      );
    } finally {
      cleanup();
    }
  });

  it('rejects a bad topK and registers user specs (inference-free query mode)', async () => {
    await assert.rejects(
      createSparseEncoder({ name: 's', model: 'x', modelDir: TINY_SPLADE, topK: 2.5 }),
      (e: QuiverError) => e.code === 'INVALID_CONFIG' && e.location.field === 'sparse.s.topK',
    );
    await assert.rejects(
      createSparseEncoder({ name: 's', model: 'x', modelDir: TINY_SPLADE, queryTopK: -3 }),
      (e: QuiverError) => e.code === 'INVALID_CONFIG' && e.location.field === 'sparse.s.queryTopK',
    );
    registerSparseModel({ name: 'test/free-splade', maxTokens: 16, queryMode: 'tokens' });
    assert.equal(findSparseModelSpec('TEST/free-splade')?.queryMode, 'tokens');
    const e = await createSparseEncoder({ name: 's', model: 'test/free-splade', modelDir: TINY_SPLADE });
    try {
      assert.ok(e instanceof OnnxSparseEncoder);
      assert.equal(e.maxTokens, 16);
      assert.deepEqual(Object.values((await e.encodeQueries(['protein']))[0]!), [1]);
    } finally {
      await e.close();
    }
    assert.throws(
      () => registerSparseModel({ name: 'x', maxTokens: 1, queryMode: 'encoder' }),
      (err: QuiverError) => err.code === 'INVALID_CONFIG',
    );
  });
});
