/**
 * npm run bench:bm25 — Quiver's BM25 index against MiniSearch, Orama, FlexSearch and
 * wink-bm25-text-search on SciFact (5,183 docs) and the corpus replicated to ≥ 200k docs, same
 * machine, same run: documents/s indexed, queries/s and p50/p99 latency over the 300 test queries
 * (top 10), and nDCG@10 on the original corpus. Each peer uses its documented defaults plus
 * title+text as searchable fields.
 *
 *   npx tsx bench/bm25.ts [--sizes 5183,200000] [--rounds 3]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Document as FlexDocument } from 'flexsearch';
import MiniSearch from 'minisearch';
import { create as oramaCreate, insertMultiple as oramaInsert, search as oramaSearch } from '@orama/orama';
import winkBm25 from 'wink-bm25-text-search';
import { createAnalyzer } from '../src/analyze/index.js';
import { loadBeirQueries } from '../src/eval/beir.js';
import { evaluate } from '../src/eval/metrics.js';
import { Bm25Index } from '../src/index/lexical/bm25.js';
import { SCIFACT } from '../src/testing/paths.js';

const argOf = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const sizes = argOf('sizes', '5183,200000').split(',').map(Number);
const rounds = Number(argOf('rounds', '3'));
/** Query time budget per engine and size: slow engines are measured on the queries that fit. */
const budgetMs = Number(argOf('budget', '60')) * 1000;
/** Comma-separated engine names to run (default all), e.g. --engines quiver,flexsearch */
const only = argOf('engines', '').toLowerCase().split(',').filter(Boolean);

interface Doc {
  id: string;
  title: string;
  text: string;
}
const base: Doc[] = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { _id: string; title: string; text: string })
  .map((d) => ({ id: d._id, title: d.title, text: d.text }));
const { queries, qrels } = await loadBeirQueries(SCIFACT, 'test');

function corpus(n: number): Doc[] {
  const out: Doc[] = [];
  for (let r = 0; out.length < n; r++) {
    for (const d of base) {
      if (out.length >= n) break;
      out.push(r === 0 ? d : { ...d, id: `${d.id}-r${r}` });
    }
  }
  return out;
}

interface Engine {
  name: string;
  build(docs: Doc[]): Promise<void>;
  search(q: string): Promise<string[]>;
}

const simpleTokens = (s: string) => s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

function engines(): Engine[] {
  let quiver: Bm25Index;
  let ids: string[] = [];
  let mini: MiniSearch<Doc>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Orama's generic schema types are not needed here
  let orama: any;
  let flex: InstanceType<typeof FlexDocument>;
  let wink: ReturnType<typeof winkBm25>;
  return [
    {
      name: 'Quiver BM25',
      async build(docs) {
        quiver = new Bm25Index({ analyzer: createAnalyzer({ language: 'en' }), k1: 0.9, b: 0.4 });
        ids = docs.map((d) => d.id);
        for (let i = 0; i < docs.length; i += 5000) {
          await quiver.add(
            docs.slice(i, i + 5000).map((d, j) => ({
              key: i + j,
              docKey: i + j,
              docId: d.id,
              chunk: 0,
              title: d.title,
              text: d.text,
              start: 0,
              end: 0,
            })),
          );
        }
      },
      async search(q) {
        return (await quiver.search(q, 10)).map((h) => ids[h.key]!);
      },
    },
    {
      name: 'MiniSearch',
      async build(docs) {
        mini = new MiniSearch<Doc>({ fields: ['title', 'text'], idField: 'id' });
        mini.addAll(docs);
      },
      async search(q) {
        return mini
          .search(q)
          .slice(0, 10)
          .map((r) => String(r.id));
      },
    },
    {
      name: 'Orama',
      async build(docs) {
        orama = await oramaCreate({ schema: { id: 'string', title: 'string', text: 'string' } as const });
        await oramaInsert(orama, docs, 5000);
      },
      async search(q) {
        const r = (await oramaSearch(orama, { term: q, properties: ['title', 'text'], limit: 10 })) as {
          hits: { document: Doc }[];
        };
        return r.hits.map((h) => h.document.id);
      },
    },
    {
      name: 'FlexSearch',
      async build(docs) {
        flex = new FlexDocument({
          document: { id: 'id', index: ['title', 'text'] },
          tokenize: 'strict',
        } as never);
        for (const d of docs) flex.add(d as never);
      },
      async search(q) {
        const res = flex.search(q, { limit: 10, merge: true } as never) as unknown as { id: string }[];
        return res.slice(0, 10).map((r) => String(r.id));
      },
    },
    {
      name: 'wink-bm25-text-search',
      async build(docs) {
        wink = winkBm25();
        wink.defineConfig({ fldWeights: { title: 1, text: 1 }, bm25Params: { k1: 0.9, b: 0.4 } });
        wink.definePrepTasks([simpleTokens]);
        docs.forEach((d, i) => wink.addDoc({ title: d.title, text: d.text }, i));
        wink.consolidate(4);
        ids = ids.length === docs.length ? ids : docs.map((d) => d.id);
        winkIds = docs.map((d) => d.id);
      },
      async search(q) {
        return (wink.search(q, 10) as [number, number][]).map(([i]) => winkIds[i]!);
      },
    },
  ];
}
let winkIds: string[] = [];

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

interface Row {
  engine: string;
  size: number;
  docsPerSec: number;
  qps: number;
  p50: number;
  p99: number;
  ndcg?: number;
  rssMb: number;
}

const rows: Row[] = [];
for (const size of sizes) {
  const docs = corpus(size);
  for (const e of engines().filter(
    (x) => only.length === 0 || only.some((o) => x.name.toLowerCase().includes(o)),
  )) {
    // Orama exhausts even a 16 GB heap indexing 200k documents and takes the whole run down with it;
    // it runs at large sizes only when named with --engines.
    if (e.name === 'Orama' && size > 50_000 && only.length === 0) {
      console.error(`skipped: Orama @ ${size} (runs out of memory; name it in --engines to try)`);
      continue;
    }
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    try {
      await e.build(docs);
    } catch (err) {
      console.error(`${e.name} failed to index ${size} docs: ${(err as Error).message}`);
      continue;
    }
    const buildSecs = (performance.now() - t0) / 1000;
    const lat: number[] = [];
    const run: Record<string, Record<string, number>> = {};
    const qStart = performance.now();
    outer: for (let r = 0; r < rounds; r++) {
      for (const q of queries) {
        // The first pass over the original corpus always completes (it gives nDCG@10).
        if ((r > 0 || size !== base.length) && performance.now() - qStart > budgetMs) break outer;
        const s = performance.now();
        const hits = await e.search(q.text);
        lat.push(performance.now() - s);
        if (r === 0) run[q.id] = Object.fromEntries(hits.map((id, i) => [id, 10 - i]));
      }
    }
    const total = lat.reduce((a, b) => a + b, 0) / 1000;
    const row: Row = {
      engine: e.name,
      size,
      docsPerSec: size / buildSecs,
      qps: lat.length / total,
      p50: pct(lat, 50),
      p99: pct(lat, 99),
      rssMb: (process.memoryUsage().rss - rss0) / 2 ** 20,
    };
    if (size === base.length) row.ndcg = evaluate(qrels, run).aggregate['ndcg@10'];
    rows.push(row);
    console.error(`done: ${e.name} @ ${size}`);
  }
}

console.log(
  `\nBM25 engines on SciFact (${queries.length} test queries × ${rounds} rounds, top 10), node ${process.version}\n`,
);
console.log(
  '| docs | engine | index docs/s | queries/s | p50 ms | p99 ms | nDCG@10 | QPS ratio (Quiver / engine) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const size of sizes) {
  const q = rows.find((r) => r.size === size && r.engine === 'Quiver BM25');
  for (const r of rows.filter((x) => x.size === size)) {
    console.log(
      `| ${size} | ${r.engine} | ${r.docsPerSec.toFixed(0)} | ${r.qps.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.ndcg !== undefined ? (100 * r.ndcg).toFixed(2) : '—'} | ${q ? (q.qps / r.qps).toFixed(2) : '—'} |`,
    );
  }
}
