import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { createAnalyzer, tokenize } from './index.js';

describe('analyzers', () => {
  it('English follows Lucene EnglishAnalyzer: possessives, 33 stopwords, Porter (not Porter2)', () => {
    const en = createAnalyzer({ language: 'en' });
    assert.deepEqual(en.analyze("The women's running shoes are generalizations of IL-6 and p53"), [
      'women',
      'run',
      'shoe',
      'gener',
      'il',
      '6',
      'p53',
    ]);
    assert.deepEqual(en.analyze('Ponies caresses relational'), ['poni', 'caress', 'relat']);
    assert.deepEqual(en.analyze('this is not such a thing'), ['thing'], 'Lucene stopwords only');
    assert.deepEqual(en.analyze('1.5 mg/kg'), ['1.5', 'mg', 'kg']);
  });

  it('English tokenization follows UAX#29 like StandardTokenizer: e.g., apostrophes, numbers, underscores', () => {
    const en = createAnalyzer({ language: 'en', stemming: false });
    assert.deepEqual(en.analyze('e.g. U.S.A. 2,000 3.5mg foo_bar'), [
      'e.g',
      'u.s.a',
      '2,000',
      '3.5mg',
      'foo_bar',
    ]);
    assert.deepEqual(
      en.analyze("don't O'Neil's women’s"),
      ["don't", "o'neil", 'women'],
      'possessive stripped with both apostrophes',
    );
    assert.deepEqual(en.analyze('α-synuclein IL-6'), ['α', 'synuclein', 'il', '6'], 'hyphens split');
  });

  it('English stems with Porter v1, where Porter2 would differ', () => {
    const en = createAnalyzer({ language: 'en' });
    // Porter2 gives fair / generous / general; the original Porter (Lucene PorterStemFilter) does not.
    assert.deepEqual(en.analyze('fairly generously generalizations'), ['fairli', 'gener', 'gener']);
  });

  it('honours stopwords and stemming switches and custom stopword lists', () => {
    assert.deepEqual(
      createAnalyzer({ language: 'en', stopwords: false, stemming: false }).analyze('The Cats'),
      ['the', 'cats'],
    );
    assert.deepEqual(createAnalyzer({ language: 'en', stopwords: ['cats'] }).analyze('the cats dogs'), [
      'the',
      'dog',
    ]);
    assert.deepEqual(createAnalyzer({ language: 'de', stemming: false }).analyze('Die Häuser'), ['häuser']);
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
    assert.deepEqual(
      createAnalyzer({ language: 'fr' }).analyze('le chat et la souris'),
      ['chat', 'sour'],
      'French stopwords and stemming',
    );
  });

  it('segments Chinese, Japanese and Thai into words and folds case without stemming elsewhere', () => {
    assert.deepEqual(
      tokenize('我爱自然语言处理', 'zh'),
      ['我', '爱', '自然', '语言', '处理'],
      'Chinese is split into words',
    );
    assert.deepEqual(
      tokenize('東京は日本の首都です', 'ja'),
      ['東京', 'は', '日本', 'の', '首都', 'です'],
      'Japanese is split into words',
    );
    assert.deepEqual(
      tokenize('ภาษาไทยง่ายนิดเดียว', 'th'),
      ['ภาษา', 'ไทย', 'ง่าย', 'นิด', 'เดียว'],
      'Thai is split into words',
    );
    assert.deepEqual(
      createAnalyzer({ language: 'zh' }).analyze('处理的方法 NLP'),
      ['处理', '的', '方法', 'nlp'],
      'no stopwords by default',
    );
    assert.deepEqual(
      createAnalyzer({ language: 'zh', stopwords: true }).analyze('处理的方法 NLP'),
      ['处理', '方法', 'nlp'],
      'stopwords-iso on request',
    );
    assert.deepEqual(
      createAnalyzer({ language: 'ja' }).analyze('ＡＢＣ Running'),
      ['ａｂｃ', 'running'],
      'case folding, no stemming',
    );
    assert.deepEqual(createAnalyzer({ language: 'zh' }).analyze('ABC'), ['abc']);
    assert.deepEqual(createAnalyzer({ language: 'none' }).analyze('Running THE'), ['running', 'the']);
  });

  it('rejects a language that is not a code', () => {
    assert.throws(
      () => createAnalyzer({ language: 'english please' }),
      (e: QuiverError) => e.code === 'INVALID_CONFIG',
    );
  });
});
