/**
 * `quiver tune-fusion`: pick hybrid fusion settings on a BEIR training split (never test).
 * The corpus is indexed once; each query's lexical and dense lists are computed once; the grid
 * search then only re-fuses lists, which is cheap.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QuiverError } from '../errors.js';
import { loadBeirQueries } from '../eval/beir.js';
import type { RankedList } from '../fuse/fusion.js';
import { tuneFusion } from '../fuse/tune.js';
import type { FusionOptions } from '../types.js';
import { ingestBeirCorpus } from './beir-eval.js';
import { Quiver, isPostgresUrl } from './quiver.js';

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
    throw new QuiverError('INVALID_ARGUMENT', 'tuning on the test split would overstate quality; use train or dev', {
      location: { field: 'split' },
    });
  }
  const dataset = resolve(opts.dataset);
  const { queries, qrels } = await loadBeirQueries(dataset, split);
  const tmp = await mkdtemp(join(tmpdir(), 'quiver-tune-'));
  const pg = isPostgresUrl(opts.store);
  const name = `tune_${process.pid}_${Date.now().toString(36)}`;
  const quiver = await Quiver.open({ data: tmp, ...(pg ? { store: opts.store } : {}) });
  try {
    const collection = await ingestBeirCorpus(quiver, name, {
      dataset,
      model: opts.model,
      ...(opts.modelDir ? { modelDir: opts.modelDir } : {}),
    });
    // Lists are keyed by passage key; map back to document ids for scoring against qrels.
    const perQuery = new Map<string, RankedList[]>();
    for (const q of queries) perQuery.set(q.id, await collection.rankedLists(q.text, { depth: 100 }));
    const keyToId = new Map<number, string>();
    const keys = [...new Set([...perQuery.values()].flatMap((ls) => ls.flatMap((l) => l.hits.map((h) => h.key))))];
    for (const d of await collection.getByPassageKeys(keys)) keyToId.set(d.key, d.id);
    const res = tuneFusion(perQuery, qrels, { idOf: (key: number) => keyToId.get(key) ?? String(key) });
    return { split, queries: queries.length, best: res.best, table: res.table };
  } finally {
    if (pg) await quiver.dropCollection(name).catch(() => undefined);
    await quiver.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
