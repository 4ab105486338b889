import assert from 'node:assert/strict';
import { rmSync, statSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAnalyzer } from '../../analyze/index.js';
import { QuiverError } from '../../errors.js';
import { compileFilter } from '../../retrieve/filter.js';
import { tempDir } from '../../testing/paths.js';
import type { Passage } from '../../types.js';
import { Bm25Index, byte4ToInt, intToByte4 } from './bm25.js';
import { runLexicalConformance } from './lexical.conformance.js';

runLexicalConformance('in-memory BM25', async () => ({
  index: new Bm25Index({ analyzer: createAnalyzer({ language: 'en' }), k1: 0.9, b: 0.4 }),
  cleanup: async () => undefined,
}));

const P = (key: number, text: string, title = ''): Passage => ({
  key,
  docKey: key,
  docId: String(key),
  chunk: 0,
  title,
  text,
  start: 0,
  end: text.length,
});

describe('BM25 scoring', () => {
  it('matches a hand computation of Lucene BM25 (with one-byte norms)', async () => {
    const analyzer = createAnalyzer({ language: 'none', stopwords: false });
    const idx = new Bm25Index({ analyzer, k1: 1.2, b: 0.75 });
    await idx.add([P(1, 'a b c'), P(2, 'a a d e f'), P(3, 'x y')]);
    const [hit] = (await idx.search('a', 3)).filter((h) => h.key === 2);
    // N = 3, df(a) = 2, idf = ln(1 + (3 − 2 + 0.5)/(2 + 0.5)); dl = 5 (exact below 24), avgdl = 10/3
    const idf = Math.log(1 + 1.5 / 2.5);
    const expected = (idf * 2) / (2 + 1.2 * (1 - 0.75 + (0.75 * 5) / (10 / 3)));
    assert.ok(Math.abs(hit!.score - expected) < 1e-5, `${hit!.score} vs ${expected}`);
  });

  it('encodes lengths like Lucene SmallFloat: exact below 24, then 4 significant bits', () => {
    for (let i = 0; i < 24; i++) assert.equal(byte4ToInt(intToByte4(i)), i);
    assert.equal(intToByte4(24), 24);
    assert.ok(byte4ToInt(intToByte4(1000)) <= 1000 && byte4ToInt(intToByte4(1000)) > 900);
    let prev = -1;
    for (let b = 0; b < 256; b++) {
      assert.ok(byte4ToInt(b) > prev, 'monotonic');
      prev = byte4ToInt(b);
    }
    assert.equal(intToByte4(byte4ToInt(200)), 200, 'round trip of encoded values');
  });

  it('multi-field scoring weighs title and text separately', async () => {
    const analyzer = createAnalyzer({ language: 'en' });
    const idx = new Bm25Index({ analyzer, k1: 0.9, b: 0.4, fields: { title: 3, text: 1 } });
    await idx.add([P(1, 'otters swim', 'Rivers'), P(2, 'rivers rivers', 'Otters')]);
    const hits = await idx.search('rivers', 2, { explain: true });
    assert.equal(hits[0]!.key, 1, 'a title match outweighs two text matches at weight 3');
    assert.ok(Object.keys(hits[0]!.terms!).some((t) => t.startsWith('title:')));
  });
});

describe('BM25 top-k pruning', () => {
  it('MaxScore returns exactly what exhaustive scoring returns (deletes, filters, both layouts)', async () => {
    // Zipf-like vocabulary so that queries mix rare and very common terms, as real ones do.
    let seed = 7;
    const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const word = () => `w${Math.floor(1 / (rand() * 0.995 + 0.005))}`;
    const docs = Array.from({ length: 3000 }, (_, i) =>
      P(
        i,
        Array.from({ length: 5 + Math.floor(rand() * 60) }, word).join(' '),
        Array.from({ length: 3 }, word).join(' '),
      ),
    );
    const queries = Array.from({ length: 60 }, () =>
      Array.from({ length: 2 + Math.floor(rand() * 10) }, word).join(' '),
    );
    const filter = compileFilter({});
    filter.allows = (key) => key % 3 !== 0;
    for (const fields of [undefined, { title: 2, text: 1 }]) {
      const make = (pruning: boolean) =>
        new Bm25Index({
          analyzer: createAnalyzer({ language: 'none' }),
          k1: 0.9,
          b: 0.4,
          pruning,
          ...(fields ? { fields } : {}),
        });
      const pruned = make(true);
      const exhaustive = make(false);
      for (const idx of [pruned, exhaustive]) {
        await idx.add(docs);
        await idx.remove(Array.from({ length: 200 }, (_, i) => i * 11));
      }
      for (const q of queries) {
        for (const k of [1, 10, 50]) {
          for (const opts of [{}, { filter }]) {
            assert.deepEqual(
              await pruned.search(q, k, opts),
              await exhaustive.search(q, k, opts),
              `${q} k=${k}`,
            );
          }
        }
      }
    }
  });
});

describe('BM25 snapshots', () => {
  const opts = { analyzer: createAnalyzer({ language: 'en' }), k1: 0.9, b: 0.4 };
  const docs = Array.from({ length: 300 }, (_, i) =>
    P(i * 65536, `document ${i} about ${i % 2 ? 'otters' : 'bees'} and topic${i}`),
  );

  it('round-trips: a loaded snapshot answers exactly like the original', async () => {
    const t = tempDir();
    try {
      const idx = new Bm25Index(opts);
      await idx.add(docs);
      await idx.remove([0, 65536]);
      const path = join(t.dir, 'bm25.idx');
      await idx.save(path, { watermark: 42 });
      const { index, watermark } = await Bm25Index.load(path, opts);
      assert.equal(watermark, 42);
      assert.equal(index.size(), 298);
      for (const q of ['otters', 'bees topic7', 'document 1'])
        assert.deepEqual(await index.search(q, 10), await idx.search(q, 10));
    } finally {
      t.cleanup();
    }
  });

  it('detects torn, corrupted, foreign and mismatched snapshots', async () => {
    const t = tempDir();
    try {
      const idx = new Bm25Index(opts);
      await idx.add(docs);
      const path = join(t.dir, 'bm25.idx');
      const corrupt = async (why: RegExp) =>
        assert.rejects(
          Bm25Index.load(path, opts),
          (e: QuiverError) => e.code === 'INDEX_CORRUPT' && why.test(e.message),
        );
      await idx.save(path, { watermark: 1 });
      truncateSync(path, statSync(path).size - 10);
      await corrupt(/truncated/);
      await idx.save(path, { watermark: 1 });
      const bytes = readFileSync(path);
      bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
      writeFileSync(path, bytes);
      await corrupt(/checksum/);
      writeFileSync(path, 'not an index');
      await corrupt(/magic/);
      await idx.save(path, { watermark: 1 });
      await assert.rejects(
        Bm25Index.load(path, { ...opts, k1: 1.2 }),
        (e: QuiverError) => e.code === 'INDEX_CORRUPT',
      );
      const unstemmed = createAnalyzer({ language: 'en', stemming: false });
      await assert.rejects(
        Bm25Index.load(path, { ...opts, analyzer: unstemmed }),
        (e: QuiverError) => e.code === 'INDEX_CORRUPT',
        'analyzer behaviour changed',
      );
      rmSync(path);
      await assert.rejects(Bm25Index.load(path, opts), /ENOENT/);
    } finally {
      t.cleanup();
    }
  });
});
