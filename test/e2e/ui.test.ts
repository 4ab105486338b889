/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The web UI in a real browser (Debian's Chromium driven by playwright-core): search SciFact,
 * toggle modes, apply a facet filter, open explain, and check the evaluation chart. Screenshots
 * are saved to test-artifacts/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { vectorField } from '../../src/engine/config.js';
import { Quiver } from '../../src/engine/quiver.js';
import { createServer } from '../../src/serve/server.js';
import { REPO_ROOT, SCIFACT, tempDir } from '../../src/testing/paths.js';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
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

describe('web UI in Chromium', () => {
  const t = tempDir();
  let quiver: Quiver;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let base = '';

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    quiver = await Quiver.open({ data: t.dir });
    const c = await quiver.createCollection('scifact', { vectors: [vectorField('static:glove-100')] });
    const docs = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .slice(0, 500)
      .map((l) => JSON.parse(l) as { _id: string; title: string; text: string })
      .map((d) => ({
        id: d._id,
        title: d.title,
        text: d.text,
        // SciFact has no metadata; give the facets something real to count.
        metadata: { length: d.text.length < 1200 ? 'short' : 'long', has_numbers: /\d/.test(d.text) },
      }));
    await c.upsert(docs, { deferVectors: true });
    await c.flush({ fit: true });
    // Semantic IDs for the clusters view: 2 levels × 16 codes over 500 documents.
    await (await c.semanticIds()).fit({ levels: 2, codes: 16 });
    await quiver.evalRuns.append({
      id: 'r1',
      createdAt: new Date().toISOString(),
      dataset: 'scifact',
      split: 'test',
      mode: 'lexical',
      method: 'bm25',
      store: 'sqlite',
      metrics: { 'ndcg@10': 0.6789, 'recall@100': 0.9253 },
      queries: 300,
    });
    await quiver.evalRuns.append({
      id: 'r2',
      createdAt: new Date().toISOString(),
      dataset: 'scifact',
      split: 'test',
      mode: 'dense',
      method: 'static:glove-100',
      store: 'sqlite',
      metrics: { 'ndcg@10': 0.2485, 'recall@100': 0.5697 },
      queries: 300,
    });
    // A small image collection: documents whose metadata.image points at real PNG files.
    const pictures = await quiver.createCollection('pictures');
    const colours = { red: '#d62828', green: '#2a9d8f', blue: '#3a5bd9', amber: '#f4a261' };
    const imageDocs = [];
    for (const [name, hex] of Object.entries(colours)) {
      const path = join(t.dir, `${name}.png`);
      await sharp({ create: { width: 64, height: 64, channels: 3, background: hex } })
        .png()
        .toFile(path);
      imageDocs.push({
        id: name,
        title: `${name} square`,
        text: `a ${name} coloured square picture`,
        metadata: { image: path },
      });
    }
    await pictures.upsert(imageDocs);
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

  it('searches, toggles modes, filters by a facet and explains a hit', async () => {
    await page.goto(base);
    await page.waitForSelector('#stats:has-text("500 documents")');
    await page.keyboard.press('/');
    await page.keyboard.type('microstructural development of white matter in newborns');
    await page.waitForSelector('.hit');
    const first = await page.textContent('.hit .title');
    assert.match(first ?? '', /white matter/i);
    assert.ok((await page.locator('.hit mark').count()) > 0, 'query terms are highlighted');
    await page.screenshot({ path: join(ARTIFACTS, 'ui-hybrid.png'), fullPage: false });

    for (const mode of ['lexical', 'dense', 'hybrid']) {
      await page.click(`.modes button[data-mode="${mode}"]`);
      await page.waitForSelector(`#status:has-text("· ${mode} ·")`);
      assert.equal(await page.getAttribute(`.modes button[data-mode="${mode}"]`, 'aria-checked'), 'true');
    }
    await page.click('.modes button[data-mode="lexical"]');
    await page.waitForSelector('#status:has-text("· lexical ·")');

    await page.check('#facets input[value="short"]');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.hit .meta')].every((m) => m.textContent?.includes('length: short')),
    );
    const metas = await page.locator('.hit .meta').allTextContents();
    assert.ok(
      metas.length > 0 && metas.every((m) => m.includes('length: short')),
      'the facet filters results',
    );

    await page.click('.hit .explain summary');
    const explain = await page.textContent('.hit .explain table');
    assert.match(explain ?? '', /lexical/);
    assert.match(explain ?? '', /rank 1/);

    // Hybrid explain names both retrievers with their ranks and the fused score.
    await page.click('.modes button[data-mode="hybrid"]');
    await page.waitForSelector('#status:has-text("· hybrid ·")');
    await page.click('.hit .explain summary');
    const hybrid = (await page.textContent('.hit .explain table')) ?? '';
    for (const part of [/lexical\s*rank \d+/, /dense\s*rank \d+/, /fused/]) assert.match(hybrid, part);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-explain.png'), fullPage: false });
  });

  it('moves through results with the keyboard and opens a document with Enter', async () => {
    await page.goto(base);
    await page.waitForSelector('#stats:has-text("500 documents")');
    await page.keyboard.press('/');
    await page.keyboard.type('vitamin D deficiency');
    await page.waitForSelector('.hit');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('data-index')),
      '1',
      'second hit focused',
    );
    const title = (await page.textContent('.hit.active .title')) ?? '';
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog#doc[open]');
    assert.equal((await page.textContent('#doc .doc-title'))?.trim(), title.trim());
    assert.ok(
      (await page.locator('#doc .doc-text mark').count()) > 0,
      'the query is highlighted in the document',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'ui-document.png'), fullPage: false });
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog#doc', { state: 'hidden' });
    await page.keyboard.press('ArrowUp');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-index')), '0');
  });

  it('shows an image collection as a grid of pictures', async () => {
    await page.goto(base);
    await page.waitForSelector('#collection option[value="pictures"]', { state: 'attached' });
    await page.selectOption('#collection', 'pictures');
    await page.waitForSelector('#stats:has-text("4 documents")');
    await page.fill('#q', 'coloured square picture');
    await page.waitForSelector('#grid:not([hidden]) figure img');
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('#grid img')].every(
        (i) => i.complete && i.naturalWidth === 64,
      ),
    );
    assert.equal(await page.locator('#grid figure').count(), 4);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-images.png'), fullPage: false });
  });

  it('browses semantic-ID clusters level by level and opens a document', async () => {
    await page.goto(`${base}/#/clusters`);
    // An earlier test left the image collection selected (remembered in localStorage).
    await page.waitForSelector('#cluster-collection option[value="scifact"]', { state: 'attached' });
    await page.selectOption('#cluster-collection', 'scifact');
    await page.waitForSelector('#clusters .cluster');
    assert.equal(await page.locator('#clusters .cluster').count(), 16, '16 codes used at level 1');
    assert.match(
      (await page.textContent('#cluster-info')) ?? '',
      /500 documents · level 1 of 2 · 16 of 16 codes used/,
    );
    const counts = (await page.locator('#clusters .cluster-count').allTextContents()).map(Number);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      500,
    );
    assert.ok(Math.max(...counts) <= Math.ceil(500 / 16), `balanced sizes: ${counts.join(' ')}`);
    assert.ok((await page.locator('#clusters .cluster').first().locator('.samples button').count()) > 0);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-clusters.png'), fullPage: false });

    const top = ((await page.textContent('#clusters .cluster-code')) ?? '').trim();
    await page.click('#clusters .cluster-code');
    await page.waitForSelector(`#crumbs a[href="#/clusters/${top}"]`);
    await page.waitForSelector('#cluster-info:has-text("level 2 of 2")');
    const codes = await page.locator('#clusters .cluster-code').allTextContents();
    assert.ok(codes.length > 0 && codes.every((c) => c.startsWith(`${top}.`)), codes.join(' '));
    await page.screenshot({ path: join(ARTIFACTS, 'ui-clusters-level2.png'), fullPage: false });

    const leaf = codes[0]!;
    const leafCount = Number(await page.locator('#clusters .cluster-count').first().textContent());
    await page.click('#clusters .cluster-code');
    await page.waitForSelector(`#cluster-info:has-text("with semantic ID ${leaf}")`);
    assert.equal(await page.locator('#cluster-docs li').count(), leafCount);
    const title = ((await page.textContent('#cluster-docs li button')) ?? '').trim();
    await page.click('#cluster-docs li button');
    await page.waitForSelector('dialog#doc[open]');
    assert.equal((await page.textContent('#doc .doc-title'))?.trim(), title);
    assert.match(
      (await page.textContent('#doc .doc-id')) ?? '',
      new RegExp(`semantic ID ${leaf.replace('.', '\\.')}`),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'ui-cluster-document.png'), fullPage: false });
    await page.keyboard.press('Escape');
    // The path is in the address: back goes up one level.
    await page.goBack();
    await page.waitForSelector('#cluster-info:has-text("level 2 of 2")');
  });

  it('toggles reranking and shows the rerank score in explain', async () => {
    await page.goto(base);
    await page.waitForSelector('#collection option[value="scifact"]', { state: 'attached' });
    await page.selectOption('#collection', 'scifact');
    await page.waitForSelector('#stats:has-text("500 documents")');
    await page.click('.modes button[data-mode="lexical"]');
    await page.fill('#q', 'vitamin D deficiency and bone density');
    await page.waitForSelector('#status:has-text("· lexical ·")');
    const request = page.waitForRequest(
      (r) => r.url().endsWith('/search') && /"rerank":true/.test(r.postData() ?? ''),
    );
    await page.check('#rerank');
    await request;
    await page.waitForSelector('#status:has-text("reranked")');
    await page.click('.hit .explain summary');
    const row = page.locator('.hit').first().locator('.explain tr.rerank-row');
    assert.equal(await row.count(), 1, 'the explain table has a rerank row');
    const rerank = ((await row.locator('td').textContent()) ?? '').trim();
    assert.equal(
      rerank,
      ((await page.textContent('.hit .score')) ?? '').trim(),
      'the rerank score is the hit score',
    );
    assert.match((await page.textContent('.hit .explain table')) ?? '', /lexical\s*rank \d+/);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-rerank.png'), fullPage: false });
    await page.uncheck('#rerank');
    await page.waitForFunction(() => !document.querySelector('#status')?.textContent?.includes('reranked'));
    assert.equal(await page.locator('.hit .explain tr.rerank-row').count(), 0);
  });

  it('shows stored eval runs as a chart', async () => {
    await page.goto(`${base}/#/eval`);
    await page.waitForSelector('#eval-chart svg rect');
    // Two runs × (nDCG@10, recall@100), bar widths proportional to the values.
    assert.equal(await page.locator('#eval-chart svg rect').count(), 4);
    const widths = await page
      .locator('#eval-chart svg rect')
      .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('width'))));
    assert.ok(
      Math.abs(widths[0]! / widths[2]! - 0.6789 / 0.2485) < 0.01,
      `bars are to scale: ${widths.join(', ')}`,
    );
    assert.match((await page.textContent('#eval-legend')) ?? '', /nDCG@10.*Recall@100/);
    assert.match((await page.textContent('#eval-table')) ?? '', /67\.89/);
    await page.screenshot({ path: join(ARTIFACTS, 'ui-eval.png'), fullPage: true });
  });

  it('is usable on a phone-sized screen', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.goto(base);
    await phone.waitForSelector('#stats:has-text("500 documents")');
    await phone.fill('#q', 'vitamin D deficiency');
    await phone.waitForSelector('.hit');
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 400, `no horizontal scrolling (page is ${width}px wide)`);
    await phone.screenshot({ path: join(ARTIFACTS, 'ui-phone.png'), fullPage: false });
    await phone.close();
  });

  it('follows a dark colour scheme', async () => {
    const dark = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    await dark.goto(base);
    await dark.waitForSelector('#stats:has-text("500 documents")');
    await dark.fill('#q', 'white matter in newborns');
    await dark.waitForSelector('.hit');
    const bg = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(17, 19, 24)');
    await dark.screenshot({ path: join(ARTIFACTS, 'ui-dark.png'), fullPage: false });
    await dark.close();
  });
});
