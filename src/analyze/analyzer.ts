/**
 * An analyzer turns text into index terms: segmentation, case folding, stopwords, stemming.
 * The same analyzer runs at index time and at query time, so it is part of a collection's config.
 */
export interface Analyzer {
  /** e.g. "en", "fr", "zh", "none". */
  readonly language: string;
  /** Terms in order of appearance (duplicates kept: BM25 needs term frequencies). */
  analyze(text: string): string[];
}
