import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, evaluateQuery, rankDocuments } from './metrics.js';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} vs ${b}`);

describe('trec_eval semantics', () => {
  it('ranks by score descending, ties by docno descending (strcmp)', () => {
    assert.deepEqual(rankDocuments({ a: 1, b: 2, c: 1, d: 1 }), ['b', 'd', 'c', 'a']);
  });

  it('computes AP, RR, P@k, recall@k on a hand-worked query', () => {
    // ranking: d1(R) d2 d3(R) d4 d5(R); 4 relevant in qrels (d9 never retrieved)
    const rels = { d1: 1, d3: 1, d5: 1, d9: 1, d2: 0 };
    const run = { d1: 5, d2: 4, d3: 3, d4: 2, d5: 1 };
    const m = evaluateQuery(rels, run);
    close(m['map']!, (1 / 1 + 2 / 3 + 3 / 5) / 4, 'AP');
    close(m['recip_rank']!, 1);
    close(m['P_5']!, 3 / 5);
    close(m['recall_5']!, 3 / 4);
    close(m['map_cut_5']!, (1 + 2 / 3 + 3 / 5) / 4);
    close(m['Rprec']!, 2 / 4);
  });

  it('uses graded gains for nDCG with the ideal from all judged gains; negative judgments count as 0', () => {
    const rels = { a: 3, b: 1, c: 2, z: 2, n: -1 };
    const run = { a: 0.9, b: 0.8, n: 0.7, c: 0.6 };
    const dcg = 3 / Math.log2(2) + 1 / Math.log2(3) + 0 + 2 / Math.log2(5);
    const idcg = 3 / Math.log2(2) + 2 / Math.log2(3) + 2 / Math.log2(4) + 1 / Math.log2(5);
    close(evaluateQuery(rels, run)['ndcg_cut_10']!, dcg / idcg);
    // cutoff 2 only sees the first two ranks on both sides
    close(evaluateQuery(rels, run)['ndcg_cut_5']!, dcg / idcg);
  });

  it('treats rel ≥ 1 as relevant for binary measures, and relevance level can be raised', () => {
    const rels = { a: 1, b: 2 };
    const run = { a: 2, b: 1 };
    close(evaluateQuery(rels, run)['recip_rank']!, 1);
    close(evaluateQuery(rels, run, { relevanceLevel: 2 })['recip_rank']!, 1 / 2);
  });

  it('averages over queries in both run and qrels; -c counts missing queries as zero', () => {
    const qrels = { q1: { a: 1 }, q2: { b: 1 }, q3: { c: 1 } };
    const run = { q1: { a: 1 }, q2: { x: 1, b: 0.5 }, q9: { a: 1 } };
    const r = evaluate(qrels, run);
    assert.equal(r.aggregate['num_q'], 2);
    close(r.aggregate['map']!, (1 + 0.5) / 2);
    const c = evaluate(qrels, run, { complete: true });
    assert.equal(c.aggregate['num_q'], 3);
    close(c.aggregate['map']!, (1 + 0.5 + 0) / 3);
  });

  it('gives 0 (not NaN) for queries whose judgments hold no relevant document', () => {
    const m = evaluateQuery({ a: 0 }, { a: 1 });
    assert.equal(m['map'], 0);
    assert.equal(m['ndcg_cut_10'], 0);
    assert.equal(m['recall_100'], 0);
  });

  it("reports BEIR's names: MRR@10 is cut at rank 10", () => {
    const run: Record<string, number> = {};
    for (let i = 0; i < 12; i++) run[`d${String(i).padStart(2, '0')}`] = 100 - i;
    const m = evaluateQuery({ d11: 1 }, run);
    assert.equal(m['mrr@10'], 0);
    close(m['recip_rank']!, 1 / 12);
  });
});
