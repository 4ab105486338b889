/**
 * Snippet latency per result: the two-stage query-aware snippet (sentence split, coarse BM25 over
 * sentences, fine re-score, composition within the character budget, highlighting) for each of the
 * top-10 BM25 hits of SciFact's 300 test queries; and whole searches with and without snippets
 * through the engine, side by side.
 *
 *   npm run bench:snippets        (npx tsx bench/snippets.ts [--k 10] [--reps 3])
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAnalyzer } from '../src/analyze/index.js';
import { Quiver } from '../src/engine/quiver.js';
import { SnippetSelector, idfFrom } from '../src/snippet/snippet.js';
import { tempDir } from '../src/testing/paths.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const scifact = join(root, '..', 'shared', 'datasets', 'scifact');
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const K = Number(arg('k', '10'));
const REPS = Number(arg('reps', '3'));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

const corpus = readFileSync(join(scifact, 'corpus.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { _id: string; title: string; text: string });
const testIds = new Set(
  readFileSync(join(scifact, 'qrels', 'test.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!),
);
const queries = readFileSync(join(scifact, 'queries.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { _id: string; text: string })
  .filter((q) => testIds.has(q._id));

const t = tempDir('quiver-bench-snippets-');
const quiver = await Quiver.open({ data: t.dir });
try {
  const c = await quiver.createCollection('scifact');
  for (let i = 0; i < corpus.length; i += 1000) {
    await c.upsert(corpus.slice(i, i + 1000).map((d) => ({ id: d._id, title: d.title, text: d.text })));
  }
  await c.flush();

  // The selector with the collection's analyzer and corpus idf, as Collection.search builds it.
  const analyzer = createAnalyzer({ language: 'en' });
  const df = new Map<string, number>();
  for (const d of corpus)
    for (const term of new Set(analyzer.analyze(`${d.title} ${d.text}`)))
      df.set(term, (df.get(term) ?? 0) + 1);
  const selector = new SnippetSelector(analyzer, idfFrom(df, corpus.length));
  const cachedSelector = new SnippetSelector(analyzer, idfFrom(df, corpus.length));
  const keyOf = new Map(corpus.map((d, i) => [d._id, i]));
  const warmed = new Set<number>();
  const perResultCached: number[] = [];

  const perResult: number[] = [];
  const perQuery: number[] = [];
  const plain: number[] = [];
  const withSnippets: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const q of queries) {
      let s = performance.now();
      const res = await c.search({ query: q.text, mode: 'lexical', k: K });
      plain.push(performance.now() - s);
      s = performance.now();
      await c.search({ query: q.text, mode: 'lexical', k: K, snippets: { maxChars: 300 } });
      withSnippets.push(performance.now() - s);
      let total = 0;
      for (const h of res.hits) {
        const t0 = performance.now();
        await selector.snippet(q.text, h.text ?? '', { maxChars: 300 });
        const ms = performance.now() - t0;
        perResult.push(ms);
        total += ms;
        // The engine's path: sentences split and analyzed once per passage (index time), cached.
        const key = keyOf.get(h.id)!;
        if (!warmed.has(key)) {
          cachedSelector.remember(key, h.text ?? '');
          warmed.add(key);
        }
        const t1 = performance.now();
        await cachedSelector.snippet(q.text, h.text ?? '', { maxChars: 300 }, 'en', key);
        perResultCached.push(performance.now() - t1);
      }
      perQuery.push(total);
    }
  }
  const f = (x: number) => x.toFixed(3);
  console.log(
    `\nSciFact, ${queries.length} test queries × ${REPS} reps, BM25 top ${K}, snippet budget 300 characters.\n`,
  );
  console.log('| measure | p50 ms | p99 ms | mean ms |');
  console.log('|---|---|---|---|');
  console.log(
    `| snippet per result, uncached (split + analyze sentences, two stages, composed + highlighted) | ${f(pct(perResult, 0.5))} | ${f(pct(perResult, 0.99))} | ${f(mean(perResult))} |`,
  );
  console.log(
    `| snippet per result, sentence cache (the engine's path) | ${f(pct(perResultCached, 0.5))} | ${f(pct(perResultCached, 0.99))} | ${f(mean(perResultCached))} |`,
  );
  console.log(
    `| snippets for all ${K} results of a query | ${f(pct(perQuery, 0.5))} | ${f(pct(perQuery, 0.99))} | ${f(mean(perQuery))} |`,
  );
  console.log(
    `| search, k=${K}, no snippets | ${f(pct(plain, 0.5))} | ${f(pct(plain, 0.99))} | ${f(mean(plain))} |`,
  );
  console.log(
    `| search, k=${K}, with snippets | ${f(pct(withSnippets, 0.5))} | ${f(pct(withSnippets, 0.99))} | ${f(mean(withSnippets))} |`,
  );
} finally {
  await quiver.close();
  t.cleanup();
}
