/** quiver ids fit — balanced semantic IDs for a BEIR corpus, with their quality report. */
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isFittable } from '../../embed/embedder.js';
import { createEmbedder } from '../../embed/index.js';
import { loadBeirQueries } from '../../eval/beir.js';
import { beamSearch, collisionRate, fitSemanticIds, utilisation } from '../../ids/semantic-ids.js';
import { readLines } from '../../ingest/sources.js';
import { parseIntOption, printJson, table } from '../common.js';

interface Report {
  utilisation: number[];
  collision_rate: number;
  'recall@10_vs_exact': number;
}

export function registerIdsCommands(program: Command): void {
  const ids = program.command('ids').description('balanced semantic document IDs (residual quantization, as in ASI/ASI++)');
  ids
    .command('fit')
    .argument('<beir-dataset-dir>', 'corpus.jsonl (+ queries.jsonl and qrels/test.tsv for the recall check)')
    .requiredOption('--model <name>', 'embedding model (e.g. static:glove-100)')
    .option('--model-dir <dir>', 'local model folder')
    .option('--levels <n>', 'code levels', parseIntOption('--levels'), 3)
    .option('--codes <n>', 'codes per level', parseIntOption('--codes'), 256)
    .option('--beam <n>', 'beam width for code-tree search', parseIntOption('--beam'), 64)
    .option('--out <file>', 'export the IDs as TSV: doc_id<TAB>code (dot-separated)')
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { model: string; modelDir?: string; levels: number; codes: number; beam: number; out?: string; json?: boolean }) => {
      const t0 = performance.now();
      const docs: { id: string; text: string }[] = [];
      for await (const { bytes } of readLines(createReadStream(join(dir, 'corpus.jsonl')))) {
        if (bytes.length === 0) continue;
        const d = JSON.parse(bytes.toString('utf8')) as { _id: string; title?: string; text: string };
        docs.push({ id: d._id, text: d.title ? `${d.title} ${d.text}` : d.text });
      }
      const embedder = await createEmbedder(o.model, o.modelDir ? { modelDir: o.modelDir } : {});
      try {
        if (isFittable(embedder)) await embedder.fit(docs.map((d) => d.text));
        const vecs = await embedder.embed(docs.map((d) => d.text), { role: 'document' });
        const { queries } = await loadBeirQueries(dir, 'test');
        const qv = await embedder.embed(queries.map((q) => q.text), { role: 'query' });
        const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
        const exact = qv.map((q) => vecs.map((v, i) => ({ i, s: dot(q, v) })).sort((a, b) => b.s - a.s).slice(0, 10).map((x) => x.i));
        const report = (balanced: boolean): Report & { codes: Uint16Array[] } => {
          const fit = fitSemanticIds(vecs, { levels: o.levels, codes: o.codes, balanced });
          let hit = 0;
          qv.forEach((q, qi) => {
            const cands = beamSearch(fit.quantizer, fit.codes, q, o.beam);
            const top = new Set(cands.map((i) => ({ i, s: dot(q, vecs[i]!) })).sort((a, b) => b.s - a.s).slice(0, 10).map((x) => x.i));
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
        if (o.out) await writeFile(o.out, docs.map((d, i) => `${d.id}\t${Array.from(balanced.codes[i]!).join('.')}`).join('\n') + '\n');
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
        const rows: (string | number)[][] = [['assignment', 'utilisation per level', 'collision rate', 'recall@10 vs exact']];
        for (const [name, r] of [['balanced', balanced], ['plain k-means', plain]] as const) {
          rows.push([name, r.utilisation.map((u) => u.toFixed(3)).join(' / '), r.collision_rate, r['recall@10_vs_exact']]);
        }
        process.stdout.write(`${table(rows)}\n${docs.length} documents, ${o.levels} × ${o.codes} codes, beam ${o.beam}\n`);
      } finally {
        await embedder.close();
      }
    });
}
