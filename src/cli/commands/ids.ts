/**
 * quiver ids fit | export | tree — balanced semantic IDs. On a BEIR corpus (`<dir> --model m`): fit
 * and report quality (utilisation, collisions, beam-search recall), balanced vs plain k-means. On a
 * collection (`--collection name`): fit and store the IDs with it (new documents then get IDs
 * without retraining), export them, and browse the code tree.
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { Command } from 'commander';
import type { Embedder } from '../../embed/embedder.js';
import { isFittable } from '../../embed/embedder.js';
import { createEmbedder } from '../../embed/index.js';
import { beirCorpusPath, loadBeirQueries } from '../../eval/beir.js';
import { parseCodePrefix } from '../../ids/collection-ids.js';
import { beamSearch, collisionRate, fitSemanticIds, utilisation } from '../../ids/semantic-ids.js';
import { openSource } from '../../ingest/sources.js';
import { QuiverError } from '../../errors.js';
import { clip, parseIntOption, printJson, table, withQuiver, withStoreOptions } from '../common.js';
import type { StoreOptions } from '../common.js';

interface Report {
  utilisation: number[];
  collision_rate: number;
  'recall@10_vs_exact': number;
}

export function registerIdsCommands(program: Command): void {
  const ids = program
    .command('ids')
    .description('balanced semantic document IDs (residual quantization, as in ASI/ASI++)');
  withStoreOptions(
    ids
      .command('fit')
      .argument(
        '[beir-dataset-dir]',
        'corpus.jsonl (+ queries.jsonl and qrels/test.tsv for the recall check)',
      )
      .description(
        'fit IDs on a BEIR corpus and report their quality, or (--collection) fit and store them with a collection',
      ),
  )
    .option('--model <name>', 'embedding model for a BEIR corpus (e.g. static:glove-100)')
    .option('--model-dir <dir>', 'local model folder')
    .option(
      '--collection <name>',
      "fit on this collection's document vectors and store the IDs with it (re-fitting replaces them)",
    )
    .option('--field <name>', 'vector field of the collection (default: the first)')
    .option('--plain', 'plain k-means instead of the balanced assignment (collections only)')
    .option(
      '--sample <n>',
      'train each level on at most n documents, then code them all (collections only)',
      parseIntOption('--sample'),
    )
    .option('--levels <n>', 'code levels', parseIntOption('--levels'), 3)
    .option('--codes <n>', 'codes per level', parseIntOption('--codes'), 256)
    .option('--beam <n>', 'beam width for code-tree search', parseIntOption('--beam'), 64)
    .option('--out <file>', 'export the IDs as TSV: doc_id<TAB>code (dot-separated)')
    .option('--json', 'print JSON')
    .action(
      async (
        dir: string | undefined,
        o: StoreOptions & {
          model?: string;
          modelDir?: string;
          collection?: string;
          field?: string;
          plain?: boolean;
          sample?: number;
          levels: number;
          codes: number;
          beam: number;
          out?: string;
          json?: boolean;
        },
      ) => {
        if (o.collection) {
          await fitCollection(o.collection, o);
          return;
        }
        if (!dir || !o.model) {
          throw new QuiverError(
            'INVALID_ARGUMENT',
            'give a BEIR dataset folder and --model, or --collection <name>',
            {
              location: { field: dir ? 'model' : 'beir-dataset-dir' },
            },
          );
        }
        const model = o.model;
        const t0 = performance.now();
        const docs = await readCorpus(dir);
        const embedder = await createEmbedder(model, o.modelDir ? { modelDir: o.modelDir } : {});
        try {
          const vecs = await embedCorpus(embedder, docs);
          const { queries } = await loadBeirQueries(dir, 'test');
          const qv = await embedder.embed(
            queries.map((q) => q.text),
            { role: 'query' },
          );
          const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
          const exact = qv.map((q) =>
            vecs
              .map((v, i) => ({ i, s: dot(q, v) }))
              .sort((a, b) => b.s - a.s)
              .slice(0, 10)
              .map((x) => x.i),
          );
          const report = (balanced: boolean): Report & { codes: Uint16Array[] } => {
            const fit = fitSemanticIds(vecs, { levels: o.levels, codes: o.codes, balanced });
            let hit = 0;
            qv.forEach((q, qi) => {
              const cands = beamSearch(fit.quantizer, fit.codes, q, o.beam);
              const top = new Set(
                cands
                  .map((i) => ({ i, s: dot(q, vecs[i]!) }))
                  .sort((a, b) => b.s - a.s)
                  .slice(0, 10)
                  .map((x) => x.i),
              );
              hit += exact[qi]!.filter((i) => top.has(i)).length;
            });
            return {
              utilisation: utilisation(fit.codes, o.levels, o.codes),
              collision_rate: collisionRate(fit.codes),
              'recall@10_vs_exact': hit / (10 * Math.max(1, qv.length)),
              codes: fit.codes,
            };
          };
          const balanced = report(true);
          const plain = report(false);
          if (o.out)
            await writeFile(
              o.out,
              docs.map((d, i) => `${d.id}\t${Array.from(balanced.codes[i]!).join('.')}`).join('\n') + '\n',
            );
          const strip = ({ codes: _codes, ...r }: Report & { codes: Uint16Array[] }) => r;
          const out = {
            ...strip(balanced),
            plain_kmeans: strip(plain),
            documents: docs.length,
            queries: qv.length,
            levels: o.levels,
            codes: o.codes,
            beam: o.beam,
            seconds: (performance.now() - t0) / 1000,
          };
          if (o.json) {
            printJson(out);
            return;
          }
          const rows: (string | number)[][] = [
            ['assignment', 'utilisation per level', 'collision rate', 'recall@10 vs exact'],
          ];
          for (const [name, r] of [
            ['balanced', balanced],
            ['plain k-means', plain],
          ] as const) {
            rows.push([
              name,
              r.utilisation.map((u) => u.toFixed(3)).join(' / '),
              r.collision_rate,
              r['recall@10_vs_exact'],
            ]);
          }
          process.stdout.write(
            `${table(rows)}\n${docs.length} documents, ${o.levels} × ${o.codes} codes, beam ${o.beam}\n`,
          );
        } finally {
          await embedder.close();
        }
      },
    );

  withStoreOptions(
    ids
      .command('export')
      .argument('[beir-dataset-dir]', 'a BEIR corpus to fit (balanced) and export, instead of a collection')
      .description(
        'write every document\'s semantic ID: JSONL {"id": …, "code": [12, 200, 7]} or TSV id<TAB>12.200.7',
      ),
  )
    .option(
      '--collection <name>',
      'export the IDs stored with this collection (fitted by `quiver ids fit --collection`)',
    )
    .option('--field <name>', 'vector field of the collection (default: the first)')
    .option('--model <name>', 'embedding model for a BEIR corpus (e.g. static:glove-100)')
    .option('--model-dir <dir>', 'local model folder')
    .option('--levels <n>', 'code levels (BEIR corpus)', parseIntOption('--levels'), 3)
    .option('--codes <n>', 'codes per level (BEIR corpus)', parseIntOption('--codes'), 256)
    .option('--format <format>', 'jsonl or tsv', 'jsonl')
    .option('--out <file>', 'write here instead of standard output')
    .action(
      async (
        dir: string | undefined,
        o: StoreOptions & {
          collection?: string;
          field?: string;
          model?: string;
          modelDir?: string;
          levels: number;
          codes: number;
          format: string;
          out?: string;
        },
      ) => {
        if (o.format !== 'jsonl' && o.format !== 'tsv') {
          throw new QuiverError('INVALID_ARGUMENT', `--format must be jsonl or tsv (got "${o.format}")`, {
            location: { field: 'format' },
          });
        }
        let entries: { id: string; code: number[] }[];
        if (o.collection) {
          const name = o.collection;
          entries = await withQuiver(o, async (q) =>
            (await (await q.getCollection(name)).semanticIds(o.field)).entries(),
          );
        } else {
          if (!dir || !o.model) {
            throw new QuiverError(
              'INVALID_ARGUMENT',
              'give --collection <name>, or a BEIR dataset folder and --model',
              {
                location: { field: dir ? 'model' : 'collection' },
              },
            );
          }
          const docs = await readCorpus(dir);
          const embedder = await createEmbedder(o.model, o.modelDir ? { modelDir: o.modelDir } : {});
          try {
            const fit = fitSemanticIds(await embedCorpus(embedder, docs), {
              levels: o.levels,
              codes: o.codes,
              balanced: true,
            });
            entries = docs.map((d, i) => ({ id: d.id, code: Array.from(fit.codes[i]!) }));
          } finally {
            await embedder.close();
          }
        }
        const line =
          o.format === 'tsv'
            ? (e: { id: string; code: number[] }) => `${e.id}\t${e.code.join('.')}\n`
            : (e: { id: string; code: number[] }) => `${JSON.stringify({ id: e.id, code: e.code })}\n`;
        const out = o.out ? createWriteStream(o.out) : process.stdout;
        for (let i = 0; i < entries.length; i += 1000) {
          const chunk = entries
            .slice(i, i + 1000)
            .map(line)
            .join('');
          // Wait until each chunk is handed to the OS: the CLI exits with process.exit right after,
          // and a loaded machine showed the tail of a piped export lost without this.
          await new Promise<void>((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve())));
        }
        if (o.out) {
          (out as ReturnType<typeof createWriteStream>).end();
          await once(out, 'finish');
          process.stderr.write(`wrote ${entries.length} IDs to ${o.out}\n`);
        }
      },
    );

  withStoreOptions(
    ids
      .command('tree')
      .argument('<collection>', 'collection with fitted semantic IDs')
      .argument('[prefix]', 'code prefix, dot-separated (e.g. 12.200); empty = the top level')
      .description('browse the code tree: the codes under a prefix with their sizes and sample titles'),
  )
    .option('--field <name>', 'vector field (default: the first)')
    .option('--samples <n>', 'sample titles per code', parseIntOption('--samples'), 3)
    .option('--json', 'print JSON')
    .action(
      async (
        name: string,
        prefix: string | undefined,
        o: StoreOptions & { field?: string; samples: number; json?: boolean },
      ) => {
        const codes = parseCodePrefix(prefix);
        await withQuiver(o, async (q) => {
          const tree = await (
            await (await q.getCollection(name)).semanticIds(o.field)
          ).tree(codes, { samples: o.samples });
          if (o.json) {
            printJson(tree);
            return;
          }
          if (tree.documents) {
            const rows: (string | number)[][] = [['id', 'title']];
            for (const d of tree.documents) rows.push([d.id, clip(d.title ?? '', 90)]);
            process.stdout.write(`${table(rows)}\n${tree.total} documents with ID ${codes.join('.')}\n`);
            return;
          }
          const rows: (string | number)[][] = [['code', 'documents', 'samples']];
          for (const ch of tree.children)
            rows.push([
              ch.code.join('.'),
              ch.count,
              clip(ch.samples.map((x) => x.title ?? x.id).join(' | '), 100),
            ]);
          process.stdout.write(
            `${table(rows)}\n${tree.total} documents under ${codes.length ? codes.join('.') : 'the root'}; ${tree.children.length} codes used of ${tree.codes}\n`,
          );
        });
      },
    );
}

/**
 * A BEIR corpus (corpus.jsonl or .jsonl.gz) read through the ingest stage, so ids, encodings and
 * bad lines are handled as `eval beir` handles them: a bad record is skipped with a warning.
 */
async function readCorpus(dir: string): Promise<{ id: string; text: string }[]> {
  const docs: { id: string; text: string }[] = [];
  let skipped: QuiverError | undefined;
  let bad = 0;
  for await (const item of openSource({ path: beirCorpusPath(dir), format: 'beir' })) {
    if (!item.ok) {
      skipped ??= item.error;
      bad++;
      continue;
    }
    const d = item.doc;
    docs.push({ id: d.id, text: d.title ? `${d.title} ${d.text}` : d.text });
  }
  if (skipped) process.stderr.write(`warning: ${bad} corpus records skipped; first: ${skipped.toLine()}\n`);
  return docs;
}

async function embedCorpus(embedder: Embedder, docs: { text: string }[]): Promise<Float32Array[]> {
  if (isFittable(embedder)) await embedder.fit(docs.map((d) => d.text));
  return embedder.embed(
    docs.map((d) => d.text),
    { role: 'document' },
  );
}

async function fitCollection(
  name: string,
  o: StoreOptions & {
    field?: string;
    plain?: boolean;
    sample?: number;
    levels: number;
    codes: number;
    json?: boolean;
  },
): Promise<void> {
  await withQuiver(o, async (q) => {
    const t0 = performance.now();
    const c = await q.getCollection(name);
    // Pending vectors are embedded first, so every document is part of the fit.
    await c.flush();
    const ids = await c.semanticIds(o.field);
    const r = await ids.fit({
      levels: o.levels,
      codes: o.codes,
      balanced: !o.plain,
      ...(o.sample !== undefined ? { trainSample: o.sample } : {}),
    });
    const out = { ...r, seconds: (performance.now() - t0) / 1000 };
    if (o.json) {
      printJson(out);
      return;
    }
    process.stdout.write(
      `fitted ${r.balanced ? 'balanced' : 'plain k-means'} semantic IDs for ${r.documents} documents of "${name}" (field ${r.field}, ${r.levels} × ${r.codes} codes) in ${out.seconds.toFixed(1)} s\n` +
        `utilisation per level ${r.utilisation.map((u) => u.toFixed(3)).join(' / ')}, collision rate ${(r.collision_rate * 100).toFixed(2)}%\n`,
    );
  });
}
