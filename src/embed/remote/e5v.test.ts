/**
 * E5-V through the remote provider, against a loopback server that checks requests the way vLLM
 * serves royokong/e5-v: text as completion-style `input` strings, images as a chat-style
 * `messages` request whose conversation is flattened like vLLM's "string" content format and
 * rendered with the request's Jinja chat template (by @huggingface/jinja, the JS port of the
 * engine transformers uses). The prompts it expects are written out here from the model card
 * (huggingface.co/royokong/e5-v; vLLM's tests/models/multimodal/pooling/test_llava_next.py),
 * independently of the registry. Vectors are a function of the image's pixels (its mean colour)
 * or the text's colour words, so an image collection can be searched end to end.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Template } from '@huggingface/jinja';
import sharp from 'sharp';
import { vectorField } from '../../engine/config.js';
import { Quiver } from '../../engine/quiver.js';
import type { QuiverError } from '../../errors.js';
import { tempDir } from '../../testing/paths.js';
import { runEmbedderConformance } from '../embedder.conformance.js';
import { createEmbedder, getModelSpec } from '../index.js';
import { RemoteEmbedder } from './remote-embedder.js';
import type { RemoteOptions } from './remote-embedder.js';

// From the model card: llama3_template.format('<image>\nSummary above image in one word: ') and
// llama3_template.format('<sent>\nSummary above sentence in one word: ') with <sent> the text.
const LLAMA3 =
  '<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n';
const IMAGE_PROMPT = LLAMA3.replace('{}', '<image>\nSummary above image in one word: ');
const TEXT_HEAD = LLAMA3.slice(0, LLAMA3.indexOf('{}'));
const TEXT_TAIL = '\nSummary above sentence in one word: ' + LLAMA3.slice(LLAMA3.indexOf('{}') + 2);
const BOS = '<|begin_of_text|>';
const DIMS = getModelSpec('royokong/e5-v').dims;

interface SeenImage {
  mime: string;
  bytes: Buffer;
  rendered: string;
}

/** One way vLLM answers a request it refuses: an OpenAI-style error object with a 400. */
function refuse(res: ServerResponse, message: string, status = 400): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ object: 'error', message, type: 'BadRequestError', code: status }));
}

/** A vector from colour words (red/green/blue) plus a small hash part so every text differs. */
function textVector(text: string): number[] {
  const v = new Array<number>(DIMS).fill(0);
  const h = createHash('sha256').update(text).digest();
  for (let i = 0; i < 32; i++) v[8 + i] = (h[i]! - 127.5) / 2000;
  if (/\bred\b/i.test(text)) v[0] = 1;
  if (/\bgreen\b/i.test(text)) v[1] = 1;
  if (/\bblue\b/i.test(text)) v[2] = 1;
  v[3] = 0.05;
  return v;
}

async function imageVector(bytes: Buffer): Promise<number[]> {
  const { channels } = await sharp(bytes).stats();
  const v = new Array<number>(DIMS).fill(0);
  channels.slice(0, 3).forEach((c, i) => (v[i] = c.mean / 255));
  v[3] = 0.05;
  return v;
}

class VllmLikeServer {
  url = '';
  /** vLLM's --trust-request-chat-template. */
  trustRequestTemplate = true;
  /** vLLM's --chat-template (used when a request brings none). */
  serverTemplate: string | undefined;
  /** Statuses to answer instead of embedding, one per request. */
  failures: number[] = [];
  textInputs: string[][] = [];
  images: SeenImage[] = [];
  bodies: Record<string, unknown>[] = [];
  private server!: Server;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        this.handle(req, res, raw).catch((e: Error) => refuse(res, `server bug: ${e.message}`, 500));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') return refuse(res, 'no such route', 404);
    if (req.headers['content-type'] !== 'application/json') return refuse(res, 'expected application/json');
    const body = JSON.parse(raw) as Record<string, unknown>;
    this.bodies.push(body);
    const failure = this.failures.shift();
    if (failure) return refuse(res, `injected failure ${failure}`, failure);
    if (body['model'] !== 'royokong/e5-v') return refuse(res, `unknown model ${String(body['model'])}`, 404);
    if (body['encoding_format'] !== 'float') return refuse(res, 'expected encoding_format float');
    let vectors: number[][];
    if ('messages' in body) {
      const v = await this.image(body, res);
      if (!v) return;
      vectors = [v];
    } else {
      const input = body['input'];
      if (!Array.isArray(input) || !input.every((s) => typeof s === 'string'))
        return refuse(res, 'input must be strings');
      for (const s of input as string[]) {
        if (!s.startsWith(TEXT_HEAD) || !s.endsWith(TEXT_TAIL))
          return refuse(res, `not an E5-V text prompt: ${JSON.stringify(s)}`);
      }
      this.textInputs.push(input as string[]);
      vectors = (input as string[]).map((s) =>
        textVector(s.slice(TEXT_HEAD.length, s.length - TEXT_TAIL.length)),
      );
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        object: 'list',
        model: body['model'],
        data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
        usage: { prompt_tokens: 10, total_tokens: 10 },
      }),
    );
  }

  /** Validate a chat-style image request as vLLM would process it; the vector, or undefined after refusing. */
  private async image(body: Record<string, unknown>, res: ServerResponse): Promise<number[] | undefined> {
    const keys = Object.keys(body).sort();
    const allowed = ['chat_template', 'encoding_format', 'messages', 'model'];
    if (!keys.every((k) => allowed.includes(k)))
      return void refuse(res, `unexpected fields ${keys.join(',')}`);
    const requestTemplate = body['chat_template'] as string | undefined;
    if (requestTemplate !== undefined && !this.trustRequestTemplate) {
      return void refuse(
        res,
        'Chat template is passed with request, but --trust-request-chat-template is not set. Refused request with untrusted chat template.',
      );
    }
    const template = requestTemplate ?? this.serverTemplate;
    if (!template) return void refuse(res, 'this model has no chat template; pass --chat-template');
    const messages = body['messages'] as { role: string; content: unknown }[];
    if (!Array.isArray(messages) || messages.length !== 1 || messages[0]!.role !== 'user')
      return void refuse(res, 'expected one user message');
    const parts = messages[0]!.content as { type: string; text?: string; image_url?: { url?: string } }[];
    if (!Array.isArray(parts)) return void refuse(res, 'content must be a list of parts');
    const imageParts = parts.filter((p) => p.type === 'image_url');
    const textParts = parts.filter((p) => p.type === 'text');
    if (imageParts.length !== 1 || textParts.length + imageParts.length !== parts.length)
      return void refuse(res, 'expected one image_url part and text parts');
    const m = /^data:(image\/[a-z]+);base64,([A-Za-z0-9+/=]+)$/.exec(imageParts[0]!.image_url?.url ?? '');
    if (!m) return void refuse(res, 'image_url must be a base64 data URL');
    const bytes = Buffer.from(m[2]!, 'base64');
    // vLLM's "string" content format: text parts joined by newlines, then a placeholder prepended
    // for each image the text does not already mention (llava's placeholder is "<image>").
    let content = textParts.map((p) => p.text ?? '').join('\n');
    if (!content.includes('<image>')) content = ['<image>', content].join('\n');
    const rendered = new Template(template).render({
      messages: [{ role: 'user', content }],
      bos_token: BOS,
      add_generation_prompt: false,
    });
    if (rendered !== BOS + IMAGE_PROMPT)
      return void refuse(res, `rendered prompt ${JSON.stringify(rendered)} is not E5-V's`);
    this.images.push({ mime: m[1]!, bytes, rendered });
    return imageVector(bytes);
  }
}

const server = new VllmLikeServer();
before(() => server.start());
after(() => server.stop());
beforeEach(() => {
  server.trustRequestTemplate = true;
  server.serverTemplate = undefined;
  server.failures = [];
  server.textInputs = [];
  server.images = [];
  server.bodies = [];
});

const e5v = (extra: Partial<RemoteOptions> = {}) =>
  new RemoteEmbedder(getModelSpec('e5-v'), { baseUrl: server.url, retries: 1, timeoutMs: 5000, ...extra });

const solid = (rgb: [number, number, number], format: 'png' | 'jpeg' = 'png') => {
  const img = sharp({
    create: { width: 40, height: 30, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  });
  return (format === 'png' ? img.png() : img.jpeg()).toBuffer();
};

runEmbedderConformance('remote E5-V (loopback vLLM-style server)', async () => {
  const embedder = e5v({ concurrency: 2, batchSize: 3 });
  return { embedder, cleanup: () => embedder.close() };
});

describe('E5-V through the remote provider', () => {
  it('sends texts as completion-style input wrapped in the model card prompt, for every role', async () => {
    const e = e5v();
    await e.embed(['a red square', 'The quick brown fox'], { role: 'query' });
    await e.embed(['a red square'], { role: 'document' });
    assert.deepEqual(server.textInputs, [
      [
        LLAMA3.replace('{}', 'a red square\nSummary above sentence in one word: '),
        LLAMA3.replace('{}', 'The quick brown fox\nSummary above sentence in one word: '),
      ],
      [LLAMA3.replace('{}', 'a red square\nSummary above sentence in one word: ')],
    ]);
    assert.ok(server.bodies.every((b) => !('messages' in b)));
  });

  it('sends each image as a chat request: data URL of the exact bytes, the image prompt, E5-V’s template', async () => {
    const t = tempDir();
    try {
      const png = await solid([250, 0, 0]);
      const jpeg = await solid([0, 0, 250], 'jpeg');
      const pngPath = join(t.dir, 'red.png');
      const jpegPath = join(t.dir, 'photo.bin'); // the format comes from the bytes, not the name
      writeFileSync(pngPath, png);
      writeFileSync(jpegPath, jpeg);
      const e = e5v({ concurrency: 1 });
      const [red, blue, again] = await e.embedImages!([pngPath, jpegPath, png]);
      assert.equal(server.images.length, 3);
      assert.deepEqual(
        server.images.map((i) => i.mime),
        ['image/png', 'image/jpeg', 'image/png'],
      );
      assert.ok(server.images[0]!.bytes.equals(readFileSync(pngPath)), 'PNG bytes arrive unchanged');
      assert.ok(server.images[1]!.bytes.equals(readFileSync(jpegPath)), 'JPEG bytes arrive unchanged');
      for (const seen of server.images) assert.equal(seen.rendered, BOS + IMAGE_PROMPT);
      const body = server.bodies[0]!;
      assert.deepEqual((body['messages'] as { content: unknown[] }[])[0]!.content[1], {
        type: 'text',
        text: '<image>\nSummary above image in one word: ',
      });
      assert.equal(body['chat_template'], getModelSpec('e5-v').prompts!.chatTemplate);
      assert.ok(red![0]! > 0.9 && blue![2]! > 0.9, 'vectors come back in input order');
      assert.deepEqual(again, red);
      assert.ok(Math.abs(Math.hypot(...red!) - 1) < 1e-6, 'normalised');
    } finally {
      t.cleanup();
    }
  });

  it('fetches image URLs and sends them as data URLs; a URL that is not an image is refused', async () => {
    const png = await solid([0, 200, 0]);
    const files = createServer((req, res) => {
      if (req.url === '/green.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(png);
      if (req.url === '/page')
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>');
      res.writeHead(404).end('missing');
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    try {
      const e = e5v();
      const [green] = await e.embedImages!([`${base}/green.png`]);
      assert.ok(server.images[0]!.bytes.equals(png));
      assert.ok(green![1]! > 0.9);
      const sent = server.bodies.length;
      await assert.rejects(e.embedImages!([`${base}/page`]), (err: QuiverError) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /\/page returned text\/html .*not an image/);
        return true;
      });
      await assert.rejects(e.embedImages!([`${base}/gone.png`]), (err: QuiverError) => {
        assert.equal(err.code, 'REMOTE_ERROR');
        assert.match(err.message, /gone\.png answered 404/);
        return true;
      });
      assert.equal(server.bodies.length, sent, 'nothing that is not an image reaches the embedding server');
    } finally {
      files.close();
    }
  });

  it('names the unreadable image: missing file, a folder, a text file', async () => {
    const t = tempDir();
    try {
      const e = e5v();
      const notes = join(t.dir, 'notes.png');
      writeFileSync(notes, 'plain text, whatever the name says');
      mkdirSync(join(t.dir, 'folder.png'));
      await assert.rejects(e.embedImages!([join(t.dir, 'nope.png')]), (err: QuiverError) => {
        assert.equal(err.code, 'FILE_NOT_FOUND');
        assert.equal(err.location.file, join(t.dir, 'nope.png'));
        return true;
      });
      await assert.rejects(e.embedImages!([join(t.dir, 'folder.png')]), (err: QuiverError) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /cannot read image .*folder\.png/);
        return true;
      });
      await assert.rejects(e.embedImages!([notes]), (err: QuiverError) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /notes\.png is not an image/);
        assert.equal(err.location.file, notes);
        return true;
      });
      assert.equal(server.bodies.length, 0);
    } finally {
      t.cleanup();
    }
  });

  it('server errors name the image; a refused request template says how to start vLLM', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'red.png');
      writeFileSync(path, await solid([255, 0, 0]));
      server.failures = [503, 500];
      await assert.rejects(e5v().embedImages!([path]), (err: QuiverError) => {
        assert.equal(err.code, 'REMOTE_ERROR');
        assert.ok(err.message.startsWith(`embedding image ${path}: `), err.message);
        assert.match(err.message, /answered 500: .*injected failure 500/);
        assert.equal(err.details?.['status'], 500);
        return true;
      });
      server.trustRequestTemplate = false;
      await assert.rejects(e5v().embedImages!([path]), (err: QuiverError) => {
        assert.equal(err.code, 'REMOTE_ERROR');
        assert.match(
          err.message,
          /answered 400: .*untrusted chat template.*start vLLM with --trust-request-chat-template/,
        );
        return true;
      });
      // A server started with --chat-template <E5-V's template>: the request carries none.
      server.serverTemplate = getModelSpec('e5-v').prompts!.chatTemplate;
      const [v] = await e5v({ chatTemplate: 'server' }).embedImages!([path]);
      assert.ok(v![0]! > 0.9);
      assert.ok(!('chat_template' in server.bodies.at(-1)!));
    } finally {
      t.cleanup();
    }
  });

  it('only image-capable specs get embedImages', async () => {
    const text = await createEmbedder('e5-mistral-7b-instruct', { remote: { baseUrl: server.url } });
    assert.equal(text.embedImages, undefined);
    assert.deepEqual(text.modalities, ['text']);
    const image = await createEmbedder('e5-v', { remote: { baseUrl: server.url } });
    assert.equal(typeof image.embedImages, 'function');
  });

  it('indexes an image collection with an E5-V field end to end and finds images by text', async () => {
    const t = tempDir();
    const saved = process.env.QUIVER_REMOTE_URL;
    process.env.QUIVER_REMOTE_URL = server.url;
    try {
      const red = join(t.dir, 'red.png');
      const blue = join(t.dir, 'blue.jpg');
      writeFileSync(red, await solid([240, 10, 10]));
      writeFileSync(blue, await solid([10, 10, 240], 'jpeg'));
      const q = await Quiver.open({ data: join(t.dir, 'data') });
      try {
        const c = await q.createCollection('pics', {
          vectors: [vectorField('royokong/e5-v', 'image', { source: 'image' })],
        });
        await c.upsert([
          { id: 'red-square', text: 'first picture', metadata: { image: red } },
          { id: 'blue-sky', text: 'second picture', metadata: { image: blue } },
          { id: 'notes', text: 'a document without an image' },
        ]);
        assert.equal(await c.count(), 3);
        assert.equal(
          (await c.stats()).vectorFields[0]!.vectors,
          2,
          'only documents with an image get a vector',
        );
        assert.ok(server.images.some((i) => i.bytes.equals(readFileSync(red))));
        assert.ok(server.images.some((i) => i.bytes.equals(readFileSync(blue))));
        const redHits = await c.search({ query: 'a red square', mode: 'dense', k: 2 });
        assert.deepEqual(
          redHits.hits.map((h) => h.id),
          ['red-square', 'blue-sky'],
        );
        const blueHits = await c.search({ query: 'the blue sky', mode: 'dense', k: 2 });
        assert.equal(blueHits.hits[0]!.id, 'blue-sky');
        assert.ok(
          server.textInputs
            .flat()
            .includes(LLAMA3.replace('{}', 'the blue sky\nSummary above sentence in one word: ')),
          'the query went out in the E5-V text prompt',
        );
        await assert.rejects(
          c.upsert([{ id: 'broken', text: 'x', metadata: { image: join(t.dir, 'missing.png') } }]),
          (err: QuiverError) => err.code === 'FILE_NOT_FOUND' && err.message.includes('missing.png'),
        );
      } finally {
        await q.close();
      }
    } finally {
      if (saved === undefined) delete process.env.QUIVER_REMOTE_URL;
      else process.env.QUIVER_REMOTE_URL = saved;
      t.cleanup();
    }
  });
});
