/**
 * Analyzers per language. The English default reproduces Lucene's EnglishAnalyzer (as Pyserini
 * runs it): StandardTokenizer (UAX#29 word boundaries — Intl.Segmenter implements the same
 * Unicode rules), EnglishPossessiveFilter, LowerCaseFilter, StopFilter with Lucene's 33-word
 * English set, PorterStemFilter (the original Porter algorithm, not Porter2).
 * Other languages use Snowball stemmers and stopword lists; languages without a stemmer get
 * segmentation + case folding only (Intl.Segmenter segments Chinese, Japanese and Thai into words).
 */
import { createRequire } from 'node:module';
import { stemmer as porterStemmer } from 'stemmer';
import { QuiverError } from '../errors.js';
import type { AnalyzerConfig } from '../types.js';
import type { Analyzer } from './analyzer.js';
import { wordSegments } from './words.js';

export type { Analyzer } from './analyzer.js';

const require = createRequire(import.meta.url);

interface SnowballStemmer {
  stem(word: string): string;
}
interface SnowballFactory {
  newStemmer(language: string): SnowballStemmer;
  algorithms(): string[];
}

/** Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET. */
export const LUCENE_ENGLISH_STOPWORDS: readonly string[] = [
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'if',
  'in',
  'into',
  'is',
  'it',
  'no',
  'not',
  'of',
  'on',
  'or',
  'such',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'to',
  'was',
  'will',
  'with',
];

/** ISO 639-1 code → Snowball algorithm name. */
const SNOWBALL: Record<string, string> = {
  fr: 'french',
  de: 'german',
  es: 'spanish',
  pt: 'portuguese',
  it: 'italian',
  nl: 'dutch',
  ru: 'russian',
  sv: 'swedish',
  no: 'norwegian',
  da: 'danish',
  fi: 'finnish',
  hu: 'hungarian',
  ro: 'romanian',
  tr: 'turkish',
  ar: 'arabic',
  ca: 'catalan',
  eu: 'basque',
  cs: 'czech',
  hy: 'armenian',
  ga: 'irish',
};

export const STEMMED_LANGUAGES: readonly string[] = ['en', ...Object.keys(SNOWBALL)];

/** Lucene StandardTokenizer's default maximum token length. */
const MAX_TOKEN_LENGTH = 255;

let snowballFactory: SnowballFactory | undefined;
function snowball(language: string): SnowballStemmer {
  snowballFactory ??= require('snowball-stemmers') as SnowballFactory;
  return snowballFactory.newStemmer(language);
}

let isoStopwords: Record<string, string[]> | undefined;
function stopwordsFor(lang: string): string[] {
  if (lang === 'en') return [...LUCENE_ENGLISH_STOPWORDS];
  isoStopwords ??= require('stopwords-iso') as Record<string, string[]>;
  return isoStopwords[lang] ?? [];
}

const segmenters = new Map<string, Intl.Segmenter>();
function segmenter(lang: string): Intl.Segmenter {
  let s = segmenters.get(lang);
  if (!s) {
    s = new Intl.Segmenter(lang === 'none' ? undefined : lang, { granularity: 'word' });
    segmenters.set(lang, s);
  }
  return s;
}

/** UAX#29 word tokens (letters, digits, ideographs), as Lucene's StandardTokenizer emits them. */
export function tokenize(text: string, lang = 'en'): string[] {
  // Lucene splits over-long tokens; dropping them is simpler and they never match anyway.
  return wordSegments(text, segmenter(lang), MAX_TOKEN_LENGTH);
}

/** Lucene's EnglishPossessiveFilter: strip a trailing 's (also with ’ or ＇). */
function stripPossessive(t: string): string {
  const n = t.length;
  if (n >= 2) {
    const last = t[n - 1];
    const apos = t[n - 2];
    if ((last === 's' || last === 'S') && (apos === "'" || apos === '\u2019' || apos === '\uFF07')) {
      return t.slice(0, n - 2);
    }
  }
  return t;
}

class LanguageAnalyzer implements Analyzer {
  private readonly stop: Set<string>;
  private readonly stem: ((w: string) => string) | undefined;
  private readonly cache = new Map<string, string>();

  constructor(
    readonly language: string,
    stopwords: boolean | string[],
    stemming: boolean,
  ) {
    const list = Array.isArray(stopwords) ? stopwords : stopwords ? stopwordsFor(language) : [];
    this.stop = new Set(list.map((w) => w.toLowerCase()));
    if (stemming) {
      if (language === 'en') this.stem = porterStemmer;
      else if (SNOWBALL[language]) {
        const s = snowball(SNOWBALL[language]);
        this.stem = (w) => s.stem(w);
      }
    }
  }

  analyze(text: string): string[] {
    const out: string[] = [];
    for (let t of tokenize(text, this.language)) {
      if (this.language === 'en') t = stripPossessive(t);
      t = t.toLowerCase();
      if (t.length === 0 || this.stop.has(t)) continue;
      out.push(this.stem ? this.stemCached(t) : t);
    }
    return out;
  }

  private stemCached(t: string): string {
    let s = this.cache.get(t);
    if (s === undefined) {
      s = this.stem!(t);
      if (this.cache.size > 200_000) this.cache.clear();
      this.cache.set(t, s);
    }
    return s;
  }
}

/**
 * Text whose analysis differs whenever an analyzer's behaviour does (language, stopwords,
 * stemming, tokenization across scripts). Persisted indexes store analyze(ANALYZER_PROBE) and
 * refuse to load under an analyzer that answers differently.
 */
export const ANALYZER_PROBE =
  "The runners' Häuser, les chats et los perros corriendo: e.g. IL-6 1.5 我爱自然语言处理 東京は日本の首都です ภาษาไทย бегущими";

export function createAnalyzer(config: AnalyzerConfig): Analyzer {
  const language = (config.language || 'en').toLowerCase();
  if (!/^[a-z]{2,3}(-[a-z0-9]+)?$|^none$/.test(language)) {
    throw new QuiverError('INVALID_CONFIG', `analyzer language "${config.language}" is not a language code`, {
      location: { field: 'analyzer.language' },
    });
  }
  const base = language.split('-')[0]!;
  const hasStemmer = STEMMED_LANGUAGES.includes(base);
  // Stopwords are on by default only where the language is fully supported (stemmer + curated
  // list); elsewhere the default is segmentation + case folding, and `stopwords: true` opts in to
  // the stopwords-iso list.
  return new LanguageAnalyzer(base, config.stopwords ?? hasStemmer, (config.stemming ?? true) && hasStemmer);
}
