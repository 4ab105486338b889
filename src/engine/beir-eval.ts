/**
 * BEIR evaluation end to end: ingest a dataset's corpus into a temporary collection, run its
 * queries for one split, score the run with trec_eval semantics, and clean up. Used by
 * `quiver eval beir` and by `quiver tune-fusion`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { QuiverError } from '../errors.js';
import { loadBeirQueries, beirCorpusPath } from '../eval/beir.js';
import { evaluate } from '../eval/metrics.js';
import type { Qrels, Run } from '../eval/metrics.js';
import { ingestInto, openSource } from '../ingest/index.js';
import type { CollectionConfig, FusionOptions, SearchMode } from '../types.js';
import type { Collection } from './collection.js';
import type { DeepPartial } from './config.js';
import { vectorField } from './config.js';
import { Quiver, isPostgresUrl } from './quiver.js';

export interface BeirEvalOptions {
  dataset: string;
  split?: string;
  mode?: SearchMode;
  model?: string;
  modelDir?: string;
  /** postgres:// URL to evaluate through the Postgres backend. */
  store?: string;
  fusion?: FusionOptions;
  k1?: number;
  b?: number;
  multifield?: boolean;
  /** Depth of the run (100 covers recall@100 and map@100). */
  depth?: number;
  /** Rerank the top 100: true = offline similarity reranker, or a model name (see Collection.reranker). */
  rerank?: boolean | string;
  onProgress?: (phase: 'ingest' | 'embed' | 'search', done: number, total?: number) => void;
}

export interface BeirEvalResult {
  dataset: string;
  split: string;
  mode: SearchMode;
  store: string;
  metrics: Record<string, number>;
  queries: number;
  run: Run;
  qrels: Qrels;
  seconds: { ingest: number; search: number };
}

/** Ingest a BEIR corpus into a fresh collection configured for the evaluation. */
export async function ingestBeirCorpus(
  quiver: Quiver,
  name: string,
  opts: BeirEvalOptions,
): Promise<Collection> {
  const config: DeepPartial<CollectionConfig> = {
    // BEIR documents are scored whole (as Pyserini does); chunking would change BM25 statistics.
    chunking: { maxChars: 0, overlapSentences: 0 },
    bm25: {
      k1: opts.k1 ?? 0.9,
      b: opts.b ?? 0.4,
      ...(opts.multifield ? { fields: { title: 1, text: 1 } } : {}),
    },
    vectors: opts.model
      ? [vectorField(opts.model, 'dense', opts.modelDir ? { modelDir: opts.modelDir } : {})]
      : [],
  };
  const collection = await quiver.createCollection(name, config);
  const source = openSource({ path: beirCorpusPath(opts.dataset), format: 'beir' });
  let added = 0;
  const res = await ingestInto(
    { upsert: (docs) => collection.upsert(docs, { deferVectors: true }) },
    source,
    {
      batchSize: 1000,
      onError: 'skip',
      onProgress: (n: number) => {
        added = n;
        opts.onProgress?.('ingest', n);
      },
    },
  );
  if (res.problems.length) {
    const first = res.problems[0]!;
    process.stderr.write(
      `warning: ${res.problems.length} corpus records skipped; first: ${first.toLine()}\n`,
    );
  }
  void added;
  opts.onProgress?.('embed', 0);
  await collection.flush({ fit: true });
  return collection;
}

/**
 * Run `fn` on a fresh Quiver over a temporary data directory (or the given Postgres store) and
 * clean up afterwards: the temporary collection is dropped and the directory removed.
 */
export async function withTemporaryQuiver<T>(
  prefix: string,
  store: string | undefined,
  fn: (quiver: Quiver, collectionName: string) => Promise<T>,
): Promise<T> {
  const tmp = await mkdtemp(join(tmpdir(), `quiver-${prefix}-`));
  const pg = isPostgresUrl(store);
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const quiver = await Quiver.open({ data: tmp, ...(pg ? { store } : {}) });
  try {
    return await fn(quiver, name);
  } finally {
    if (pg) await quiver.dropCollection(name).catch(() => undefined);
    await quiver.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function runBeirEval(opts: BeirEvalOptions): Promise<BeirEvalResult> {
  const split = opts.split ?? 'test';
  const mode = opts.mode ?? 'lexical';
  if ((mode === 'dense' || mode === 'hybrid') && !opts.model) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `--mode ${mode} needs --model (e.g. --model static:glove-100)`,
      {
        location: { field: 'model' },
      },
    );
  }
  const dataset = resolve(opts.dataset);
  const { queries, qrels } = await loadBeirQueries(dataset, split);
  return withTemporaryQuiver('eval', opts.store, async (quiver, name) => {
    const t0 = performance.now();
    const collection = await ingestBeirCorpus(quiver, name, { ...opts, dataset });
    const t1 = performance.now();
    const run: Run = {};
    const depth = opts.depth ?? 100;
    let done = 0;
    for (const q of queries) {
      const res = await collection.search({
        query: q.text,
        mode,
        k: depth,
        includeDocument: false,
        ...(opts.fusion ? { fusion: opts.fusion } : {}),
        ...(opts.rerank
          ? { rerank: { topN: depth, ...(typeof opts.rerank === 'string' ? { model: opts.rerank } : {}) } }
          : {}),
      });
      const row: Record<string, number> = {};
      for (const h of res.hits) row[h.id] = h.score;
      run[q.id] = row;
      opts.onProgress?.('search', ++done, queries.length);
    }
    const t2 = performance.now();
    const { aggregate } = evaluate(qrels, run);
    return {
      dataset: basename(dataset),
      split,
      mode,
      store: quiver.storeKind,
      metrics: aggregate,
      queries: queries.length,
      run,
      qrels,
      seconds: { ingest: (t1 - t0) / 1000, search: (t2 - t1) / 1000 },
    };
  });
}
