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

const sentenceSegmenters = new Map<string, Intl.Segmenter>();

/** Sentence spans (UAX#29 sentence boundaries), trimmed of surrounding whitespace. */
export function splitSentences(text: string, language = 'en'): Span[] {
  let seg = sentenceSegmenters.get(language);
  if (!seg) {
    seg = new Intl.Segmenter(language === 'none' ? undefined : language, { granularity: 'sentence' });
    sentenceSegmenters.set(language, seg);
  }
  const out: Span[] = [];
  for (const s of seg.segment(text)) {
    let start = s.index;
    let end = s.index + s.segment.length;
    while (start < end && /\s/.test(text[start]!)) start++;
    while (end > start && /\s/.test(text[end - 1]!)) end--;
    if (end <= start) continue;
    for (const piece of hardSplit(text, start, end, MAX_SENTENCE_CHARS)) out.push(piece);
  }
  return out;
}

/** Split [start, end) into pieces of at most `max` chars, preferring whitespace. */
function hardSplit(text: string, start: number, end: number, max: number): Span[] {
  if (end - start <= max) return [{ start, end }];
  const out: Span[] = [];
  let at = start;
  while (end - at > max) {
    let cut = text.lastIndexOf(' ', at + max);
    if (cut <= at + max / 2) cut = at + max;
    out.push({ start: at, end: cut });
    at = cut;
    while (at < end && /\s/.test(text[at]!)) at++;
  }
  if (at < end) out.push({ start: at, end });
  return out;
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
  const sentences = splitSentences(doc.text, language);
  if (sentences.length === 0) return [whole];
  // Never exceed the key space of one document: grow the chunk size instead.
  const maxChars = Math.max(cfg.maxChars, Math.ceil((doc.text.length / (MAX_CHUNKS_PER_DOC - 1)) * 2));
  const overlap = Math.max(0, cfg.overlapSentences);
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
