/**
 * No trec_eval binary is available here, so these hand-computed cases are the proof that the
 * numbers match trec_eval 9.x / pytrec_eval. The arithmetic is written out next to each value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { evaluate, evaluateQuery, rankDocuments, runFromRankings, strcmp } from './metrics.js';

const close = (a: number | undefined, b: number, msg = '') => {
  assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${msg} got ${a}, expected ${b}`);
};

describe('trec_eval ranking', () => {
  it('sorts by score descending, breaking ties by docno descending (strcmp), never by the claimed rank', () => {
    assert.deepEqual(rankDocuments({ a: 1, b: 2, c: 1, d: 1 }), ['b', 'd', 'c', 'a']);
    assert.deepEqual(rankDocuments({ a: 2, z: 1, b: 2 }), ['b', 'a', 'z']);
    // strcmp is bytewise, not numeric: "9" > "10", so "9" ranks first among equals.
    assert.deepEqual(rankDocuments({ '10': 1, '9': 1 }), ['9', '10']);
  });

  it('compares docnos as UTF-8 bytes like C strcmp, not as UTF-16 code units', () => {
    // U+FF5A is EF BD 9A in UTF-8, U+1F600 is F0 9F 98 80: bytewise the emoji is larger, while
    // UTF-16 (0xFF5A vs surrogate 0xD83D) would say the opposite.
    assert.ok(strcmp('\u{1F600}', '\uFF5A') > 0);
    assert.ok('\u{1F600}' < '\uFF5A', 'JavaScript order differs, which is why strcmp exists');
    assert.deepEqual(rankDocuments({ '\uFF5A': 1, '\u{1F600}': 1 }), ['\u{1F600}', '\uFF5A']);
  });

  it('ties decide the measures: three equal scores put the relevant "a" last', () => {
    // order c, b, a → first relevant at rank 3
    const m = evaluateQuery({ a: 1 }, { a: 1, b: 1, c: 1 });
    close(m['recip_rank'], 1 / 3);
    close(m['ndcg_cut_10'], 1 / Math.log2(4) / 1, 'DCG 1/log2(3+1) = 0.5, IDCG 1');
    // numeric-looking ids: "9" before "10", so a relevant "10" is at rank 2
    close(evaluateQuery({ '10': 1 }, { '10': 1, '9': 1 })['recip_rank'], 1 / 2);
  });
});

describe('binary measures on a hand-worked query', () => {
  // Judgments: d1, d3, d5, d9 relevant (num_rel = 4; d9 is never retrieved), d2 judged non-relevant.
  // Ranking: 1 d1 R | 2 d2 N | 3 d3 R | 4 d4 unjudged | 5 d5 R
  const rels = { d1: 1, d3: 1, d5: 1, d9: 1, d2: 0 };
  const run = { d1: 5, d2: 4, d3: 3, d4: 2, d5: 1 };
  const m = evaluateQuery(rels, run, { cutoffs: [2, 5, 10, 100] });

  it('map: precision at each relevant rank, summed, over num_rel (unretrieved relevant count as 0)', () => {
    // (1/1 + 2/3 + 3/5) / 4 = (1 + 0.666667 + 0.6) / 4 = 0.566667
    close(m['map'], (1 + 2 / 3 + 3 / 5) / 4);
  });

  it('P_k divides by k even when fewer than k documents were retrieved', () => {
    close(m['P_2'], 1 / 2); // d1 R, d2 N
    close(m['P_5'], 3 / 5);
    close(m['P_10'], 3 / 10); // only 5 retrieved, still / 10
  });

  it('recall_k, map_cut_k, Rprec, recip_rank, counts', () => {
    close(m['recall_2'], 1 / 4);
    close(m['recall_5'], 3 / 4);
    close(m['recall_100'], 3 / 4);
    close(m['map_cut_2'], 1 / 1 / 4, 'only d1 inside the cut: (1/1)/4');
    close(m['map_cut_5'], (1 + 2 / 3 + 3 / 5) / 4);
    close(m['Rprec'], 2 / 4, 'top num_rel=4: d1 R, d2, d3 R, d4 → 2/4');
    close(m['recip_rank'], 1);
    assert.equal(m['num_ret'], 5);
    assert.equal(m['num_rel'], 4);
    assert.equal(m['num_rel_ret'], 3);
  });

  it('binary ndcg_cut: relevant at ranks 1, 3, 5 against an ideal of four relevant', () => {
    // DCG@5  = 1/log2(2) + 1/log2(4) + 1/log2(6) = 1 + 0.5 + 0.386853 = 1.886853
    // IDCG@5 = 1 + 1/log2(3) + 1/log2(4) + 1/log2(5) = 1 + 0.630930 + 0.5 + 0.430677 = 2.561606
    close(m['ndcg_cut_5'], (1 + 0.5 + 1 / Math.log2(6)) / (1 + 1 / Math.log2(3) + 0.5 + 1 / Math.log2(5)));
    assert.equal(m['ndcg_cut_5']!.toFixed(6), '0.736590', '1.886853 / 2.561606');
    // DCG@2 = 1, IDCG@2 = 1 + 0.630930
    close(m['ndcg_cut_2'], 1 / (1 + 1 / Math.log2(3)));
  });

  it('maxDocsPerQuery (trec_eval -M) truncates after sorting', () => {
    const cut = evaluateQuery(rels, run, { maxDocsPerQuery: 2, cutoffs: [10] });
    assert.equal(cut['num_ret'], 2);
    close(cut['map'], 1 / 4, 'only d1 of the four relevant within the first two');
  });
});

describe('graded relevance, negative and zero judgments, unjudged documents', () => {
  // Judgments: a 3, b 1, c 2, z 2 (never retrieved), n −1 (in pool, unjudged), m 0.
  // Ranking: 1 a(3) | 2 b(1) | 3 n(−1 → −2 internally) | 4 c(2) | 5 m(0) | 6 u(not judged → −1)
  const rels = { a: 3, b: 1, c: 2, z: 2, n: -1, m: 0 };
  const run = { a: 0.9, b: 0.8, n: 0.7, c: 0.6, m: 0.5, u: 0.4 };

  it('nDCG uses the relevance value as gain, log2(rank+1) discount, and the ideal of all positive judgments', () => {
    // DCG  = 3/log2(2) + 1/log2(3) + 0 + 2/log2(5) + 0 + 0 = 3 + 0.630930 + 0.861353 = 4.492283
    // IDCG = gains [3, 2, 2, 1]: 3/1 + 2/log2(3) + 2/log2(4) + 1/log2(5) = 3 + 1.261860 + 1 + 0.430677 = 5.692537
    const m = evaluateQuery(rels, run, { cutoffs: [2, 10] });
    close(
      m['ndcg_cut_10'],
      (3 + 1 / Math.log2(3) + 2 / Math.log2(5)) / (3 + 2 / Math.log2(3) + 1 + 1 / Math.log2(5)),
    );
    assert.equal(m['ndcg_cut_10']!.toFixed(6), '0.789153', '4.492283 / 5.692537');
    // cut at 2 on both sides: (3 + 0.630930) / (3 + 1.261860) = 0.851959
    close(m['ndcg_cut_2'], (3 + 1 / Math.log2(3)) / (3 + 2 / Math.log2(3)));
    close(m['ndcg@10'], m['ndcg_cut_10']!);
    close(m['ndcg'], m['ndcg_cut_10']!, 'uncut ndcg: all 6 retrieved and all 4 ideal gains fit in 10');
  });

  it('binary measures count rel ≥ 1; the negative judgment is not relevant', () => {
    // relevant: a, b, c, z (num_rel 4). Ranks 1 R, 2 R, 3 -, 4 R → AP = (1/1 + 2/2 + 3/4) / 4 = 0.6875
    const m = evaluateQuery(rels, run);
    assert.equal(m['num_rel'], 4);
    close(m['map'], (1 + 1 + 3 / 4) / 4);
  });

  it('relevanceLevel 2 (trec_eval -l 2) changes binary measures but not nDCG gains', () => {
    // relevant: a, c, z (num_rel 3). a at 1, c at 4 → AP = (1/1 + 2/4) / 3 = 0.5
    const m = evaluateQuery(rels, run, { relevanceLevel: 2 });
    assert.equal(m['num_rel'], 3);
    close(m['map'], (1 + 2 / 4) / 3);
    close(m['recip_rank'], 1);
    close(m['ndcg_cut_10'], evaluateQuery(rels, run)['ndcg_cut_10']!);
  });

  it('relevanceLevel 0 counts judged-0 documents but never unjudged or negative ones', () => {
    // relevant: a, b, c, z, m (num_rel 5). Ranks 1 R, 2 R, 3 n no, 4 R, 5 m R, 6 u no
    // AP = (1/1 + 2/2 + 3/4 + 4/5) / 5 = 3.55 / 5 = 0.71
    const m = evaluateQuery(rels, run, { relevanceLevel: 0 });
    assert.equal(m['num_rel'], 5);
    close(m['map'], 3.55 / 5);
  });

  it('a relevant document under the level still gives an nDCG gain but not a reciprocal rank', () => {
    // only b (rel 1) is retrieved; with -l 2 it is not relevant for RR, but gains 1/log2(2) for DCG
    const m = evaluateQuery({ b: 1, c: 2 }, { b: 1 }, { relevanceLevel: 2 });
    close(m['recip_rank'], 0);
    // DCG = 1, IDCG = 2/1 + 1/log2(3) = 2.630930
    close(m['ndcg_cut_10'], 1 / (2 + 1 / Math.log2(3)));
    close(m['mrr@10'], 1, "BEIR's MRR counts rel > 0 whatever the level");
  });
});

describe('query sets and aggregation', () => {
  it('averages over queries in both run and qrels; queries only in the run are ignored', () => {
    const qrels = { q1: { a: 1 }, q2: { b: 1 }, q3: { c: 1 } };
    const run = { q1: { a: 1 }, q2: { x: 1, b: 0.5 }, q9: { a: 1 } };
    const r = evaluate(qrels, run);
    assert.equal(r.aggregate['num_q'], 2);
    assert.deepEqual(Object.keys(r.perQuery), ['q1', 'q2']);
    close(r.aggregate['map'], (1 + 0.5) / 2, 'q1: 1; q2: b at rank 2 → 1/2');
    close(r.aggregate['recip_rank'], (1 + 0.5) / 2);
    assert.equal(r.aggregate['num_ret'], 3, 'counts are summed, not averaged: 1 + 2');
    assert.equal(r.aggregate['num_rel'], 2);
  });

  it('complete (trec_eval -c) counts qrels queries missing from the run as zero', () => {
    const qrels = { q1: { a: 1 }, q2: { b: 1 }, q3: { c: 1 } };
    const run = { q1: { a: 1 }, q2: { x: 1, b: 0.5 } };
    const c = evaluate(qrels, run, { complete: true });
    assert.equal(c.aggregate['num_q'], 3);
    close(c.aggregate['map'], (1 + 0.5 + 0) / 3);
    close(c.aggregate['ndcg_cut_10'], (1 + 1 / Math.log2(3) + 0) / 3);
    assert.equal(c.perQuery['q3']!['num_ret'], 0);
    assert.equal(c.perQuery['q3']!['num_rel'], 1);
    assert.equal(c.aggregate['num_rel'], 3);
  });

  it('queries whose judgments hold no relevant document are evaluated (as 0), not skipped', () => {
    const qrels = { q1: { a: 1 }, q2: { a: 0 } };
    const run = { q1: { a: 1 }, q2: { a: 1, b: 2 } };
    const r = evaluate(qrels, run);
    assert.equal(r.aggregate['num_q'], 2);
    for (const m of [
      'map',
      'recip_rank',
      'ndcg_cut_10',
      'recall_100',
      'P_5',
      'Rprec',
      'map_cut_100',
      'ndcg',
    ]) {
      assert.equal(r.perQuery['q2']![m], 0, m);
      assert.ok(Number.isFinite(r.aggregate[m]!), m);
    }
    close(r.aggregate['map'], (1 + 0) / 2);
    close(r.aggregate['P_5'], (1 / 5 + 0) / 2);
  });

  it('an empty ranking present in the run is evaluated as zeros', () => {
    const r = evaluate({ q1: { a: 1 }, q2: { b: 1 } }, { q1: { a: 1 }, q2: {} });
    assert.equal(r.aggregate['num_q'], 2);
    close(r.aggregate['map'], 0.5);
  });

  it('ignoreIdenticalIds drops a document whose id is the query id (BEIR default)', () => {
    const qrels = { q1: { q1: 1, a: 1 } };
    const run = { q1: { q1: 2, a: 1 } };
    close(evaluate(qrels, run).aggregate['map'], (1 / 1 + 2 / 2) / 2);
    // without q1 in the ranking: a at rank 1; q1 is relevant but not retrieved → (1/1) / 2
    close(evaluate(qrels, run, { ignoreIdenticalIds: true }).aggregate['map'], 1 / 2);
  });
});

describe("BEIR's measure names and parametrised measures", () => {
  it('mrr@10 stops at rank 10 while recip_rank does not', () => {
    const run: Record<string, number> = {};
    for (let i = 0; i < 12; i++) run[`d${String(i).padStart(2, '0')}`] = 100 - i;
    const m = evaluateQuery({ d11: 1 }, run);
    assert.equal(m['mrr@10'], 0);
    close(m['recip_rank'], 1 / 12);
    const m9 = evaluateQuery({ d09: 1 }, run);
    close(m9['mrr@10'], 1 / 10);
  });

  it('ndcg@10, recall@100, map@100 equal the trec_eval measures they name', () => {
    const rels = { a: 2, b: 1, c: 1 };
    const run = { x: 3, a: 2, c: 1 };
    const m = evaluateQuery(rels, run);
    assert.equal(m['ndcg@10'], m['ndcg_cut_10']);
    assert.equal(m['recall@100'], m['recall_100']);
    assert.equal(m['map@100'], m['map_cut_100']);
    // ranks: x -, a R, c R → AP = (1/2 + 2/3) / 3 = 0.388889; recall 2/3
    close(m['map@100'], (1 / 2 + 2 / 3) / 3);
    close(m['recall@100'], 2 / 3);
  });

  it('computes measures requested by name at any cutoff', () => {
    // ranks: x -, a R(2), c R(1)
    const r = evaluate(
      { q: { a: 2, b: 1, c: 1 } },
      { q: { x: 3, a: 2, c: 1 } },
      { measures: ['P_3', 'ndcg@2', 'mrr@1', 'recall_2', 'precision@2', 'map_cut_2'] },
    );
    const m = r.perQuery['q']!;
    close(m['P_3'], 2 / 3);
    close(m['precision@2'], 1 / 2);
    close(m['recall_2'], 1 / 3);
    close(m['mrr@1'], 0);
    close(m['map_cut_2'], 1 / 2 / 3);
    // DCG@2 = 0 + 2/log2(3) = 1.261860; IDCG@2 = 2 + 1/log2(3) = 2.630930
    close(m['ndcg@2'], 2 / Math.log2(3) / (2 + 1 / Math.log2(3)));
    assert.throws(
      () => evaluate({}, {}, { measures: ['ndcg_at_10'] }),
      (e: unknown) =>
        e instanceof QuiverError && e.code === 'INVALID_ARGUMENT' && e.location.field === 'measures',
    );
  });
});

describe('duplicate documents in a ranking', () => {
  it('runFromRankings keeps the first (best) occurrence of a document', () => {
    const run = runFromRankings({
      q: [
        { id: 'a', score: 0.9 },
        { id: 'b', score: 0.8 },
        { id: 'a', score: 0.7 },
      ],
    });
    assert.deepEqual(run, { q: { a: 0.9, b: 0.8 } });
    const m = evaluateQuery({ a: 1, b: 1 }, run['q']!);
    close(m['map'], 1, 'a, b at ranks 1 and 2: not counted twice');
    assert.equal(m['num_ret'], 2);
  });
});
