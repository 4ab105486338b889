/**
 * The lexical-index conformance suite: every LexicalIndex (in-memory BM25, Postgres) runs exactly
 * this, through the interface only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileFilter } from '../../retrieve/filter.js';
import type { Passage } from '../../types.js';
import type { LexicalIndex } from './lexical-index.js';

export interface LexicalFactory {
  index: LexicalIndex;
  cleanup(): Promise<void>;
}

const P = (key: number, title: string, text: string): Passage => ({
  key,
  docKey: key,
  docId: `d${key}`,
  chunk: 0,
  title,
  text,
  start: 0,
  end: text.length,
});

const CORPUS = [
  P(1, 'Otters', 'River otters swim in rivers and eat fish.'),
  P(2, 'Bees', 'Honeybees dance to show where flowers grow.'),
  P(3, 'Coffee', 'Espresso is coffee brewed under pressure.'),
  P(4, 'Rare', 'The axolotl regrows its limbs.'),
  P(5, 'Fish', 'Fish farms raise salmon; fish and more fish.'),
];

export function runLexicalConformance(label: string, factory: () => Promise<LexicalFactory>): void {
  describe(`lexical index conformance: ${label}`, () => {
    let f: LexicalFactory;
    before(async () => {
      f = await factory();
      await f.index.add(CORPUS);
    });
    after(async () => f.cleanup());

    it('ranks the document with the rare query term first; scores descend', async () => {
      const hits = await f.index.search('axolotl limbs fish', 5);
      assert.equal(hits[0]!.key, 4);
      for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
      assert.equal(f.index.size(), 5);
    });

    it('replaces a passage with the same key and never returns removed keys', async () => {
      await f.index.add([P(3, 'Coffee', 'Now about axolotl care.')]);
      const hits = await f.index.search('espresso', 5);
      assert.ok(!hits.some((h) => h.key === 3), 'old text no longer matches');
      assert.ok((await f.index.search('axolotl', 5)).some((h) => h.key === 3));
      await f.index.remove([4]);
      assert.ok(!(await f.index.search('axolotl', 5)).some((h) => h.key === 4));
      assert.equal(f.index.size(), 4);
      await f.index.add([
        P(3, 'Coffee', 'Espresso is coffee brewed under pressure.'),
        P(4, 'Rare', 'The axolotl regrows its limbs.'),
      ]);
    });

    it('applies a filter inside retrieval and returns k allowed hits', async () => {
      const filter = compileFilter({ id: { $in: ['d2', 'd3'] } });
      filter.allows = (key) => key === 2 || key === 3;
      filter.allowedKeys = [2, 3];
      const hits = await f.index.search('fish coffee flowers rivers', 2, { filter });
      assert.deepEqual(hits.map((h) => h.key).sort(), [2, 3]);
    });

    it('explains per-term contributions that sum to the score', async () => {
      const [top] = await f.index.search('fish rivers', 1, { explain: true });
      const sum = Object.values(top!.terms ?? {}).reduce((a, b) => a + b, 0);
      assert.ok(Object.keys(top!.terms ?? {}).length > 0);
      assert.ok(Math.abs(sum - top!.score) < 1e-4);
    });

    it('returns nothing for queries without terms and survives 10,000-word queries', async () => {
      assert.deepEqual(await f.index.search('', 5), []);
      assert.deepEqual(await f.index.search('the and of', 5), []);
      const long = Array.from({ length: 10_000 }, (_, i) => (i % 11 === 0 ? 'salmon' : `w${i}`)).join(' ');
      const hits = await f.index.search(long, 3);
      assert.equal(hits[0]!.key, 5);
    });
  });
}
