import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredDocument } from '../types.js';
import { MAX_CHUNKS_PER_DOC, passageKey } from '../types.js';
import { chunkDocument, splitSentences } from './chunker.js';

const doc = (text: string, over: Partial<StoredDocument> = {}): StoredDocument => ({
  id: 'd1',
  key: 12,
  seq: 1,
  title: 'The Title',
  text,
  ...over,
});

describe('splitSentences', () => {
  it('finds sentence boundaries, trimmed of whitespace', () => {
    const text = 'First sentence. Second one?  Third!\nFourth line';
    const spans = splitSentences(text);
    assert.deepEqual(
      spans.map((s) => text.slice(s.start, s.end)),
      ['First sentence.', 'Second one?', 'Third!', 'Fourth line'],
    );
  });

  it('hard-splits an over-long sentence at whitespace, never mid-word when a space is near', () => {
    const words = Array.from({ length: 1000 }, (_, i) => `word${i}`).join(' ');
    const spans = splitSentences(words, 'en', 100);
    assert.ok(spans.length > 10);
    for (const s of spans) {
      assert.ok(s.end - s.start <= 100);
      const piece = words.slice(s.start, s.end);
      assert.match(piece, /^word\d+( word\d+)*$/, `clean piece: ${piece}`);
    }
    // Without any whitespace the cut happens at the cap.
    const blob = 'x'.repeat(250);
    assert.deepEqual(
      splitSentences(blob, 'en', 100).map((s) => s.end - s.start),
      [100, 100, 50],
    );
  });

  it('gives the same sentences as one Intl.Segmenter pass over the whole text (it segments in windows)', () => {
    const parts: string[] = [];
    for (let i = 0; i < 3000; i++)
      parts.push(
        i % 11 === 0 ? `Dr. Smith met Mr. Jones at 3.14 p.m. on item ${i}!` : `Plain sentence ${i} here.`,
      );
    const text = parts.map((p, i) => (i % 5 === 0 ? `${p}\n` : `${p} `)).join('');
    const whole = [...new Intl.Segmenter('en', { granularity: 'sentence' }).segment(text)]
      .map((s) => s.segment.trim())
      .filter(Boolean);
    const ours = splitSentences(text).map((s) => text.slice(s.start, s.end));
    assert.ok(text.length > 50_000);
    assert.deepEqual(ours, whole);
  });

  it('works for other languages and empty text', () => {
    assert.equal(splitSentences('', 'en').length, 0);
    assert.equal(splitSentences('   ', 'en').length, 0);
    const ja = '今日は晴れです。明日は雨でしょう。';
    assert.equal(splitSentences(ja, 'ja').length, 2);
  });
});

describe('chunkDocument', () => {
  const sentences = Array.from(
    { length: 40 },
    (_, i) => `Sentence number ${i} says something about topic ${i % 7}.`,
  );
  const text = sentences.join(' ');

  it('keeps the whole document as chunk 0 when it fits or chunking is off', () => {
    for (const cfg of [
      { maxChars: 0, overlapSentences: 1 },
      { maxChars: text.length, overlapSentences: 1 },
    ]) {
      const ps = chunkDocument(doc(text), cfg);
      assert.equal(ps.length, 1);
      assert.deepEqual(ps[0], {
        key: passageKey(12, 0),
        docKey: 12,
        docId: 'd1',
        chunk: 0,
        title: 'The Title',
        text,
        start: 0,
        end: text.length,
      });
    }
    assert.equal(
      chunkDocument(doc('', { title: undefined }), { maxChars: 10, overlapSentences: 0 })[0]!.title,
      '',
    );
  });

  it('splits on sentence boundaries within maxChars, with offsets into the parent', () => {
    const ps = chunkDocument(doc(text), { maxChars: 300, overlapSentences: 0 });
    assert.ok(ps.length > 3);
    ps.forEach((p, i) => {
      assert.equal(p.chunk, i);
      assert.equal(p.key, passageKey(12, i));
      assert.equal(p.docKey, 12);
      assert.equal(p.title, 'The Title');
      assert.ok(p.text.length <= 300, `chunk ${i} is ${p.text.length} chars`);
      assert.equal(p.text, text.slice(p.start, p.end));
      assert.match(p.text, /^Sentence number \d+/);
      assert.match(p.text, /\.$/);
    });
    // Without overlap the chunks tile the sentences exactly once.
    const all = ps.map((p) => p.text).join(' ');
    assert.equal(all, text);
  });

  it('overlaps consecutive chunks by the configured number of sentences', () => {
    const ps = chunkDocument(doc(text), { maxChars: 300, overlapSentences: 2 });
    for (let i = 1; i < ps.length; i++) {
      const prev = splitSentences(ps[i - 1]!.text).map((s) => ps[i - 1]!.text.slice(s.start, s.end));
      const cur = splitSentences(ps[i]!.text).map((s) => ps[i]!.text.slice(s.start, s.end));
      assert.deepEqual(
        cur.slice(0, 2),
        prev.slice(-2),
        `chunk ${i} starts with the last two of chunk ${i - 1}`,
      );
    }
    // Every sentence is covered.
    const covered = new Set(ps.flatMap((p) => p.text.match(/Sentence number \d+/g) ?? []));
    assert.equal(covered.size, 40);
  });

  it('is deterministic', () => {
    const cfg = { maxChars: 200, overlapSentences: 1 };
    assert.deepEqual(chunkDocument(doc(text), cfg), chunkDocument(doc(text), cfg));
  });

  it('splits a sentence longer than maxChars so chunks stay within it', () => {
    const long = `${'word '.repeat(300).trim()}. Short one.`;
    const ps = chunkDocument(doc(long), { maxChars: 200, overlapSentences: 0 });
    for (const p of ps) assert.ok(p.text.length <= 200);
  });

  it('never makes more than MAX_CHUNKS_PER_DOC chunks: the chunk size grows instead', () => {
    // 70k short sentences with a tiny maxChars would need 70k chunks.
    const huge = 'Go now. '.repeat(70_000);
    const ps = chunkDocument(doc(huge, { key: 3 }), { maxChars: 10, overlapSentences: 1 });
    assert.ok(ps.length <= MAX_CHUNKS_PER_DOC, `${ps.length} chunks`);
    assert.ok(ps.length > 1000);
    assert.equal(ps.at(-1)!.key, passageKey(3, ps.length - 1));
    assert.ok(ps.at(-1)!.key < passageKey(4, 0), 'passage keys stay inside the document’s key range');
    assert.equal(ps.at(-1)!.end, huge.trimEnd().length);
  });
});
