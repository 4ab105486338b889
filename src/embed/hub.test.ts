/**
 * Model downloads against a fake hub: a real node:http server on 127.0.0.1 that answers like
 * huggingface.co (LFS files: 302 with X-Linked-Etag / X-Linked-Size to a "CDN" path; small files:
 * 200 with a git-sha1 ETag), with fault injection — a connection cut mid-file, a wrong hash, 404.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createEmbedder, registerModel } from './index.js';
import { downloadFile, downloadModel, fileUrl, modelCacheDir } from './hub.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface FakeFile {
  body: Buffer;
  lfs: boolean;
  /** Advertise this sha256 instead of the real one. */
  wrongHash?: boolean;
  /** Cut the connection after this many bytes on the first full GET. */
  cutAfter?: number;
}

class FakeHub {
  files = new Map<string, FakeFile>();
  log: { method: string; path: string; range?: string; auth?: string }[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url!, this.url).pathname);
    this.log.push({
      method: req.method!,
      path,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
    });
    const cdn = path.startsWith('/cdn/');
    const key = cdn ? path.slice('/cdn'.length) : path; // /<repo>/resolve/<rev>/<file>
    const f = this.files.get(key);
    if (!f) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    if (f.lfs && !cdn) {
      // Like the hub: the LFS metadata is on the redirect, the bytes come from elsewhere.
      const oid = f.wrongHash ? sha256(Buffer.from('something else')) : sha256(f.body);
      res.writeHead(302, {
        location: `/cdn${key}`,
        'x-linked-etag': `"${oid}"`,
        'x-linked-size': String(f.body.length),
        etag: '"0123456789abcdef0123456789abcdef01234567"',
      });
      res.end();
      return;
    }
    const gitSha1 = createHash('sha1').update(f.body).digest('hex');
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const headers: Record<string, string> = { etag: `"${gitSha1}"`, 'accept-ranges': 'bytes' };
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': String(f.body.length) }).end();
      return;
    }
    const slice = f.body.subarray(start);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'content-length': String(slice.length),
      ...(range ? { 'content-range': `bytes ${start}-${f.body.length - 1}/${f.body.length}` } : {}),
    });
    if (f.cutAfter !== undefined && !range) {
      const cut = f.cutAfter;
      delete f.cutAfter;
      res.write(slice.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(slice);
  }
}

const hub = new FakeHub();
let cache: string;
const REPO = 'acme/model';
const key = (file: string, rev = 'main') => `/${REPO}/resolve/${rev}/${file}`;

before(async () => {
  await hub.start();
});
after(async () => {
  await hub.stop();
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'quiver-hub-'));
  hub.files.clear();
  hub.log = [];
});

describe('hub download', () => {
  it('downloads an LFS file through the redirect and verifies its sha256; a second call is offline', async () => {
    const body = randomBytes(300_000);
    hub.files.set(key('onnx/model.onnx'), { body, lfs: true });
    const path = await downloadFile(REPO, 'onnx/model.onnx', { endpoint: hub.url, cacheDir: cache });
    assert.equal(path, join(cache, 'models', 'acme', 'model', 'main', 'onnx', 'model.onnx'));
    assert.ok(readFileSync(path).equals(body));
    assert.deepEqual(readdirSync(dirname(path)), ['model.onnx'], 'no .part or .lock left behind');
    const requests = hub.log.length;
    await downloadFile(REPO, 'onnx/model.onnx', { endpoint: hub.url, cacheDir: cache });
    assert.equal(hub.log.length, requests, 'a cached file is not fetched again');
  });

  it('resumes with an HTTP Range request after the connection is cut mid-file', async () => {
    const body = randomBytes(500_000);
    hub.files.set(key('onnx/model.onnx'), { body, lfs: true, cutAfter: 200_000 });
    const path = await downloadFile(REPO, 'onnx/model.onnx', { endpoint: hub.url, cacheDir: cache });
    assert.ok(readFileSync(path).equals(body), 'the resumed file is byte-identical');
    const ranged = hub.log.filter((l) => l.range && l.path.startsWith('/cdn/')); // the bytes' host
    assert.equal(ranged.length, 1);
    const from = Number(/bytes=(\d+)-/.exec(ranged[0]!.range!)![1]);
    assert.ok(from > 0 && from <= 200_000, `resumed from ${from}`);
  });

  it('continues a .part left by an earlier run', async () => {
    const body = randomBytes(100_000);
    hub.files.set(key('config.json'), { body, lfs: false });
    const dest = join(modelCacheDir(REPO, 'main', { cacheDir: cache }), 'config.json');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.part`, body.subarray(0, 40_000));
    await downloadFile(REPO, 'config.json', { endpoint: hub.url, cacheDir: cache });
    assert.ok(readFileSync(dest).equals(body));
    assert.equal(hub.log.find((l) => l.method === 'GET')?.range, 'bytes=40000-');
  });

  it('rejects a file whose sha256 differs from the hub oid, leaving nothing behind', async () => {
    hub.files.set(key('onnx/model.onnx'), { body: randomBytes(10_000), lfs: true, wrongHash: true });
    await assert.rejects(
      downloadFile(REPO, 'onnx/model.onnx', { endpoint: hub.url, cacheDir: cache }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'MODEL_DOWNLOAD_FAILED');
        assert.match(e.message, /sha256 mismatch/);
        return true;
      },
    );
    const dir = join(modelCacheDir(REPO, 'main', { cacheDir: cache }), 'onnx');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a 404 is MODEL_DOWNLOAD_FAILED naming the URL and --model-dir', async () => {
    await assert.rejects(
      downloadFile(REPO, 'onnx/missing.onnx', { endpoint: hub.url, cacheDir: cache }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'MODEL_DOWNLOAD_FAILED');
        assert.ok(e.message.includes(fileUrl(REPO, 'onnx/missing.onnx', { endpoint: hub.url })), e.message);
        assert.match(e.message, /404/);
        assert.match(e.message, /--model-dir <folder>/);
        return true;
      },
    );
  });

  it('offline (nothing listening) is MODEL_DOWNLOAD_FAILED, not a crash', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    await assert.rejects(
      downloadFile(REPO, 'config.json', { endpoint: `http://127.0.0.1:${port}`, cacheDir: cache }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'MODEL_DOWNLOAD_FAILED');
        assert.match(e.message, /--model-dir/);
        return true;
      },
    );
  });

  it('two concurrent downloads of one file fetch it once (lock)', async () => {
    const body = randomBytes(200_000);
    hub.files.set(key('onnx/model.onnx'), { body, lfs: true });
    const opts = { endpoint: hub.url, cacheDir: cache };
    const [a, b] = await Promise.all([
      downloadFile(REPO, 'onnx/model.onnx', opts),
      downloadFile(REPO, 'onnx/model.onnx', opts),
    ]);
    assert.equal(a, b);
    assert.ok(readFileSync(a).equals(body));
    assert.equal(hub.log.filter((l) => l.method === 'GET' && l.path.startsWith('/cdn/')).length, 1);
  });

  it('takes over a stale lock left by a dead process', async () => {
    hub.files.set(key('config.json'), { body: Buffer.from('{}'), lfs: false });
    const dest = join(modelCacheDir(REPO, 'main', { cacheDir: cache }), 'config.json');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.lock`, '999999');
    const t0 = Date.now();
    await downloadFile(REPO, 'config.json', { endpoint: hub.url, cacheDir: cache, staleLockMs: 300 });
    assert.ok(existsSync(dest));
    assert.ok(Date.now() - t0 < 5000);
  });

  it('sends HF_TOKEN as a bearer token and honours the revision', async () => {
    hub.files.set(key('config.json', 'v1.0'), { body: Buffer.from('{"a":1}'), lfs: false });
    const path = await downloadFile(REPO, 'config.json', {
      endpoint: hub.url,
      cacheDir: cache,
      revision: 'v1.0',
      token: 'hf_secret',
    });
    assert.equal(readFileSync(path, 'utf8'), '{"a":1}');
    assert.ok(path.includes(join('acme', 'model', 'v1.0')));
    assert.ok(hub.log.every((l) => l.auth === 'Bearer hf_secret'));
  });

  it('optional files may be missing; required ones may not', async () => {
    hub.files.set(key('tokenizer.json'), { body: Buffer.from('{}'), lfs: false });
    const dir = await downloadModel(REPO, ['tokenizer.json'], { endpoint: hub.url, cacheDir: cache }, [
      'tokenizer_config.json',
    ]);
    assert.ok(existsSync(join(dir, 'tokenizer.json')));
    await assert.rejects(downloadModel(REPO, ['nope.json'], { endpoint: hub.url, cacheDir: cache }), {
      code: 'MODEL_DOWNLOAD_FAILED',
    });
  });

  it('createEmbedder downloads a registered model from QUIVER_HF_ENDPOINT into the cache and runs it', async () => {
    const tiny = fileURLToPath(new URL('../../.cache/fixtures/tiny-bert/', import.meta.url));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) {
      hub.files.set(key(f), { body: readFileSync(join(tiny, f)), lfs: false });
    }
    hub.files.set(key('onnx/model.onnx'), {
      body: readFileSync(join(tiny, 'onnx', 'model.onnx')),
      lfs: true,
    });
    registerModel({
      name: REPO,
      family: 'test',
      provider: 'onnx',
      dims: 32,
      maxTokens: 512,
      pooling: 'mean',
      normalize: true,
      hub: { repo: REPO, revision: 'main' },
    });
    const saved = process.env.QUIVER_HF_ENDPOINT;
    process.env.QUIVER_HF_ENDPOINT = hub.url;
    try {
      const e = await createEmbedder(REPO, { cacheDir: cache });
      const [v] = await e.embed(['hello'], { role: 'query' });
      assert.equal(v!.length, 32);
      await e.close();
      assert.ok(existsSync(join(cache, 'models', 'acme', 'model', 'main', 'onnx', 'model.onnx')));
    } finally {
      if (saved === undefined) delete process.env.QUIVER_HF_ENDPOINT;
      else process.env.QUIVER_HF_ENDPOINT = saved;
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
