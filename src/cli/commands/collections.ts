/** quiver init | add | search | get | delete | stats | list | drop */
import type { Command } from 'commander';
import { Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { sparseField, vectorField } from '../../engine/config.js';
import { validateSparseQuery } from '../../store/validate.js';
import type { DeepPartial } from '../../engine/config.js';
import { QuiverError } from '../../errors.js';
import { ingestInto, openSource } from '../../ingest/index.js';
import type { SourceSpec } from '../../ingest/index.js';
import { createProgress } from '../../ingest/progress.js';
import { parseFilterArg } from '../../retrieve/filter.js';
import type { CollectionConfig, FusionOptions, SearchMode, SearchRequest } from '../../types.js';
import {
  clip,
  parseFloatOption,
  parseIntOption,
  printJson,
  table,
  withQuiver,
  withStoreOptions,
} from '../common.js';
import type { StoreOptions } from '../common.js';

interface InitOptions extends StoreOptions {
  language: string;
  image?: boolean;
  model?: string;
  modelDir?: string;
  quantization?: string;
  chunkSize?: number;
  overlap?: number;
  k1?: number;
  b?: number;
  multifield?: boolean;
  fusion?: string;
  /** Repeatable: name, name=user, name=<model>, name=<folder> or name=<http(s) URL>. */
  sparse?: string[];
  json?: boolean;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/** `--sparse-query '<json>'`: a JSON object of term → weight, validated like the HTTP API's. */
export function parseSparseQueryArg(raw: string): Record<string, number> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `--sparse-query must be JSON like {"term": 1.2} (${(e as Error).message})`,
      {
        location: { field: 'sparseQuery' },
      },
    );
  }
  validateSparseQuery(v);
  return v;
}

function configFromInit(o: InitOptions): DeepPartial<CollectionConfig> {
  const cfg: DeepPartial<CollectionConfig> = { analyzer: { language: o.language } };
  if (o.k1 !== undefined || o.b !== undefined || o.multifield) {
    cfg.bm25 = {
      ...(o.k1 !== undefined ? { k1: o.k1 } : {}),
      ...(o.b !== undefined ? { b: o.b } : {}),
      ...(o.multifield ? { fields: { title: 1, text: 1 } } : {}),
    };
  }
  if (o.chunkSize !== undefined || o.overlap !== undefined) {
    cfg.chunking = {
      ...(o.chunkSize !== undefined ? { maxChars: o.chunkSize } : {}),
      ...(o.overlap !== undefined ? { overlapSentences: o.overlap } : {}),
    };
  }
  if (o.model) {
    cfg.vectors = [
      vectorField(o.model, 'dense', {
        ...(o.modelDir ? { modelDir: o.modelDir } : {}),
        ...(o.quantization ? { quantization: o.quantization as 'f32' } : {}),
        ...(o.image ? { source: 'image' as const } : {}),
      }),
    ];
  }
  if (o.fusion) cfg.fusion = { method: o.fusion as FusionOptions['method'] };
  if (o.sparse?.length) cfg.sparse = o.sparse.map((s) => sparseField(s, isDir));
  return cfg;
}

function addCollectionConfigOptions(cmd: Command): Command {
  return cmd
    .option('--language <code>', 'analyzer language: en, fr, de, es, pt, it, nl, ru, zh, ja, … or none', 'en')
    .option(
      '--model <name>',
      'add a dense vector field embedded with this model (e.g. static:glove-100, e5-small-v2)',
    )
    .option('--model-dir <dir>', 'local folder with the model files (tokenizer.json, onnx/model.onnx)')
    .option(
      '--image',
      "the vector field embeds each document's image (metadata.image) with a CLIP-style model",
    )
    .addOption(
      new Option('--quantization <q>', 'vector quantization for ANN search').choices([
        'f32',
        'f16',
        'i8',
        'b1',
      ]),
    )
    .option(
      '--chunk-size <chars>',
      'split documents longer than this (0 = never)',
      parseIntOption('--chunk-size'),
    )
    .option('--overlap <sentences>', 'sentences of overlap between chunks', parseIntOption('--overlap'))
    .option('--k1 <k1>', 'BM25 k1', parseFloatOption('--k1'))
    .option('--b <b>', 'BM25 b', parseFloatOption('--b'))
    .option('--multifield', 'score title and text as separate BM25 fields')
    .addOption(new Option('--fusion <method>', 'default hybrid fusion').choices(['rrf', 'convex', 'dbsf']))
    .option(
      '--sparse <field>',
      'add a learned-sparse field (repeatable): name (vectors supplied with documents and queries, = name=user), name=<model>, name=<folder> (local ONNX) or name=<http(s) URL> (TEI /embed_sparse)',
      (v: string, acc: string[] = []) => [...acc, v],
    );
}

function parseMapping(raw: string | undefined): SourceSpec['mapping'] {
  if (!raw) return undefined;
  const mapping: Record<string, string> = {};
  for (const part of raw.split(',')) {
    const [k, v] = part.split('=');
    if (!k || !v || !['id', 'text', 'title'].includes(k.trim())) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `--map takes id=<field>,text=<field>[,title=<field>] (got "${raw}")`,
        {
          location: { field: 'map' },
        },
      );
    }
    mapping[k.trim()] = v.trim();
  }
  if (!mapping['id'] || !mapping['text']) {
    throw new QuiverError('INVALID_ARGUMENT', '--map needs at least id=<field> and text=<field>', {
      location: { field: 'map' },
    });
  }
  return {
    id: mapping['id'],
    text: mapping['text'],
    ...(mapping['title'] ? { title: mapping['title'] } : {}),
    metadata: 'rest',
  };
}

export function registerCollectionCommands(program: Command): void {
  addCollectionConfigOptions(
    withStoreOptions(
      program.command('init').argument('<name>', 'collection name').description('create a collection'),
    ),
  )
    .option('--json', 'print the collection stats as JSON')
    .action(async (name: string, o: InitOptions) => {
      await withQuiver(o, async (q) => {
        const c = await q.createCollection(name, configFromInit(o));
        const stats = await c.stats();
        if (o.json) printJson(stats);
        else process.stdout.write(`created collection "${name}" (${stats.store}) in ${q.dataDir}\n`);
      });
    });

  addCollectionConfigOptions(
    withStoreOptions(
      program
        .command('add')
        .argument('<name>', 'collection name (created if missing)')
        .argument(
          '<sources...>',
          'JSONL/JSON files, BEIR corpus.jsonl, folders of .txt/.md/.html/images, or - for stdin',
        )
        .description('ingest documents into a collection'),
    ),
  )
    .addOption(
      new Option('--format <format>', 'input format (default: from the path)').choices([
        'auto',
        'beir',
        'jsonl',
        'json',
        'folder',
      ]),
    )
    .option('--map <mapping>', 'field mapping for generic JSON: id=<field>,text=<field>[,title=<field>]')
    .addOption(
      new Option('--on-error <policy>', 'bad records: skip (report and go on) or reject (stop)')
        .choices(['skip', 'reject'])
        .default('skip'),
    )
    .option('--batch-size <n>', 'documents per atomic write', parseIntOption('--batch-size'), 500)
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        name: string,
        sources: string[],
        o: InitOptions & {
          format?: string;
          map?: string;
          onError: 'skip' | 'reject';
          batchSize: number;
          json?: boolean;
        },
      ) => {
        await withQuiver(o, async (q) => {
          const existing = await q.listCollections();
          const collection = existing.includes(name)
            ? await q.getCollection(name)
            : await q.createCollection(name, configFromInit(o));
          const mapping = parseMapping(o.map);
          let added = 0;
          let skipped = 0;
          const problems: string[] = [];
          const progress = createProgress({ label: `adding to ${name}`, unit: 'docs' });
          let base = 0;
          for (const src of sources) {
            const spec: SourceSpec =
              src === '-'
                ? { stdin: true, ...(mapping ? { mapping } : {}) }
                : {
                    path: src,
                    ...(o.format && o.format !== 'auto' ? { format: o.format as SourceSpec['format'] } : {}),
                    ...(mapping ? { mapping } : {}),
                  };
            const res = await ingestInto(
              { upsert: (docs) => collection.upsert(docs, { deferVectors: true }) },
              openSource(spec),
              {
                batchSize: o.batchSize,
                onError: o.onError,
                onProgress: (n: number) => progress.update(base + n),
              },
            ).catch((e: unknown) => {
              progress.done();
              throw e;
            });
            added += res.added;
            base = added;
            skipped += res.skipped;
            for (const p of res.problems) problems.push(p.toLine());
          }
          await collection.flush();
          progress.done(`${added} added, ${skipped} skipped`);
          for (const p of problems.slice(0, 20)) process.stderr.write(`skipped: ${p}\n`);
          if (problems.length > 20) process.stderr.write(`… and ${problems.length - 20} more problems\n`);
          const summary = {
            collection: name,
            added,
            skipped,
            problems: problems.length,
            documents: await collection.count(),
          };
          if (o.json) printJson(summary);
          else
            process.stdout.write(
              `${added} documents added to "${name}" (${summary.documents} in total), ${skipped} skipped\n`,
            );
          if (o.onError === 'reject' && problems.length) process.exitCode = 1;
        });
      },
    );

  withStoreOptions(
    program
      .command('search')
      .argument('<name>', 'collection name')
      .argument('<query...>', 'query text')
      .description('search a collection'),
  )
    .addOption(
      new Option('--mode <mode>', 'retrieval mode (default: hybrid when the collection has vectors)').choices(
        ['lexical', 'dense', 'sparse', 'hybrid'],
      ),
    )
    .option(
      '--sparse-query <json>',
      'the query as a sparse vector, e.g. \'{"otter": 1.2, "river": 0.4}\' (sparse fields with model user)',
    )
    .option('--sparse-field <name>', 'sparse field for --mode sparse (default: the first)')
    .option('-k, --k <k>', 'number of results', parseIntOption('-k'), 10)
    .option('--filter <filter>', 'metadata filter: JSON ({"year":{"$gte":2020}}) or field=value')
    .addOption(new Option('--fusion <method>', 'hybrid fusion method').choices(['rrf', 'convex', 'dbsf']))
    .option('--weights <w>', 'fusion weights, e.g. lexical=0.7,dense=0.3')
    .option('--task <instruction>', 'task instruction for instruct models')
    .option('--chunks', 'one result per chunk instead of per document')
    .option('--snippets', 'query-aware snippets (1–3 best sentences) instead of the start of the text')
    .option(
      '--rerank [model]',
      'rerank the top 50 (default: offline similarity reranker; cross-encoder:<folder>; or a /rerank URL)',
    )
    .option('--explain', 'show each retriever’s rank and score (and BM25 term contributions)')
    .option('--json', 'print the response as JSON')
    .action(
      async (
        name: string,
        words: string[],
        o: StoreOptions & {
          mode?: SearchMode;
          sparseQuery?: string;
          sparseField?: string;
          k: number;
          filter?: string;
          fusion?: string;
          weights?: string;
          task?: string;
          chunks?: boolean;
          snippets?: boolean;
          rerank?: boolean | string;
          explain?: boolean;
          json?: boolean;
        },
      ) => {
        const req: SearchRequest = { query: words.join(' '), k: o.k };
        if (o.mode) req.mode = o.mode;
        if (o.sparseQuery !== undefined) req.sparseQuery = parseSparseQueryArg(o.sparseQuery);
        if (o.sparseField) req.sparseField = o.sparseField;
        if (o.filter) req.filter = parseFilterArg(o.filter);
        if (o.task) req.task = o.task;
        if (o.chunks) req.groupBy = 'chunk';
        if (o.snippets) req.snippets = true;
        if (o.rerank) req.rerank = typeof o.rerank === 'string' ? { model: o.rerank } : true;
        if (o.explain) req.explain = true;
        if (o.fusion || o.weights)
          req.fusion = {
            ...(o.fusion ? { method: o.fusion as FusionOptions['method'] } : {}),
            ...(o.weights ? { weights: parseWeights(o.weights) } : {}),
          };
        await withQuiver(o, async (q) => {
          const c = await q.getCollection(name);
          const res = await c.search(req);
          if (o.json) {
            printJson(res);
            return;
          }
          if (res.hits.length === 0) {
            process.stdout.write(`no results (${res.mode}, ${res.tookMs} ms)\n`);
            return;
          }
          const rows: (string | number)[][] = [['#', 'score', 'id', 'title / text']];
          for (const h of res.hits)
            rows.push([
              h.rank,
              h.score,
              h.chunk !== undefined ? `${h.id}#${h.chunk}` : h.id,
              clip(h.snippet?.text ?? (h.title || h.text || ''), 90),
            ]);
          process.stdout.write(
            `${table(rows)}\n${res.hits.length} results (${res.mode}, ${res.tookMs} ms)\n`,
          );
          if (o.explain) {
            for (const h of res.hits) {
              const parts = Object.entries(h.explain?.retrievers ?? {}).map(
                ([n, r]) => `${n}: rank ${r.rank} score ${r.score.toFixed(4)}`,
              );
              process.stdout.write(
                `  ${h.rank}. ${h.id}  ${parts.join('  |  ')}${h.explain?.fused !== undefined ? `  → fused ${h.explain.fused.toFixed(4)}` : ''}${h.explain?.rerank !== undefined ? `  → rerank ${h.explain.rerank.toFixed(4)}` : ''}\n`,
              );
              for (const [n, r] of Object.entries(h.explain?.retrievers ?? {})) {
                if (!r.terms) continue;
                const label = n === 'lexical' ? 'terms' : `${n} terms`;
                process.stdout.write(
                  `     ${label}: ${Object.entries(r.terms)
                    .map(([t, s]) => `${t}=${s.toFixed(3)}`)
                    .join(' ')}\n`,
                );
              }
            }
          }
          for (const w of res.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
        });
      },
    );

  withStoreOptions(
    program.command('get').argument('<name>').argument('<ids...>').description('print documents by id'),
  )
    .option('--json', 'JSON output (default)')
    .action(async (name: string, ids: string[], o: StoreOptions) => {
      await withQuiver(o, async (q) => {
        const docs = await (await q.getCollection(name)).get(ids);
        const found = new Set(docs.map((d) => d.id));
        const missing = ids.filter((id) => !found.has(id));
        printJson(
          docs.map(({ id, title, text, metadata, sparse }) => ({
            id,
            title,
            text,
            metadata,
            ...(sparse ? { sparse } : {}),
          })),
        );
        if (missing.length) {
          process.stderr.write(
            `quiver: error DOCUMENT_NOT_FOUND: no document with id ${missing.map((m) => `"${m}"`).join(', ')}\n`,
          );
          process.exitCode = 1;
        }
      });
    });

  withStoreOptions(
    program.command('delete').argument('<name>').argument('<ids...>').description('delete documents by id'),
  ).action(async (name: string, ids: string[], o: StoreOptions) => {
    await withQuiver(o, async (q) => {
      const c = await q.getCollection(name);
      const { deleted } = await c.delete(ids);
      await c.flush({ fit: false });
      process.stdout.write(`deleted ${deleted} of ${ids.length} documents from "${name}"\n`);
    });
  });

  withStoreOptions(
    program
      .command('stats')
      .argument('[name]', 'collection (all when omitted)')
      .description('collection statistics'),
  )
    .option('--json', 'JSON output')
    .action(async (name: string | undefined, o: StoreOptions & { json?: boolean }) => {
      await withQuiver(o, async (q) => {
        const names = name ? [name] : await q.listCollections();
        const stats = [];
        for (const n of names) stats.push(await (await q.getCollection(n)).stats());
        if (o.json) {
          printJson(name ? stats[0] : stats);
          return;
        }
        if (stats.length === 0) {
          process.stdout.write(`no collections in ${q.dataDir} — create one with: quiver init <name>\n`);
          return;
        }
        const rows: (string | number)[][] = [
          ['collection', 'documents', 'passages', 'store', 'analyzer', 'vectors', 'sparse'],
        ];
        for (const s of stats) {
          rows.push([
            s.name,
            s.documents,
            s.passages,
            s.store,
            s.analyzer.language,
            s.vectorFields.map((f) => `${f.name}:${f.model} (${f.dims}d, ${f.vectors})`).join(', ') || '—',
            (s.sparseFields ?? []).map((f) => `${f.name}:${f.model} (${f.passages})`).join(', ') || '—',
          ]);
        }
        process.stdout.write(`${table(rows)}\n`);
      });
    });

  withStoreOptions(program.command('list').description('list collections')).action(
    async (o: StoreOptions) => {
      await withQuiver(o, async (q) => {
        for (const n of await q.listCollections()) process.stdout.write(`${n}\n`);
      });
    },
  );

  withStoreOptions(
    program.command('drop').argument('<name>').description('delete a collection and all its data'),
  )
    .option('--yes', 'really delete')
    .action(async (name: string, o: StoreOptions & { yes?: boolean }) => {
      if (!o.yes)
        throw new QuiverError(
          'INVALID_ARGUMENT',
          `dropping "${name}" deletes all its documents; add --yes to confirm`,
          { location: { field: 'yes' } },
        );
      await withQuiver(o, async (q) => {
        await q.dropCollection(name);
        process.stdout.write(`dropped "${name}"\n`);
      });
    });
}

export function parseWeights(raw: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of raw.split(',')) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if (!k || v === undefined || !Number.isFinite(n) || n < 0) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `--weights takes name=number pairs, e.g. lexical=0.7,dense=0.3 (got "${raw}")`,
        {
          location: { field: 'weights' },
        },
      );
    }
    out[k.trim()] = n;
  }
  return out;
}
