/**
 * Splitting long documents into passages on sentence boundaries. Deterministic: derived indexes
 * are rebuilt by re-chunking the stored document, so the same document and config must always
 * give the same passages (and the same passage keys).
 */
import type { ChunkingConfig, Passage, StoredDocument } from '../types.js';
import { MAX_CHUNKS_PER_DOC, passageKey } from '../types.js';

export interface Span {
  start: number;
  end: number;
}

/** Sentences longer than this are hard-split at whitespace. */
const MAX_SENTENCE_CHARS = 2000;
/** Characters handed to Intl.Segmenter at once (see splitSentences); well above MAX_SENTENCE_CHARS. */
const SEGMENT_WINDOW = 8000;

const sentenceSegmenters = new Map<string, Intl.Segmenter>();

/**
 * Sentence spans (UAX#29 sentence boundaries), trimmed of surrounding whitespace; a sentence
 * longer than `maxSentenceChars` is hard-split at whitespace.
 */
export function splitSentences(text: string, language = 'en', maxSentenceChars = MAX_SENTENCE_CHARS): Span[] {
  const cap = Math.max(1, maxSentenceChars);
  let seg = sentenceSegmenters.get(language);
  if (!seg) {
    seg = new Intl.Segmenter(language === 'none' ? undefined : language, { granularity: 'sentence' });
    sentenceSegmenters.set(language, seg);
  }
  const out: Span[] = [];
  const accept = (start: number, end: number) => {
    while (start < end && /\s/.test(text[start]!)) start++;
    while (end > start && /\s/.test(text[end - 1]!)) end--;
    if (end > start) for (const piece of hardSplit(text, start, end, cap)) out.push(piece);
  };
  // V8's sentence segmenter slows down with the length of the string it walks (quadratic on
  // multi-megabyte texts), so segment in windows: keep every sentence of a window but the last,
  // which the window edge may have cut, and start the next window there.
  let pos = 0;
  while (pos < text.length) {
    let end = Math.min(text.length, pos + SEGMENT_WINDOW);
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end++;
    const segments = [...seg.segment(text.slice(pos, end))];
    if (end === text.length) {
      for (const s of segments) accept(pos + s.index, pos + s.index + s.segment.length);
      break;
    }
    if (segments.length > 1) {
      for (const s of segments.slice(0, -1)) accept(pos + s.index, pos + s.index + s.segment.length);
      pos += segments[segments.length - 1]!.index;
    } else {
      // One sentence longer than the window: take it up to the window's last whitespace.
      let cut = end;
      while (cut > pos + SEGMENT_WINDOW / 2 && !/\s/.test(text[cut - 1]!)) cut--;
      if (cut <= pos + SEGMENT_WINDOW / 2) cut = end;
      accept(pos, cut);
      pos = cut;
    }
  }
  return out;
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** Split [start, end) into pieces of at most `max` chars, preferring whitespace. */
function hardSplit(text: string, start: number, end: number, max: number): Span[] {
  if (end - start <= max) return [{ start, end }];
  const out: Span[] = [];
  let at = start;
  while (end - at > max) {
    // The last whitespace within the cap; a cut in the first half would make tiny pieces, so a
    // long run without whitespace (URLs, CJK without spaces) is cut at the cap instead.
    let cut = at + max;
    while (cut > at + max / 2 && !/\s/.test(text[cut]!)) cut--;
    if (cut <= at + max / 2) cut = at + max;
    // Never split a surrogate pair.
    if (isHighSurrogate(text.charCodeAt(cut - 1))) cut++;
    out.push({ start: at, end: cut });
    at = cut;
    while (at < end && /\s/.test(text[at]!)) at++;
  }
  if (at < end) out.push({ start: at, end });
  return out;
}

/**
 * Greedy packing: each chunk takes sentences while it stays within maxChars (a single longer
 * sentence makes a chunk of its own), and the next chunk starts `overlap` sentences back.
 */
function packSentences(sentences: Span[], maxChars: number, overlap: number): Span[] {
  const spans: Span[] = [];
  let i = 0;
  while (i < sentences.length) {
    const first = i;
    let end = sentences[i]!.end;
    i++;
    while (i < sentences.length && sentences[i]!.end - sentences[first]!.start <= maxChars) {
      end = sentences[i]!.end;
      i++;
    }
    spans.push({ start: sentences[first]!.start, end });
    if (i >= sentences.length) break;
    // Step back for overlap, but always make progress.
    i = Math.max(first + 1, i - overlap);
  }
  return spans;
}

/**
 * Passages of a document: one covering the whole text when it fits (or chunking is off), else
 * consecutive runs of sentences of at most `maxChars`, each starting `overlapSentences` sentences
 * before the previous one ended.
 */
export function chunkDocument(doc: StoredDocument, cfg: ChunkingConfig, language = 'en'): Passage[] {
  const title = doc.title ?? '';
  const whole: Passage = {
    key: passageKey(doc.key, 0),
    docKey: doc.key,
    docId: doc.id,
    chunk: 0,
    title,
    text: doc.text,
    start: 0,
    end: doc.text.length,
  };
  if (cfg.maxChars <= 0 || doc.text.length <= cfg.maxChars) return [whole];
  // Sentences longer than a chunk are split too, so chunks stay within maxChars.
  const sentences = splitSentences(doc.text, language, Math.min(MAX_SENTENCE_CHARS, cfg.maxChars));
  if (sentences.length === 0) return [whole];
  const overlap = Math.max(0, Math.floor(cfg.overlapSentences));
  // Never exceed the key space of one document: grow the chunk size instead (deterministically,
  // by doubling from a first guess, so a rebuild gives the same passages).
  let maxChars = Math.max(cfg.maxChars, Math.ceil((doc.text.length / (MAX_CHUNKS_PER_DOC - 1)) * 2));
  let spans = packSentences(sentences, maxChars, overlap);
  while (spans.length > MAX_CHUNKS_PER_DOC) {
    maxChars *= 2;
    spans = packSentences(sentences, maxChars, overlap);
  }
  return spans.map((s, n) => ({
    key: passageKey(doc.key, n),
    docKey: doc.key,
    docId: doc.id,
    chunk: n,
    title,
    text: doc.text.slice(s.start, s.end),
    start: s.start,
    end: s.end,
  }));
}
