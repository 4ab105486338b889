/**
 * npm run bench:backends — the embedded backend (SQLite + in-memory BM25 + usearch) against the
 * Postgres backend (PGlite + pgvector behind pglite-socket, reached with `pg`) on SciFact, same
 * machine, same run: ingest rate, query latency (p50/p99) per mode, nDCG@10 per mode, and the
 * recall@10 of pgvector's HNSW against exact search. Ratios are Postgres / embedded.
 *
 *   npx tsx bench/backends.ts [--docs 5183] [--queries 300]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vectorField } from '../src/engine/config.js';
import { Quiver } from '../src/engine/quiver.js';
import { evaluate } from '../src/eval/metrics.js';
import { loadBeirQueries } from '../src/eval/beir.js';
import { PgVectorIndex } from '../src/store/postgres/pg-vector.js';
import { startPgliteServer } from '../src/store/postgres/testing/pglite-server.js';
import { SCIFACT, tempDir } from '../src/testing/paths.js';
import type { SearchMode } from '../src/types.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const maxDocs = arg('docs', 5183);
const maxQueries = arg('queries', 300);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

interface Row {
  backend: string;
  ingestDocsPerSec: number;
  modes: Record<string, { p50: number; p99: number; ndcg: number }>;
  pgRecall?: number;
}

async function run(label: string, open: () => Promise<Quiver>): Promise<Row> {
  const corpus = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, maxDocs)
    .map((l) => JSON.parse(l) as { _id: string; title: string; text: string })
    .map((d) => ({ id: d._id, title: d.title, text: d.text }));
  const { queries, qrels } = await loadBeirQueries(SCIFACT, 'test');
  const qs = queries.slice(0, maxQueries);
  const q = await open();
  try {
    const c = await q.createCollection('bench', {
      chunking: { maxChars: 0, overlapSentences: 0 },
      vectors: [vectorField('static:glove-100')],
    });
    const t0 = performance.now();
    for (let i = 0; i < corpus.length; i += 500)
      await c.upsert(corpus.slice(i, i + 500), { deferVectors: true });
    await c.flush({ fit: true });
    const ingestSecs = (performance.now() - t0) / 1000;
    const modes: Row['modes'] = {};
    for (const mode of ['lexical', 'dense', 'hybrid'] as SearchMode[]) {
      const lat: number[] = [];
      const runFile: Record<string, Record<string, number>> = {};
      for (const query of qs) {
        const s = performance.now();
        const res = await c.search({ query: query.text, mode, k: 100, includeDocument: false });
        lat.push(performance.now() - s);
        runFile[query.id] = Object.fromEntries(res.hits.map((h) => [h.id, h.score]));
      }
      const ndcg = evaluate(qrels, runFile).aggregate['ndcg@10'] ?? 0;
      modes[mode] = { p50: pct(lat, 50), p99: pct(lat, 99), ndcg };
    }
    const row: Row = { backend: label, ingestDocsPerSec: corpus.length / ingestSecs, modes };
    const field = c.vectorFields[0]!;
    if (field.index instanceof PgVectorIndex) {
      let hit = 0;
      let total = 0;
      for (const query of qs.slice(0, 100)) {
        const qv = await field.embedQuery(query.text);
        const approx = new Set((await field.index.search(qv, 10)).map((h) => h.key));
        const exact = await field.index.searchExact(qv, 10);
        total += exact.length;
        hit += exact.filter((h) => approx.has(h.key)).length;
      }
      row.pgRecall = hit / Math.max(1, total);
    }
    return row;
  } finally {
    await q.close();
  }
}

const t = tempDir('quiver-bench-');
const server = await startPgliteServer();
try {
  const embedded = await run('embedded (SQLite + usearch)', () => Quiver.open({ data: join(t.dir, 'a') }));
  const postgres = await run('postgres (PGlite + pgvector)', () =>
    Quiver.open({ data: join(t.dir, 'b'), store: server.url }),
  );
  const rows = [embedded, postgres];
  const fmt = (n: number, d = 2) => n.toFixed(d);
  console.log(`\nSciFact: ${maxDocs} documents, ${maxQueries} test queries, static:glove-100 dense field\n`);
  console.log(
    '| backend | ingest docs/s | lexical p50 / p99 ms | dense p50 / p99 ms | hybrid p50 / p99 ms | nDCG@10 lexical | dense | hybrid | pgvector R@10 vs exact |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const m = r.modes;
    console.log(
      `| ${r.backend} | ${fmt(r.ingestDocsPerSec, 0)} | ${fmt(m['lexical']!.p50)} / ${fmt(m['lexical']!.p99)} | ${fmt(m['dense']!.p50)} / ${fmt(m['dense']!.p99)} | ${fmt(m['hybrid']!.p50)} / ${fmt(m['hybrid']!.p99)} | ${fmt(100 * m['lexical']!.ndcg)} | ${fmt(100 * m['dense']!.ndcg)} | ${fmt(100 * m['hybrid']!.ndcg)} | ${r.pgRecall !== undefined ? fmt(r.pgRecall, 3) : '—'} |`,
    );
  }
  const ratio = (f: (r: Row) => number) => fmt(f(postgres) / f(embedded), 1);
  console.log(
    `\nratios postgres/embedded: ingest time ×${ratio((r) => 1 / r.ingestDocsPerSec)}, lexical p50 ×${ratio((r) => r.modes['lexical']!.p50)}, dense p50 ×${ratio((r) => r.modes['dense']!.p50)}, hybrid p50 ×${ratio((r) => r.modes['hybrid']!.p50)}`,
  );
} finally {
  await server.stop();
  t.cleanup();
}
