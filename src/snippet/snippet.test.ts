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
    const s = await selector.snippet('fermenting <b>', 'Fermentation & <b>fermented</b> food.', { maxChars: 100 });
    assert.equal(s.html, '<mark>Fermentation</mark> &amp; &lt;<mark>b</mark>&gt;<mark>fermented</mark>&lt;/<mark>b</mark>&gt; food.');
  });

  it('falls back to the lead sentences when nothing matches, and handles empty text', async () => {
    assert.deepEqual((await selector.snippet('quantum chromodynamics', text, { maxChars: 100 })).sentences, [0, 1]);
    assert.deepEqual(await selector.snippet('x', ''), { text: '', html: '', sentences: [] });
  });
});
