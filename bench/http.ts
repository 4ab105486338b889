/**
 * npm run bench:http — load on the HTTP API over loopback: SciFact (5,183 docs) with BM25 and a
 * static-vector dense field; autocannon sends the 300 test queries in rotation at a fixed rate for
 * a bounded time, once for lexical and once for hybrid search. Reports p50/p95/p99 latency,
 * throughput, errors and the server's RSS before and after (the server is a separate process, so
 * the load generator does not share its event loop). Goal: p99 < 50 ms at 200 req/s, zero errors.
 *
 *   npx tsx bench/http.ts [--rate 200] [--seconds 20]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { vectorField } from '../src/engine/config.js';
import { Quiver } from '../src/engine/quiver.js';
import { loadBeirQueries } from '../src/eval/beir.js';
import { REPO_ROOT, SCIFACT, tempDir } from '../src/testing/paths.js';

const argOf = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const rate = argOf('rate', 200);
const seconds = argOf('seconds', 20);
const port = 7000 + Math.floor(Math.random() * 900);

const rssOf = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

const t = tempDir('quiver-http-');
const q = await Quiver.open({ data: t.dir });
const c = await q.createCollection('scifact', {
  chunking: { maxChars: 0, overlapSentences: 0 },
  vectors: [vectorField('static:glove-100')],
});
const docs = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { _id: string; title: string; text: string })
  .map((d) => ({ id: d._id, title: d.title, text: d.text }));
for (let i = 0; i < docs.length; i += 1000) await c.upsert(docs.slice(i, i + 1000), { deferVectors: true });
await c.flush({ fit: true });
await q.close();
const { queries } = await loadBeirQueries(SCIFACT, 'test');

const server = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    join(REPO_ROOT, 'src/cli/main.ts'),
    'serve',
    '--data',
    t.dir,
    '--port',
    String(port),
    '--api-key',
    'bench',
  ],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 200; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    // not up yet
  }
  await new Promise((r) => setTimeout(r, 100));
}

interface Result {
  mode: string;
  p50: number;
  p95: number;
  p99: number;
  rps: number;
  errors: number;
  non2xx: number;
  rssBefore: number;
  rssAfter: number;
}

async function load(mode: string): Promise<Result> {
  // Warm up (JIT, caches) before measuring.
  for (const qq of queries.slice(0, 50)) {
    await fetch(`${base}/v1/collections/scifact/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
      body: JSON.stringify({ query: qq.text, mode, k: 10 }),
    });
  }
  const rssBefore = rssOf(server.pid!);
  let i = 0;
  const res = await autocannon({
    url: `${base}/v1/collections/scifact/search`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
    connections: 20,
    overallRate: rate,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({ query: queries[i++ % queries.length]!.text, mode, k: 10 }),
        }),
      },
    ],
  });
  const hist = res.latency as unknown as Record<string, number>;
  return {
    mode,
    p50: hist['p50']!,
    p95:
      hist['p97_5'] !== undefined && hist['p95'] === undefined ? hist['p90']! : (hist['p95'] ?? hist['p90']!),
    p99: hist['p99']!,
    rps: res.requests.average,
    errors: res.errors + res.timeouts,
    non2xx: res.non2xx,
    rssBefore,
    rssAfter: rssOf(server.pid!),
  };
}

try {
  const results = [await load('lexical'), await load('hybrid')];
  console.log(
    `\nHTTP search over SciFact (5,183 docs), ${rate} req/s for ${seconds} s per mode, 20 connections, loopback\n`,
  );
  console.log(
    '| mode | p50 ms | p95 ms | p99 ms | req/s | errors | non-2xx | server RSS before → after (MB) |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.mode} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.rps.toFixed(0)} | ${r.errors} | ${r.non2xx} | ${r.rssBefore.toFixed(0)} → ${r.rssAfter.toFixed(0)} |`,
    );
  }
  const ok = results.every((r) => r.p99 < 50 && r.errors === 0 && r.non2xx === 0);
  console.log(`\ngoal (p99 < 50 ms at ${rate} req/s, zero errors): ${ok ? 'met' : 'NOT met'}`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  t.cleanup();
}
