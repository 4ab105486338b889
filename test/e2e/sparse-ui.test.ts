/// <reference lib="dom" />
/**
 * The web UI's sparse mode in Chromium: the mode toggle offers "Sparse" only for collections with
 * a sparse field; for user-vector fields the typed words (term or term:weight) form sparseQuery.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { Quiver } from '../../src/engine/quiver.js';
import { createServer } from '../../src/serve/server.js';
import { tempDir } from '../../src/testing/paths.js';
import { SPARSE_DOCS } from '../sparse-scenario.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('web UI: sparse mode in Chromium', () => {
  const t = tempDir();
  let quiver: Quiver;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base = '';

  before(async () => {
    quiver = await Quiver.open({ data: t.dir });
    await (
      await quiver.createCollection('sp', { sparse: [{ name: 'splade', model: 'user' }] })
    ).upsert(SPARSE_DOCS);
    await (await quiver.createCollection('plain')).upsert([{ id: 'p', text: 'plain text' }]);
    app = await createServer({ quiver, open: true });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await quiver?.close();
    t.cleanup();
  });

  it('offers Sparse for a collection with a sparse field and searches with term:weight words', async () => {
    await page.goto(base);
    await page.waitForSelector(`#stats:has-text("${SPARSE_DOCS.length} documents")`);
    assert.ok(await page.isVisible('.modes button[data-mode="sparse"]'), 'sparse is offered');
    await page.click('.modes button[data-mode="sparse"]');
    await page.keyboard.press('/');
    await page.keyboard.type('caffeine:2 fermentation');
    await page.waitForSelector('#status:has-text("· sparse ·")');
    await page.waitForSelector('.hit');
    // coffee: 2·1.8 = 3.6; kombucha: 2·0.5 + 2.2 = 3.2; bread: 1.9.
    const titles = await page.locator('.hit .title').allTextContents();
    assert.deepEqual(titles.slice(0, 3), ['Espresso', 'Kombucha', 'Sourdough']);
    await page.selectOption('#collection', 'plain');
    await page.waitForSelector('#stats:has-text("1 documents")');
    assert.equal(
      await page.isVisible('.modes button[data-mode="sparse"]'),
      false,
      'no sparse field, no sparse mode',
    );
  });
});
