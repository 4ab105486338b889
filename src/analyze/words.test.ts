import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SCIFACT, SHARED } from '../testing/paths.js';
import { wordSegments } from './words.js';

/** The specification: Intl.Segmenter's word-like segments of the whole text. */
function reference(text: string, segmenter: Intl.Segmenter, maxLength: number): string[] {
  const out: string[] = [];
  for (const s of segmenter.segment(text))
    if (s.isWordLike && s.segment.length <= maxLength) out.push(s.segment);
  return out;
}

function assertSame(texts: Iterable<string>, lang: string, what: string): number {
  const seg = new Intl.Segmenter(lang, { granularity: 'word' });
  let n = 0;
  for (const t of texts) {
    const want = reference(t, seg, 255);
    const got = wordSegments(t, seg, 255);
    if (got.length !== want.length || got.some((w, i) => w !== want[i])) {
      assert.deepEqual(got, want, `${what} (${lang}): ${JSON.stringify(t.slice(0, 200))}`);
    }
    n += want.length;
  }
  return n;
}

describe('word segmentation (fast path vs Intl.Segmenter)', () => {
  it('agrees on the classic word-break cases', () => {
    const seg = new Intl.Segmenter('en', { granularity: 'word' });
    const cases: [string, string[]][] = [
      ["don't stop, 3.14 e.g. U.S.A. 1,000,000 a:b _ __ x_1 a.1 1.a o' 'quoted'", []],
      ['state-of-the-art  tabs\tand\nnewlines\r\n(parens) [brackets] {x} 100% $5 #tag @user', []],
      ['café naïve Ünïcödé ’s patient’s β-cell 10⁵ x\u0301y \u0301a -\u0301a a\u200db 👩‍⚕️ ok', []],
      ['数据库 データベース ฐานข้อมูล mixed中文text', []],
    ];
    for (const [text] of cases)
      assert.deepEqual(wordSegments(text, seg, 255), reference(text, seg, 255), text);
    // Spot checks of what the rules mean, so a reader sees them.
    assert.deepEqual(wordSegments("don't 3.14 1,000 a:b _ __ a.1 e.g.", seg, 255), [
      "don't",
      '3.14',
      '1,000',
      'a:b',
      '__',
      'a',
      '1',
      'e.g',
    ]);
    assert.deepEqual(wordSegments('aaaa bb', seg, 3), ['bb'], 'over-long tokens are dropped');
  });

  it('agrees on every SciFact document and query', () => {
    const texts: string[] = [];
    for (const file of ['corpus.jsonl', 'queries.jsonl']) {
      for (const line of readFileSync(join(SCIFACT, file), 'utf8').split('\n')) {
        if (!line) continue;
        const o = JSON.parse(line) as { title?: string; text: string };
        texts.push(o.title ? `${o.title} ${o.text}` : o.text);
      }
    }
    const tokens = assertSame(texts, 'en', 'SciFact');
    assert.ok(tokens > 1_000_000, `${tokens} tokens compared`);
  });

  it('agrees on STS sentences in 11 languages', () => {
    const dir = join(SHARED, 'datasets', 'sts', 'stsb-multi-mt');
    const files = readdirSync(dir).filter((f) => /^stsb-\w+-test\.csv$/.test(f));
    assert.equal(files.length, 11);
    for (const f of files) {
      const lang = f.split('-')[1]!;
      const sentences = readFileSync(join(dir, f), 'utf8').split('\n');
      assert.ok(assertSame(sentences, lang, f) > 1000, f);
    }
  });

  it('agrees on 30,000 random strings of the characters where word-break rules bite', () => {
    const pool = [
      ...'abcXYZ0189',
      ...":.',;_-/@#()",
      ' ',
      '  ',
      '\t',
      '\n',
      '\r\n',
      '\v',
      '\f',
      '\u00a0', // no-break space: not a boundary for the fast path
      '\u2019', // right single quotation mark (MidNumLet)
      '\u00ad', // soft hyphen (Format)
      '\u0301', // combining acute (Extend)
      '\u200d', // zero-width joiner
      '\u200b', // zero-width space
      'é',
      'ß',
      'Ω',
      'я',
      'ש',
      '\u05f4', // Hebrew gershayim
      '中',
      'カ', // Katakana
      'ー',
      'ก',
      '٣', // Arabic-Indic digit
      '１', // fullwidth digit
      '．', // fullwidth full stop
      '👍',
      '🏽',
      '\ud83c\udde9\ud83c\uddea', // regional indicators
    ];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const texts: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      let t = '';
      const len = rand(24);
      // Mostly ASCII, as real text is, with non-ASCII sprinkled in.
      for (let j = 0; j < len; j++) t += rand(4) === 0 ? pool[rand(pool.length)] : pool[rand(22)];
      texts.push(t);
    }
    for (const lang of ['en', 'de', 'fi', 'ja']) assertSame(texts, lang, 'random');
  });
});
