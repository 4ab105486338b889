import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAnalyzer } from '../analyze/index.js';
import { SnippetSelector } from './snippet.js';

const text =
  'Sourdough is an old technique. The starter holds wild yeast and lactic acid bacteria. ' +
  'Bakers feed the starter daily. A long cold fermentation develops flavour. The crumb becomes open.';

describe('query-aware snippets', () => {
  const selector = new SnippetSelector(createAnalyzer({ language: 'en' }), () => 1);

  it('picks the sentences that match the query, in document order, within the budget', async () => {
    const s = await selector.snippet('wild yeast fermentation', text, { maxChars: 200, maxSentences: 2 });
    assert.deepEqual(s.sentences, [1, 3]);
    assert.match(s.text, /wild yeast.*….*fermentation/);
    assert.ok(s.text.length <= 210);
  });

  it('highlights query terms by their analyzed form, escaping HTML', async () => {
    const s = await selector.snippet('fermenting <b>', 'Fermentation & <b>fermented</b> food.', {
      maxChars: 100,
    });
    assert.equal(
      s.html,
      '<mark>Fermentation</mark> &amp; &lt;<mark>b</mark>&gt;<mark>fermented</mark>&lt;/<mark>b</mark>&gt; food.',
    );
  });

  it('falls back to the lead sentences when nothing matches, and handles empty text', async () => {
    assert.deepEqual(
      (await selector.snippet('quantum chromodynamics', text, { maxChars: 100 })).sentences,
      [0, 1],
    );
    assert.deepEqual(await selector.snippet('x', ''), { text: '', html: '', sentences: [] });
  });

  it('the sentence cache gives the same snippets, refreshes a changed text, and stays within capacity', async () => {
    const cached = new SnippetSelector(createAnalyzer({ language: 'en' }), () => 1, undefined, 2);
    const queries = ['wild yeast fermentation', 'starter bakers', 'crumb'];
    cached.remember(1, text);
    assert.equal(cached.cachedPassages, 1);
    for (const q of queries) {
      assert.deepEqual(
        await cached.snippet(q, text, { maxChars: 200 }, 'en', 1),
        await selector.snippet(q, text, { maxChars: 200 }),
      );
    }
    // Same key, new text (a rewritten passage not yet forgotten): never served from the stale entry.
    const other = 'Otters float on their backs. They crack shells with stones.';
    assert.deepEqual(
      (await cached.snippet('stones', other, { maxSentences: 1 }, 'en', 1)).text,
      'They crack shells with stones.',
    );
    await cached.snippet('x', 'Two. Three.', {}, 'en', 2);
    await cached.snippet('x', 'Four. Five.', {}, 'en', 3);
    assert.equal(cached.cachedPassages, 2, 'least recently used entries leave at capacity');
    cached.forget([2, 3]);
    assert.equal(cached.cachedPassages, 0);
    cached.remember(4, text);
    cached.remember(5, text);
    cached.remember(6, text);
    assert.equal(cached.cachedPassages, 2, 'index-time filling stops when the cache is full');
  });
});
