/**
 * Quality gate: BM25 on BEIR SciFact must reproduce Pyserini's published numbers (BEIR regression
 * "bm25-flat" 67.89 and "bm25-multifield" 66.47 nDCG@10, k1 = 0.9, b = 0.4, Lucene EnglishAnalyzer).
 * A drift here means the analyzer or the scoring no longer matches Lucene.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createAnalyzer } from '../../analyze/index.js';
import { loadBeirQueries } from '../../eval/beir.js';
import { evaluate, type Qrels, type Run } from '../../eval/metrics.js';
import { SCIFACT } from '../../testing/paths.js';
import type { Passage } from '../../types.js';
import { Bm25Index } from './bm25.js';

/** Pyserini's run depth; ties at the cut-off are broken by docid as trec_eval does. */
const RUN_DEPTH = 1000;

describe('BM25 on SciFact reproduces Pyserini', () => {
  let passages: Passage[];
  let docIds: string[];
  let queries: { id: string; text: string }[];
  let qrels: Qrels;

  before(async () => {
    docIds = [];
    passages = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l, key) => {
        const d = JSON.parse(l) as { _id: string; title: string; text: string };
        docIds.push(d._id);
        return {
          key,
          docKey: key,
          docId: d._id,
          chunk: 0,
          title: d.title,
          text: d.text,
          start: 0,
          end: d.text.length,
        };
      });
    ({ queries, qrels } = await loadBeirQueries(SCIFACT, 'test'));
  });

  async function ndcgAt10(fields?: { title: number; text: number }): Promise<number> {
    const index = new Bm25Index({
      analyzer: createAnalyzer({ language: 'en' }),
      k1: 0.9,
      b: 0.4,
      ...(fields ? { fields } : {}),
    });
    await index.add(passages);
    const run: Run = {};
    for (const q of queries) {
      const hits = await index.search(q.text, RUN_DEPTH);
      run[q.id] = Object.fromEntries(hits.map((h) => [docIds[h.key]!, h.score]));
    }
    assert.equal(queries.length, 300);
    return 100 * evaluate(qrels, run).aggregate['ndcg@10']!;
  }

  it('flat (title + text as one field): nDCG@10 = 67.89 ± 0.5', async (t) => {
    const ndcg = await ndcgAt10();
    t.diagnostic(`flat nDCG@10 = ${ndcg.toFixed(2)}`);
    assert.ok(Math.abs(ndcg - 67.89) <= 0.5, `nDCG@10 ${ndcg.toFixed(2)} outside 67.89 ± 0.5`);
  });

  it('multifield (title and text scored separately, weights 1/1): nDCG@10 = 66.47 ± 0.5', async (t) => {
    const ndcg = await ndcgAt10({ title: 1, text: 1 });
    t.diagnostic(`multifield nDCG@10 = ${ndcg.toFixed(2)}`);
    assert.ok(Math.abs(ndcg - 66.47) <= 0.5, `nDCG@10 ${ndcg.toFixed(2)} outside 66.47 ± 0.5`);
  });
});
