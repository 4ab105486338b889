/**
 * Word segmentation for static word vectors. GloVe's vocabulary was built from lowercased,
 * Stanford-tokenized text: hyphenated compounds ("il-6", "t-cells") are single entries, the
 * possessive "'s" is split off, and numbers are kept whole. We follow that: letters/digits joined
 * by inner hyphens or apostrophes stay one token (the embedder falls back to the parts when the
 * whole is not in the table), the possessive is dropped, decimals ("1.5") and percentages stay
 * together. Scripts written without spaces (Han, Kana, Thai, …) are split with the Unicode word
 * segmenter (Intl.Segmenter), since one regex run would otherwise swallow a whole sentence.
 */

// A word: letters/digits, with inner hyphens or apostrophes; or a number with decimal separators.
const WORD = /\p{N}+(?:[.,]\p{N}+)*%?|[\p{L}\p{M}\p{N}]+(?:[-'’][\p{L}\p{M}\p{N}]+)*/gu;
const NO_SPACES =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const POSSESSIVE = /['’]s$/;

let segmenter: Intl.Segmenter | undefined;

export function staticTokens(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.toLowerCase().normalize('NFC').match(WORD) ?? []) {
    if (NO_SPACES.test(raw)) {
      segmenter ??= new Intl.Segmenter(undefined, { granularity: 'word' });
      for (const s of segmenter.segment(raw)) if (s.isWordLike) out.push(s.segment);
      continue;
    }
    out.push(raw.replace(POSSESSIVE, ''));
  }
  return out;
}

/** The pieces of a compound token ("covid-19" → "covid", "19"), for the out-of-vocabulary fallback. */
export function compoundParts(token: string): string[] {
  return token.split(/[-'’]/).filter((p) => p.length > 0);
}
