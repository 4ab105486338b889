/**
 * `quiver tune-fusion`: pick hybrid fusion settings on a BEIR training split (never test).
 * The corpus is indexed once; each query's lexical and dense lists are computed once; the grid
 * search then only re-fuses lists, which is cheap.
 */
import { resolve } from 'node:path';
import { QuiverError } from '../errors.js';
import { loadBeirQueries } from '../eval/beir.js';
import type { RankedList } from '../fuse/fusion.js';
import { tuneFusion } from '../fuse/tune.js';
import type { FusionOptions } from '../types.js';
import { ingestBeirCorpus, withTemporaryQuiver } from './beir-eval.js';

export interface TuneFusionResult {
  split: string;
  queries: number;
  best: FusionOptions;
  table: { options: FusionOptions; ndcg10: number }[];
}

export async function tuneFusionOnBeir(opts: {
  dataset: string;
  model: string;
  modelDir?: string;
  split?: string;
  store?: string;
}): Promise<TuneFusionResult> {
  const split = opts.split ?? 'train';
  if (split === 'test') {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      'tuning on the test split would overstate quality; use train or dev',
      {
        location: { field: 'split' },
      },
    );
  }
  const dataset = resolve(opts.dataset);
  const { queries, qrels } = await loadBeirQueries(dataset, split);
  return withTemporaryQuiver('tune', opts.store, async (quiver, name) => {
    const collection = await ingestBeirCorpus(quiver, name, {
      dataset,
      model: opts.model,
      ...(opts.modelDir ? { modelDir: opts.modelDir } : {}),
    });
    // Lists are keyed by passage key; map back to document ids for scoring against qrels.
    const perQuery = new Map<string, RankedList[]>();
    for (const q of queries) perQuery.set(q.id, await collection.rankedLists(q.text, { depth: 100 }));
    const keyToId = new Map<number, string>();
    const keys = [
      ...new Set([...perQuery.values()].flatMap((ls) => ls.flatMap((l) => l.hits.map((h) => h.key)))),
    ];
    for (const d of await collection.getByPassageKeys(keys)) keyToId.set(d.key, d.id);
    const res = tuneFusion(perQuery, qrels, { idOf: (key: number) => keyToId.get(key) ?? String(key) });
    return { split, queries: queries.length, best: res.best, table: res.table };
  });
}
