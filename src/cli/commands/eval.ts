/** quiver eval beir | trec | sts, and quiver tune-fusion */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { runBeirEval } from '../../engine/beir-eval.js';
import { tuneFusionOnBeir } from '../../engine/tune-fusion.js';
import { createEmbedder } from '../../embed/index.js';
import { isFittable } from '../../embed/embedder.js';
import { evaluate } from '../../eval/metrics.js';
import { EvalRunLog } from '../../eval/runs.js';
import { loadSts, evaluateSts } from '../../eval/sts.js';
import { evaluateSnippets } from '../../eval/snippets.js';
import { readQrels, readRun, writeRun } from '../../eval/trec.js';
import { createProgress } from '../../ingest/progress.js';
import type { FusionOptions, SearchMode } from '../../types.js';
import { parseFloatOption, parseIntOption, printJson, table, withStoreOptions } from '../common.js';
import type { StoreOptions } from '../common.js';
import { parseWeights } from './collections.js';

/** The measures `eval beir` reports, BEIR names first. */
const BEIR_MEASURES = ['ndcg@10', 'mrr@10', 'recall@100', 'map@100'] as const;

export function registerEvalCommands(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description('evaluate retrieval (BEIR, TREC runs) and embeddings (STS)');

  withStoreOptions(
    evalCmd
      .command('beir')
      .argument('<dataset-dir>', 'a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)')
      .description(
        'index a BEIR dataset in a temporary collection, run its queries, print nDCG@10, MRR@10, R@100, MAP@100',
      ),
  )
    .addOption(
      new Option('--mode <mode>', 'retrieval mode')
        .choices(['lexical', 'dense', 'hybrid'])
        .default('lexical'),
    )
    .option('--model <name>', 'embedding model for dense/hybrid (e.g. static:glove-100)')
    .option('--model-dir <dir>', 'local model folder')
    .option('--split <split>', 'qrels split: test (default) or train', 'test')
    .addOption(
      new Option('--fusion <method>', 'hybrid fusion method (default: the calibrated default)').choices([
        'rrf',
        'convex',
        'dbsf',
      ]),
    )
    .option('--weights <w>', 'fusion weights, e.g. lexical=0.8,dense=0.2')
    .option('--rrf-k <k>', 'RRF constant', parseIntOption('--rrf-k'))
    .addOption(
      new Option('--normalization <n>', 'score normalisation for convex fusion').choices([
        'minmax',
        'zscore',
        'rank',
      ]),
    )
    .option('--k1 <k1>', 'BM25 k1', parseFloatOption('--k1'))
    .option('--b <b>', 'BM25 b', parseFloatOption('--b'))
    .option('--multifield', 'score title and text as separate BM25 fields (Pyserini multifield)')
    .option(
      '--rerank [model]',
      'rerank the top 100 (default: the offline similarity reranker; or cross-encoder:<folder>, or a /rerank URL)',
    )
    .option(
      '--run <file>',
      'where to write the TREC run file (default: <data>/runs/<dataset>-<split>-<mode>.trec)',
    )
    .option('--json', 'print one JSON object with the metrics')
    .action(
      async (
        dataset: string,
        o: StoreOptions & {
          mode: SearchMode;
          model?: string;
          modelDir?: string;
          split: string;
          fusion?: string;
          weights?: string;
          rrfK?: number;
          normalization?: string;
          k1?: number;
          b?: number;
          multifield?: boolean;
          run?: string;
          json?: boolean;
          rerank?: boolean | string;
        },
      ) => {
        const fusion: FusionOptions | undefined =
          o.fusion || o.weights || o.rrfK || o.normalization
            ? {
                ...(o.fusion ? { method: o.fusion as FusionOptions['method'] } : {}),
                ...(o.weights ? { weights: parseWeights(o.weights) } : {}),
                ...(o.rrfK ? { rrfK: o.rrfK } : {}),
                ...(o.normalization
                  ? { normalization: o.normalization as FusionOptions['normalization'] }
                  : {}),
              }
            : undefined;
        const progress = createProgress({ label: 'eval', unit: 'items' });
        let phase = '';
        const result = await runBeirEval({
          dataset,
          split: o.split,
          mode: o.mode,
          ...(o.model ? { model: o.model } : {}),
          ...(o.modelDir ? { modelDir: o.modelDir } : {}),
          ...(o.store ? { store: o.store } : {}),
          ...(fusion ? { fusion } : {}),
          ...(o.k1 !== undefined ? { k1: o.k1 } : {}),
          ...(o.b !== undefined ? { b: o.b } : {}),
          ...(o.multifield ? { multifield: true } : {}),
          ...(o.rerank ? { rerank: o.rerank } : {}),
          onProgress: (p, done, total) => {
            if (p !== phase) {
              phase = p;
              progress.setLabel?.(
                p === 'ingest' ? 'indexing corpus' : p === 'embed' ? 'embedding' : 'running queries',
              );
              if (total !== undefined) progress.setTotal(total);
            }
            progress.update?.(done);
          },
        }).finally(() => progress.done());

        const dataDir = resolve(o.data ?? '.quiver');
        const runPath = resolve(
          o.run ?? join(dataDir, 'runs', `${result.dataset}-${result.split}-${result.mode}.trec`),
        );
        await mkdir(dirname(runPath), { recursive: true });
        await writeRun(runPath, result.run, `quiver-${result.mode}`);
        const metrics: Record<string, number> = {};
        for (const m of BEIR_MEASURES) metrics[m] = result.metrics[m] ?? 0;
        await new EvalRunLog(dataDir).append({
          id: `${Date.now().toString(36)}-${process.pid}`,
          createdAt: new Date().toISOString(),
          dataset: result.dataset,
          split: result.split,
          mode: result.mode,
          ...(o.model
            ? { method: o.mode === 'hybrid' ? `${o.model} + bm25 (${fusion?.method ?? 'default'})` : o.model }
            : { method: 'bm25' }),
          store: result.store,
          metrics: { ...metrics },
          queries: result.queries,
        });
        if (o.json) {
          printJson({
            dataset: result.dataset,
            split: result.split,
            mode: result.mode,
            store: result.store,
            ...metrics,
            queries: result.queries,
            run_file: runPath,
            seconds: result.seconds,
          });
          return;
        }
        const rows: (string | number)[][] = [['measure', 'value']];
        for (const m of BEIR_MEASURES) rows.push([m, metrics[m]!]);
        rows.push(['queries', result.queries]);
        process.stdout.write(
          `${result.dataset} (${result.split}, ${result.mode}, ${result.store})\n${table(rows)}\n` +
            `run written to ${runPath}; indexed in ${result.seconds.ingest.toFixed(1)} s, searched in ${result.seconds.search.toFixed(1)} s\n`,
        );
      },
    );

  evalCmd
    .command('trec')
    .argument('<qrels-file>', 'TREC qrels: qid 0 docid rel')
    .argument('<run-file>', 'TREC run: qid Q0 docid rank score tag')
    .description(
      "trec_eval's measures for a run (map, recip_rank, P_10, recall_100, ndcg_cut_10, map_cut_100, num_q)",
    )
    .option('--json', 'print one JSON object')
    .option('--per-query', 'also print per-query values')
    .action(async (qrelsFile: string, runFile: string, o: { json?: boolean; perQuery?: boolean }) => {
      const qrels = await readQrels(qrelsFile);
      const run = await readRun(runFile);
      const { aggregate, perQuery } = evaluate(qrels, run);
      const names = ['num_q', 'map', 'recip_rank', 'P_10', 'recall_100', 'ndcg_cut_10', 'map_cut_100'];
      const picked: Record<string, number> = {};
      for (const n of names) picked[n] = aggregate[n] ?? 0;
      for (const [k, v] of Object.entries(aggregate)) if (!(k in picked) && !k.includes('@')) picked[k] = v;
      if (o.json) {
        printJson(o.perQuery ? { ...picked, per_query: perQuery } : picked);
        return;
      }
      for (const [k, v] of Object.entries(picked)) {
        process.stdout.write(`${k.padEnd(22)}\tall\t${k === 'num_q' ? String(v) : v.toFixed(4)}\n`);
      }
    });

  evalCmd
    .command('sts')
    .argument(
      '<sts-file-or-dir>',
      'an STS file (JSONL, .jsonl.gz, or a tab/comma-separated file: STSBenchmark, SICK, stsb-multi-mt, or any with a sentence1/sentence2/score header) or a folder of test files',
    )
    .requiredOption('--model <name>', 'embedding model (e.g. static:glove-100)')
    .option('--model-dir <dir>', 'local model folder')
    .option('--json', 'print JSON')
    .description('Spearman and Pearson correlation of cosine similarity with gold scores')
    .action(async (path: string, o: { model: string; modelDir?: string; json?: boolean }) => {
      const files = await loadSts(path);
      const results: { file: string; spearman: number; pearson: number; pairs: number }[] = [];
      for (const f of files) {
        // A corpus-fitted embedder is fitted on each file's own sentences (unsupervised).
        const embedder = await createEmbedder(o.model, o.modelDir ? { modelDir: o.modelDir } : {});
        try {
          if (isFittable(embedder)) await embedder.fit(f.pairs.flatMap((p) => [p.a, p.b]));
          results.push({ file: f.file, ...(await evaluateSts(f.pairs, embedder)) });
        } finally {
          await embedder.close();
        }
      }
      if (o.json) {
        printJson(results.length === 1 ? results[0] : { files: results, ...macro(results) });
        return;
      }
      const rows: (string | number)[][] = [['file', 'pairs', 'spearman', 'pearson']];
      for (const r of results) rows.push([r.file, r.pairs, r.spearman, r.pearson]);
      process.stdout.write(`${table(rows)}\n`);
    });

  evalCmd
    .command('snippets')
    .argument('<scifact-dir>', 'a SciFact folder with rationales.jsonl, queries.jsonl and corpus.jsonl')
    .option(
      '--model <name>',
      'add query–sentence cosine from this embedder to the fine stage (e.g. static:glove-100)',
    )
    .option('--json', 'print JSON')
    .description(
      'how often query-aware snippets pick the gold rationale sentences (vs lead sentences and BM25-only)',
    )
    .action(async (dir: string, o: { model?: string; json?: boolean }) => {
      const embedder = o.model ? await createEmbedder(o.model) : undefined;
      try {
        const r = await evaluateSnippets(dir, embedder ? { embedder } : {});
        if (o.json) {
          printJson(r);
          return;
        }
        const rows: (string | number)[][] = [['selector', 'hit@1', 'recall@3']];
        rows.push(
          ['two-stage', r['hit@1'], r['recall@3']],
          ['BM25 sentences only', r['bm25_hit@1'], r['bm25_recall@3']],
          ['lead sentences', r['lead_hit@1'], r['lead_recall@3']],
        );
        process.stdout.write(`${table(rows)}
${r.pairs} pairs; sentence selection ${r.ms_per_result_p50.toFixed(3)} ms per result (p50), ${r.ms_per_result_p99.toFixed(3)} ms (p99); whole snippet ${r.latency_ms.p50.toFixed(3)} ms (p50), ${r.latency_ms.p99.toFixed(3)} ms (p99)\n`);
      } finally {
        await embedder?.close();
      }
    });

  withStoreOptions(
    program
      .command('tune-fusion')
      .argument('<dataset-dir>', 'a BEIR dataset folder with a train (or dev) split')
      .requiredOption('--model <name>', 'embedding model for the dense side')
      .option('--model-dir <dir>', 'local model folder')
      .option('--split <split>', 'split to tune on (never test)', 'train')
      .option('--json', 'print JSON')
      .description(
        'grid-search hybrid fusion (method, normalisation, weights) on a training split; prints the best settings',
      ),
  ).action(
    async (
      dataset: string,
      o: StoreOptions & { model: string; modelDir?: string; split: string; json?: boolean },
    ) => {
      const res = await tuneFusionOnBeir({
        dataset,
        model: o.model,
        ...(o.modelDir ? { modelDir: o.modelDir } : {}),
        split: o.split,
        ...(o.store ? { store: o.store } : {}),
      });
      if (o.json) {
        printJson(res);
        return;
      }
      const rows: (string | number)[][] = [['method', 'normalization', 'weights', `nDCG@10 (${o.split})`]];
      for (const r of res.table.slice(0, 15))
        rows.push([
          r.options.method ?? '',
          r.options.normalization ?? '',
          JSON.stringify(r.options.weights ?? {}),
          r.ndcg10,
        ]);
      process.stdout.write(`${table(rows)}\nbest: ${JSON.stringify(res.best)}\n`);
    },
  );
}

function macro(rs: { spearman: number; pearson: number; pairs: number }[]): {
  spearman: number;
  pearson: number;
  pairs: number;
} {
  const n = Math.max(1, rs.length);
  return {
    spearman: rs.reduce((s, r) => s + r.spearman, 0) / n,
    pearson: rs.reduce((s, r) => s + r.pearson, 0) / n,
    pairs: rs.reduce((s, r) => s + r.pairs, 0),
  };
}
