import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { Quiver } from '../../engine/quiver.js';
import { vectorField } from '../../engine/config.js';
import { QuiverError } from '../../errors.js';
import { TINY_CLIP, tempDir } from '../../testing/paths.js';
import { runEmbedderConformance } from '../embedder.conformance.js';
import { getModelSpec } from '../registry.js';
import { CLIP_MEAN, CLIP_STD, ClipEmbedder, preprocessImage } from './clip-embedder.js';

const solid = (w: number, h: number, rgb: [number, number, number]) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();

const load = () => ClipEmbedder.load(getModelSpec('openai/clip-vit-base-patch32'), TINY_CLIP);

runEmbedderConformance('CLIP text tower (random-weight fixture)', async () => {
  const e = await load();
  return { embedder: e, cleanup: () => e.close() };
});

describe('CLIP images', () => {
  it('preprocesses like CLIPImageProcessor: 224×224, channels first, normalised with CLIP mean/std', async () => {
    const px = await preprocessImage(await solid(300, 200, [255, 128, 0]));
    assert.equal(px.length, 3 * 224 * 224);
    const plane = 224 * 224;
    const expect = [255, 128, 0].map((v, c) => (v / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!);
    for (const c of [0, 1, 2]) {
      for (const p of [0, 1000, plane - 1])
        assert.ok(Math.abs(px[c * plane + p]! - expect[c]!) < 1e-5, `channel ${c}`);
    }
  });

  it('resizes the shorter side and center-crops', async () => {
    // 600×300: green | red (middle 300 px) | blue → cover-resize to 448×224, crop the middle 224.
    const img = await sharp({
      create: { width: 600, height: 300, channels: 3, background: { r: 255, g: 0, b: 0 } },
    })
      .composite([
        { input: await solid(150, 300, [0, 255, 0]), left: 0, top: 0 },
        { input: await solid(150, 300, [0, 0, 255]), left: 450, top: 0 },
      ])
      .png()
      .toBuffer();
    const px = await preprocessImage(img);
    const redExpected = (1 - CLIP_MEAN[0]) / CLIP_STD[0];
    for (const x of [2, 112, 221])
      assert.ok(Math.abs(px[112 * 224 + x]! - redExpected) < 0.05, `column ${x} is red`);
  });

  it('embeds images from paths, URLs and bytes into the text space; batch and single agree', async () => {
    const t = tempDir();
    const e = await load();
    const server = createServer(async (_req, res) => res.end(await solid(64, 64, [0, 0, 255])));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const red = join(t.dir, 'red.png');
      writeFileSync(red, await solid(100, 80, [255, 0, 0]));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blue.png`;
      const [a, b, c] = await e.embedImages([red, url, await solid(64, 64, [0, 0, 255])]);
      assert.equal(a!.length, e.dims);
      assert.ok(Math.abs(Math.hypot(...a!) - 1) < 1e-5);
      assert.ok(
        b!.every((x, i) => Math.abs(x - c![i]!) < 1e-6),
        'URL and bytes of the same image agree',
      );
      const [single] = await e.embedImages([red]);
      assert.ok(
        single!.every((x, i) => Math.abs(x - a![i]!) < 1e-5),
        'batched equals single',
      );
      await assert.rejects(
        e.embedImages([join(t.dir, 'missing.png')]),
        (err: QuiverError) => err.code === 'FILE_NOT_FOUND',
      );
      await assert.rejects(
        e.embedImages([Buffer.from('not an image')]),
        (err: QuiverError) => err.code === 'INVALID_ARGUMENT',
      );
    } finally {
      server.close();
      await e.close();
      t.cleanup();
    }
  });

  it('indexes a folder of images into an image field and finds them with a text query', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'imgs');
      mkdirSync(dir);
      writeFileSync(join(dir, 'red-square.png'), await solid(50, 50, [255, 0, 0]));
      writeFileSync(join(dir, 'blue-sky.png'), await solid(80, 40, [0, 0, 255]));
      writeFileSync(join(dir, 'notes.txt'), 'a text file without an image');
      const q = await Quiver.open({ data: join(t.dir, 'data') });
      try {
        const c = await q.createCollection('pics', {
          vectors: [
            vectorField('openai/clip-vit-base-patch32', 'image', { source: 'image', modelDir: TINY_CLIP }),
          ],
        });
        const { openSource, ingestInto } = await import('../../ingest/index.js');
        await ingestInto({ upsert: (docs) => c.upsert(docs) }, openSource({ path: dir }));
        assert.equal(await c.count(), 3);
        assert.equal(
          (await c.stats()).vectorFields[0]!.vectors,
          2,
          'only documents with an image get an image vector',
        );
        const res = await c.search({ query: 'a red square', mode: 'dense', k: 5 });
        assert.deepEqual(res.hits.map((h) => h.id).sort(), ['blue-sky.png', 'red-square.png']);
        assert.ok(res.hits.every((h) => typeof h.metadata?.['image'] === 'string'));
      } finally {
        await q.close();
      }
    } finally {
      t.cleanup();
    }
  });
});
