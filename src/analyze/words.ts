/**
 * UAX#29 word segmentation, fast. Intl.Segmenter is the reference (ICU's word-break rules) but
 * costs about 3 µs per token, which made tokenizing 70% of indexing time. Most text is ASCII
 * between ASCII whitespace, and on ASCII the word-break rules are few and locale-independent,
 * so those runs are scanned here by hand; any run holding a non-ASCII character goes to
 * Intl.Segmenter. words.test.ts checks that the result equals Intl.Segmenter's word-like segments
 * on real corpora in 11 languages and on random strings full of the tricky characters.
 *
 * Why runs between ASCII whitespace can be segmented one by one: no word-break rule joins
 * anything across a space, tab or line break (WB3a-d, WB999). The one rule that reaches back over
 * a boundary (WB4: Extend/Format attach to what precedes) is why a non-ASCII run goes to the
 * segmenter with the whitespace before it: ICU happens to give a run-initial combining mark the
 * same result either way, but this way the segmenter sees exactly what it saw in the whole text.
 */

/** ASCII classes under UAX#29 as ICU applies them (the colon is MidLetter, as in the standard). */
const OTHER = 0;
const LETTER = 1; // ALetter: A-Z a-z
const DIGIT = 2; // Numeric: 0-9
const MID_LETTER = 3; // MidLetter: ':'
const MID_NUM_LET = 4; // MidNumLet '.' and Single_Quote "'": join letters and digits alike
const MID_NUM = 5; // MidNum: ',' ';'
const UNDERSCORE = 6; // ExtendNumLet: '_'
const SPACE = 7; // ASCII whitespace: a hard boundary

const CLASS = new Uint8Array(128);
for (let c = 65; c <= 90; c++) CLASS[c] = LETTER;
for (let c = 97; c <= 122; c++) CLASS[c] = LETTER;
for (let c = 48; c <= 57; c++) CLASS[c] = DIGIT;
CLASS[58] = MID_LETTER;
CLASS[46] = MID_NUM_LET;
CLASS[39] = MID_NUM_LET;
CLASS[44] = MID_NUM;
CLASS[59] = MID_NUM;
CLASS[95] = UNDERSCORE;
for (const c of [9, 10, 11, 12, 13, 32]) CLASS[c] = SPACE;

/**
 * Word-like segments of `text` with at most `maxLength` characters, in order — what
 * `segmenter.segment(text)` yields with isWordLike, computed faster.
 */
export function wordSegments(text: string, segmenter: Intl.Segmenter, maxLength: number): string[] {
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    // Skip whitespace, then find the run up to the next ASCII whitespace.
    while (i < n && text.charCodeAt(i) < 128 && CLASS[text.charCodeAt(i)] === SPACE) i++;
    if (i >= n) break;
    const start = i;
    let ascii = true;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) ascii = false;
      else if (CLASS[c] === SPACE) break;
    }
    if (ascii) asciiWords(text, start, i, maxLength, out);
    else {
      // With the whitespace before it, so a leading combining mark attaches as in the whole text.
      const from = start > 0 ? start - 1 : start;
      for (const seg of segmenter.segment(text.slice(from, i))) {
        if (seg.isWordLike && seg.segment.length <= maxLength) out.push(seg.segment);
      }
    }
  }
  return out;
}

/** The word-break rules on one ASCII run [start, end): WB5-WB13b. */
function asciiWords(text: string, start: number, end: number, maxLength: number, out: string[]): void {
  let i = start;
  while (i < end) {
    const first = CLASS[text.charCodeAt(i)]!;
    if (first !== LETTER && first !== DIGIT && first !== UNDERSCORE) {
      i++;
      continue;
    }
    const from = i;
    let prev = first;
    let wordy = first !== UNDERSCORE;
    i++;
    while (i < end) {
      const c = CLASS[text.charCodeAt(i)]!;
      if (c === LETTER || c === DIGIT || c === UNDERSCORE) {
        // WB5, WB8-WB10, WB13a/b: letters, digits and underscores run together.
        prev = c;
        wordy ||= c !== UNDERSCORE;
        i++;
        continue;
      }
      // WB6/7: letter (MidLetter | MidNumLet | Single_Quote) letter;
      // WB11/12: digit (MidNum | MidNumLet | Single_Quote) digit.
      const next = i + 1 < end ? CLASS[text.charCodeAt(i + 1)]! : OTHER;
      if (
        (prev === LETTER && next === LETTER && (c === MID_LETTER || c === MID_NUM_LET)) ||
        (prev === DIGIT && next === DIGIT && (c === MID_NUM || c === MID_NUM_LET))
      ) {
        prev = next;
        i += 2;
        continue;
      }
      break;
    }
    // A lone underscore is not a word; two or more are (ICU gives "__" word status).
    if ((wordy || i - from > 1) && i - from <= maxLength) out.push(text.slice(from, i));
  }
}
