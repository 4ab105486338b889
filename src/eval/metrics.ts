/**
 * Retrieval metrics with trec_eval's semantics (9.x; pytrec_eval and therefore BEIR share them):
 *  - a query is evaluated when it has qrels and appears in the run (queries with qrels but no
 *    results are skipped unless `complete` is set, like `trec_eval -c`); num_q counts them;
 *  - documents are ranked by score descending, ties broken by docno descending (strcmp), whatever
 *    ranks the run file claims;
 *  - a document is relevant for binary measures when rel ≥ relevanceLevel (default 1);
 *  - nDCG uses the judged relevance value as gain (only positive gains count), discount
 *    log2(rank + 1), and the ideal ordering of all judged gains;
 *  - aggregates are arithmetic means over evaluated queries.
 */

/** qid → docid → relevance */
export type Qrels = Record<string, Record<string, number>>;
/** qid → docid → score */
export type Run = Record<string, Record<string, number>>;

export interface EvaluateOptions {
  /** Evaluate every query with qrels, scoring missing ones as 0 (trec_eval -c). */
  complete?: boolean;
  relevanceLevel?: number;
  /** Cutoffs for P, recall, ndcg_cut, map_cut (trec_eval's defaults plus 100/1000). */
  cutoffs?: number[];
}

export interface EvaluateResult {
  perQuery: Record<string, Record<string, number>>;
  aggregate: Record<string, number>;
}

const DEFAULT_CUTOFFS = [5, 10, 15, 20, 30, 100, 200, 500, 1000];

/** strcmp on JavaScript strings compares UTF-16 code units; docnos are ASCII in practice. */
function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** trec_eval's ordering: score descending, then docno descending. */
export function rankDocuments(scores: Record<string, number>): string[] {
  return Object.keys(scores).sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa > sb) return -1;
    if (sa < sb) return 1;
    return strcmp(b, a);
  });
}

function dcg(gains: number[], cutoff: number): number {
  let s = 0;
  for (let i = 0; i < Math.min(cutoff, gains.length); i++) {
    const g = gains[i]!;
    if (g > 0) s += g / Math.log2(i + 2);
  }
  return s;
}

/** All measures for one query. */
export function evaluateQuery(
  rels: Record<string, number>,
  scores: Record<string, number>,
  opts: EvaluateOptions = {},
): Record<string, number> {
  const level = opts.relevanceLevel ?? 1;
  const cutoffs = opts.cutoffs ?? DEFAULT_CUTOFFS;
  const ranked = rankDocuments(scores);
  const gains = ranked.map((d) => rels[d] ?? 0);
  const isRel = gains.map((g) => g >= level);
  const numRel = Object.values(rels).filter((r) => r >= level).length;
  const idealGains = Object.values(rels)
    .filter((r) => r > 0)
    .sort((a, b) => b - a);

  const out: Record<string, number> = {};
  // Precision at each relevant rank, for map and map_cut.
  let relSoFar = 0;
  let apSum = 0;
  let firstRel = 0;
  const apAt: number[] = []; // cumulative AP numerator after rank i+1
  for (let i = 0; i < ranked.length; i++) {
    if (isRel[i]) {
      relSoFar++;
      apSum += relSoFar / (i + 1);
      if (firstRel === 0) firstRel = i + 1;
    }
    apAt.push(apSum);
  }
  out['num_ret'] = ranked.length;
  out['num_rel'] = numRel;
  out['num_rel_ret'] = relSoFar;
  out['map'] = numRel ? apSum / numRel : 0;
  out['recip_rank'] = firstRel ? 1 / firstRel : 0;
  const relRetAt = (k: number) => isRel.slice(0, k).filter(Boolean).length;
  for (const k of cutoffs) {
    out[`P_${k}`] = relRetAt(k) / k;
    out[`recall_${k}`] = numRel ? relRetAt(k) / numRel : 0;
    const ideal = dcg(idealGains, k);
    out[`ndcg_cut_${k}`] = ideal > 0 ? dcg(gains, k) / ideal : 0;
    const apK = ranked.length ? apAt[Math.min(k, ranked.length) - 1]! : 0;
    out[`map_cut_${k}`] = numRel ? apK / numRel : 0;
  }
  const idealAll = dcg(idealGains, idealGains.length);
  out['ndcg'] = idealAll > 0 ? dcg(gains, gains.length) / idealAll : 0;
  // R-precision: precision at rank num_rel.
  out['Rprec'] = numRel ? relRetAt(numRel) / numRel : 0;
  // BEIR's names (fractions): MRR@10 is the reciprocal rank of the first relevant doc in the top 10.
  out['ndcg@10'] = out['ndcg_cut_10']!;
  out['mrr@10'] = firstRel && firstRel <= 10 ? 1 / firstRel : 0;
  out['recall@100'] = out['recall_100']!;
  out['map@100'] = out['map_cut_100']!;
  return out;
}

/** Measures of `evaluateQuery` that are counts, summed rather than averaged (as trec_eval does). */
const SUMMED = new Set(['num_ret', 'num_rel', 'num_rel_ret']);

export function evaluate(qrels: Qrels, run: Run, opts: EvaluateOptions = {}): EvaluateResult {
  const perQuery: Record<string, Record<string, number>> = {};
  const qids = Object.keys(qrels).filter((q) => opts.complete || run[q] !== undefined);
  for (const q of qids.sort()) perQuery[q] = evaluateQuery(qrels[q]!, run[q] ?? {}, opts);
  const aggregate: Record<string, number> = {};
  const n = qids.length;
  for (const row of Object.values(perQuery)) {
    for (const [m, v] of Object.entries(row)) aggregate[m] = (aggregate[m] ?? 0) + v;
  }
  for (const m of Object.keys(aggregate)) if (!SUMMED.has(m)) aggregate[m] = aggregate[m]! / Math.max(1, n);
  aggregate['num_q'] = n;
  return { perQuery, aggregate };
}
