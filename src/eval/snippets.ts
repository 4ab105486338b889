/**
 * Snippet evaluation on SciFact's rationales: for each (claim, gold abstract) pair, rank the
 * abstract's sentences and check them against the annotated rationale sentences.
 *   hit@1     the top sentence belongs to a rationale
 *   recall@3  some complete rationale set is inside the top 3 sentences
 * for the two-stage selector, the coarse (BM25-only) stage alone, and the lead-sentences baseline.
 * The abstract given is the gold one, so this measures snippet selection alone.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAnalyzer } from '../analyze/index.js';
import type { Embedder } from '../embed/embedder.js';
import { QuiverError } from '../errors.js';
import { openSource } from '../ingest/sources.js';
import { beirCorpusPath, readBeirQueryTexts } from './beir.js';
import { SnippetSelector, idfFrom } from '../snippet/snippet.js';

interface Rationale {
  query_id: string;
  doc_id: string;
  rationales: number[][];
  sentences: string[];
}

export interface SnippetEvalResult {
  'hit@1': number;
  'recall@3': number;
  'lead_hit@1': number;
  'lead_recall@3': number;
  'bm25_hit@1': number;
  'bm25_recall@3': number;
  pairs: number;
  ms_per_result_p50: number;
  ms_per_result_p99: number;
  /**
   * Wall time of a whole snippet for one result (sentence split, coarse + fine stage, composition
   * and highlighting — what a search with snippets pays per hit), in milliseconds.
   */
  latency_ms: { p50: number; p99: number; mean: number };
}

const score = (ranking: number[], sets: number[][]) => {
  const gold = new Set(sets.flat());
  const top3 = new Set(ranking.slice(0, 3));
  return { hit1: gold.has(ranking[0]!) ? 1 : 0, rec3: sets.some((s) => s.every((i) => top3.has(i))) ? 1 : 0 };
};

export async function evaluateSnippets(
  dir: string,
  opts: { embedder?: Embedder } = {},
): Promise<SnippetEvalResult> {
  const path = join(dir, 'rationales.jsonl');
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch {
    throw new QuiverError('FILE_NOT_FOUND', `${dir} has no rationales.jsonl`, { location: { file: path } });
  }
  const pairs = raw
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as Rationale;
      } catch (e) {
        throw new QuiverError('INVALID_JSON', (e as Error).message, {
          location: { file: path, line: i + 1 },
        });
      }
    });
  const { texts: queries } = await readBeirQueryTexts(dir);
  // Collection statistics for idf: document frequency of every analyzed term in the corpus.
  const analyzer = createAnalyzer({ language: 'en' });
  const df = new Map<string, number>();
  let n = 0;
  for await (const item of openSource({ path: beirCorpusPath(dir), format: 'beir' })) {
    if (!item.ok) throw item.error;
    const d = item.doc;
    for (const t of new Set(analyzer.analyze(`${d.title ?? ''} ${d.text}`))) df.set(t, (df.get(t) ?? 0) + 1);
    n++;
  }
  const selector = new SnippetSelector(analyzer, idfFrom(df, n), opts.embedder);
  const totals = { two: { h: 0, r: 0 }, bm25: { h: 0, r: 0 }, lead: { h: 0, r: 0 } };
  const lat: number[] = [];
  const full: number[] = [];
  for (const p of pairs) {
    const q = queries.get(String(p.query_id));
    if (q === undefined)
      throw new QuiverError('INVALID_ARGUMENT', `query ${p.query_id} is not in queries.jsonl`, {
        location: { file: path },
      });
    const t0 = performance.now();
    const ranked = (await selector.rank(q, p.sentences)).map((r) => r.index);
    lat.push(performance.now() - t0);
    const t1 = performance.now();
    await selector.snippet(q, p.sentences.join(' '));
    full.push(performance.now() - t1);
    const coarse = selector
      .coarse(q, p.sentences)
      .map((s, i) => ({ s, i }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .map((x) => x.i);
    const lead = p.sentences.map((_, i) => i);
    for (const [k, r] of [
      ['two', ranked],
      ['bm25', coarse],
      ['lead', lead],
    ] as const) {
      const s = score(r, p.rationales);
      totals[k].h += s.hit1;
      totals[k].r += s.rec3;
    }
  }
  const m = pairs.length || 1;
  lat.sort((a, b) => a - b);
  full.sort((a, b) => a - b);
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
  return {
    'hit@1': totals.two.h / m,
    'recall@3': totals.two.r / m,
    'lead_hit@1': totals.lead.h / m,
    'lead_recall@3': totals.lead.r / m,
    'bm25_hit@1': totals.bm25.h / m,
    'bm25_recall@3': totals.bm25.r / m,
    pairs: pairs.length,
    ms_per_result_p50: lat[Math.floor(lat.length / 2)] ?? 0,
    ms_per_result_p99: pct(lat, 0.99),
    latency_ms: {
      p50: pct(full, 0.5),
      p99: pct(full, 0.99),
      mean: full.reduce((a, b) => a + b, 0) / Math.max(1, full.length),
    },
  };
}
