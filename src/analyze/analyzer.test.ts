import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { createAnalyzer, tokenize } from './index.js';

describe('analyzers', () => {
  it('English follows Lucene EnglishAnalyzer: possessives, 33 stopwords, Porter (not Porter2)', () => {
    const en = createAnalyzer({ language: 'en' });
    assert.deepEqual(en.analyze("The women's running shoes are generalizations of IL-6 and p53"), ['women', 'run', 'shoe', 'gener', 'il', '6', 'p53']);
    assert.deepEqual(en.analyze('Ponies caresses relational'), ['poni', 'caress', 'relat']);
    assert.deepEqual(en.analyze('this is not such a thing'), ['thing'], 'Lucene stopwords only');
    assert.deepEqual(en.analyze('1.5 mg/kg'), ['1.5', 'mg', 'kg']);
  });

  it('stems French, German, Spanish, Portuguese, Italian, Dutch and Russian with Snowball', () => {
    const cases: [string, string, string][] = [
      ['fr', 'continuellement', 'continuel'],
      ['de', 'häuser', 'haus'],
      ['es', 'corriendo', 'corr'],
      ['pt', 'correndo', 'corr'],
      ['it', 'correndo', 'corr'],
      ['nl', 'lopende', 'lopend'],
      ['ru', 'бегущими', 'бегущ'],
    ];
    for (const [lang, word, stem] of cases) {
      assert.deepEqual(createAnalyzer({ language: lang, stopwords: false }).analyze(word), [stem], lang);
    }
    assert.deepEqual(createAnalyzer({ language: 'fr' }).analyze('le chat et la souris'), ['chat', 'sour'], 'French stopwords and stemming');
  });

  it('segments Chinese, Japanese and Thai into words and folds case without stemming elsewhere', () => {
    assert.ok(tokenize('我爱自然语言处理', 'zh').length > 1, 'Chinese is split into words');
    assert.ok(tokenize('東京は日本の首都です', 'ja').length > 2, 'Japanese is split into words');
    assert.ok(tokenize('ภาษาไทยง่ายนิดเดียว', 'th').length > 1, 'Thai is split into words');
    assert.deepEqual(createAnalyzer({ language: 'zh' }).analyze('ABC'), ['abc']);
    assert.deepEqual(createAnalyzer({ language: 'none' }).analyze('Running THE'), ['running', 'the']);
  });

  it('rejects a language that is not a code', () => {
    assert.throws(() => createAnalyzer({ language: 'english please' }), (e: QuiverError) => e.code === 'INVALID_CONFIG');
  });
});
