/**
 * Retrieval metrics with trec_eval 9.x semantics (pytrec_eval, and therefore BEIR, run the same C
 * code). What follows was checked against usnistgov/trec_eval's sources:
 *
 *  - Query set (trec_eval.c): a query is evaluated when it has qrels *and* appears in the run.
 *    Queries only in the run are ignored. Queries with qrels but no relevant document are still
 *    evaluated (their map/recall/ndcg are 0) — only queries with no qrels at all are skipped.
 *    `complete` (trec_eval -c) evaluates every qrels query, a missing one as an empty ranking.
 *    num_q counts evaluated queries; the aggregate of every measure is the mean over them, except
 *    the counts num_ret, num_rel, num_rel_ret, which are summed.
 *  - Ranking (form_res_rels.c, comp_sim_docno): score descending, ties broken by docno with
 *    strcmp *descending* ("b" before "a"), whatever ranks the run file claims. A docno listed
 *    twice for one query is an error there ("duplicate docs"); a Run object cannot hold
 *    duplicates, and the file reader in ./trec.ts rejects them with the line.
 *    `maxDocsPerQuery` (trec_eval -M) keeps the first N after that sort.
 *  - Relevance of a retrieved document (form_res_rels.c): its qrels value if judged (≥ 0); −1 if
 *    not in the qrels ("nonpool"); −2 if in the qrels with a negative value ("in pool, unjudged").
 *    Binary measures count rel ≥ relevanceLevel (default 1) as relevant; num_rel counts the qrels
 *    entries with value ≥ max(0, relevanceLevel).
 *  - nDCG (m_ndcg_cut.c, m_ndcg.c): gain = the relevance value when > 0 (so unjudged, negative and
 *    zero judgments add nothing), discount log2(rank + 1); the ideal DCG ranks *all* positive
 *    judgments of the query (retrieved or not) by value, and is cut at the same k. Gains do not
 *    depend on relevanceLevel. ideal = 0 (no positive judgment) gives 0, not NaN.
 *  - P_k divides by k even when fewer than k documents were retrieved; recall_k, map, map_cut_k
 *    and Rprec divide by num_rel and are 0 when num_rel = 0; recip_rank is 1/rank of the first
 *    relevant document (0 if none).
 *
 * BEIR's names, as fractions: ndcg@k = ndcg_cut_k, recall@k = recall_k, map@k = map_cut_k,
 * precision@k = P_k (all from pytrec_eval in BEIR), and mrr@k = BEIR's custom MRR: 1/rank of the
 * first document with rel > 0 within the top k, else 0. Two documented differences from BEIR's
 * Python: (1) BEIR sorts with Python's stable sort, so its ties keep the order in which the run
 * dict was filled, which a Run object cannot reproduce; we break ties like trec_eval. (2) BEIR
 * divides MRR by the number of qrels queries (and raises KeyError if one is missing from the
 * run); we average over the same query set as every other measure, which is identical whenever
 * every qrels query was run — as BEIR requires.
 */

import { QuiverError } from '../errors.js';

/** qid → docid → relevance (integers in qrels files). */
export type Qrels = Record<string, Record<string, number>>;
/** qid → docid → score. */
export type Run = Record<string, Record<string, number>>;

export interface EvaluateOptions {
  /** Evaluate every query with qrels, scoring missing ones as an empty ranking (trec_eval -c). */
  complete?: boolean;
  /** Lowest relevance value that counts as relevant for binary measures (trec_eval -l, default 1). */
  relevanceLevel?: number;
  /** Cutoffs for P, recall, ndcg_cut, map_cut (default: trec_eval's 5,10,15,20,30,100,200,500,1000). */
  cutoffs?: number[];
  /** Use only the top N documents of each query after sorting (trec_eval -M). */
  maxDocsPerQuery?: number;
  /** Drop documents whose id equals the query id before evaluating (BEIR's ignore_identical_ids). */
  ignoreIdenticalIds?: boolean;
  /**
   * Extra measures by name, for cutoffs not in `cutoffs`: "P_7", "recall_50", "ndcg_cut_3",
   * "map_cut_20", "ndcg@3", "mrr@100", "recall@20", "map@10", "precision@5".
   */
  measures?: string[];
}

export interface EvaluateResult {
  perQuery: Record<string, Record<string, number>>;
  aggregate: Record<string, number>;
}

export const TREC_DEFAULT_CUTOFFS: readonly number[] = [5, 10, 15, 20, 30, 100, 200, 500, 1000];

/** The relevance trec_eval assigns to a retrieved document that is not in the qrels. */
export const RELVALUE_NONPOOL = -1;
/** ... and to one that is in the qrels with a negative value ("in pool, unjudged"). */
export const RELVALUE_UNJUDGED = -2;

/**
 * C's strcmp on the UTF-8 bytes. JavaScript's `<` compares UTF-16 code units, which orders
 * characters above U+FFFF differently; docnos are nearly always ASCII, so the fast path is the
 * common one.
 */
export function strcmp(a: string, b: string): number {
  if (a === b) return 0;
  if (/[^\x00-\x7f]/.test(a) || /[^\x00-\x7f]/.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : 1;
}

/** trec_eval's ordering of a query's documents: score descending, then docno descending (strcmp). */
export function rankDocuments(scores: Record<string, number>): string[] {
  return Object.keys(scores).sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa > sb) return -1;
    if (sa < sb) return 1;
    return strcmp(b, a);
  });
}

/** Parse a parametrised measure name into its family and cutoff. */
function parseMeasure(name: string): { family: string; k: number } | undefined {
  const m =
    /^(P|recall|ndcg_cut|map_cut)_(\d+)$/.exec(name) ?? /^(ndcg|mrr|recall|map|precision)@(\d+)$/.exec(name);
  if (!m) return undefined;
  const k = Number(m[2]);
  if (!(k > 0)) return undefined;
  const family = name.includes('@') ? `${m[1]}@` : m[1]!;
  return { family, k };
}

/** All measures for one query (trec_eval's per-query values). */
export function evaluateQuery(
  rels: Record<string, number>,
  scores: Record<string, number>,
  opts: EvaluateOptions = {},
): Record<string, number> {
  const level = opts.relevanceLevel ?? 1;
  const cutoffs = opts.cutoffs ?? TREC_DEFAULT_CUTOFFS;
  let ranked = rankDocuments(scores);
  if (opts.maxDocsPerQuery !== undefined && ranked.length > opts.maxDocsPerQuery) {
    ranked = ranked.slice(0, Math.max(0, opts.maxDocsPerQuery));
  }
  const n = ranked.length;
  // Relevance per rank, with trec_eval's markers for unjudged documents.
  const relAt = ranked.map((d) => {
    const r = rels[d];
    if (r === undefined) return RELVALUE_NONPOOL;
    return r < 0 ? RELVALUE_UNJUDGED : r;
  });
  const judged = Object.values(rels).filter((r) => r >= 0);
  const numRel = judged.filter((r) => r >= level).length;
  const idealGains = judged.filter((r) => r > 0).sort((a, b) => b - a);

  // Prefix sums: relevant retrieved, AP numerator, DCG — all after rank i+1.
  const relRet = new Array<number>(n);
  const apSum = new Array<number>(n);
  const dcgSum = new Array<number>(n);
  let rr = 0;
  let ap = 0;
  let dcg = 0;
  let firstRel = 0;
  let firstPositive = 0;
  for (let i = 0; i < n; i++) {
    const r = relAt[i]!;
    if (r >= level) {
      rr++;
      ap += rr / (i + 1);
      if (firstRel === 0) firstRel = i + 1;
    }
    if (r > 0) {
      dcg += r / Math.log2(i + 2);
      if (firstPositive === 0) firstPositive = i + 1;
    }
    relRet[i] = rr;
    apSum[i] = ap;
    dcgSum[i] = dcg;
  }
  const atK = (arr: number[], k: number) => (n === 0 ? 0 : arr[Math.min(k, n) - 1]!);
  const idealAt = (k: number) => {
    let s = 0;
    for (let i = 0; i < Math.min(k, idealGains.length); i++) s += idealGains[i]! / Math.log2(i + 2);
    return s;
  };
  const ndcgAt = (k: number) => {
    const ideal = idealAt(k);
    return ideal > 0 ? atK(dcgSum, k) / ideal : 0;
  };

  const out: Record<string, number> = {};
  out['num_ret'] = n;
  out['num_rel'] = numRel;
  out['num_rel_ret'] = rr;
  out['map'] = numRel ? ap / numRel : 0;
  out['recip_rank'] = firstRel ? 1 / firstRel : 0;
  out['Rprec'] = numRel ? atK(relRet, numRel) / numRel : 0;
  out['ndcg'] = ndcgAt(Math.max(n, idealGains.length));
  const family = (f: string, k: number): number => {
    switch (f) {
      case 'P':
      case 'precision@':
        return atK(relRet, k) / k;
      case 'recall':
      case 'recall@':
        return numRel ? atK(relRet, k) / numRel : 0;
      case 'ndcg_cut':
      case 'ndcg@':
        return ndcgAt(k);
      case 'map_cut':
      case 'map@':
        return numRel ? atK(apSum, k) / numRel : 0;
      case 'mrr@':
        return firstPositive && firstPositive <= k ? 1 / firstPositive : 0;
      default:
        return 0;
    }
  };
  for (const k of cutoffs) {
    for (const f of ['P', 'recall', 'ndcg_cut', 'map_cut']) out[`${f}_${k}`] = family(f, k);
  }
  // BEIR's names (fractions).
  out['ndcg@10'] = family('ndcg@', 10);
  out['mrr@10'] = family('mrr@', 10);
  out['recall@100'] = family('recall@', 100);
  out['map@100'] = family('map@', 100);
  for (const name of opts.measures ?? []) {
    const p = parseMeasure(name);
    if (p) out[name] = family(p.family, p.k);
  }
  return out;
}

/** Measures that are counts, summed rather than averaged in the aggregate (as trec_eval prints them). */
const SUMMED = new Set(['num_ret', 'num_rel', 'num_rel_ret']);

/** Names accepted in `EvaluateOptions.measures`; unknown names are an error rather than a silent 0. */
export function isKnownMeasure(name: string): boolean {
  return parseMeasure(name) !== undefined;
}

export function evaluate(qrels: Qrels, run: Run, opts: EvaluateOptions = {}): EvaluateResult {
  for (const name of opts.measures ?? []) {
    if (!isKnownMeasure(name)) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `unknown measure "${name}" (try P_5, recall_50, ndcg_cut_3, map_cut_20, ndcg@3, mrr@100)`,
        {
          location: { field: 'measures' },
        },
      );
    }
  }
  const perQuery: Record<string, Record<string, number>> = {};
  const qids = Object.keys(qrels)
    .filter((q) => opts.complete || run[q] !== undefined)
    .sort(strcmp);
  for (const q of qids) {
    let scores = run[q] ?? {};
    if (opts.ignoreIdenticalIds && q in scores) {
      scores = { ...scores };
      delete scores[q];
    }
    perQuery[q] = evaluateQuery(qrels[q]!, scores, opts);
  }
  const aggregate: Record<string, number> = {};
  for (const row of Object.values(perQuery)) {
    for (const [m, v] of Object.entries(row)) aggregate[m] = (aggregate[m] ?? 0) + v;
  }
  const n = qids.length;
  for (const m of Object.keys(aggregate)) if (!SUMMED.has(m)) aggregate[m] = aggregate[m]! / n;
  aggregate['num_q'] = n;
  return { perQuery, aggregate };
}

/**
 * Build a Run from ranked hits per query (best first), keeping the first occurrence of a document
 * (a document that appears twice — e.g. two passages of one document — keeps its best score), so
 * the run is valid for trec_eval.
 */
export function runFromRankings(rankings: Record<string, { id: string; score: number }[]>): Run {
  const run: Run = {};
  for (const [qid, hits] of Object.entries(rankings)) {
    const row: Record<string, number> = {};
    for (const h of hits) if (!(h.id in row)) row[h.id] = h.score;
    run[qid] = row;
  }
  return run;
}
