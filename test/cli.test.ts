/**
 * The command line as outside checks call it: BEIR evaluation within Pyserini's band, trec_eval
 * measures on a hand-computed run, the embed contract, ingest of bad input, and error lines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, SCIFACT, TINY_BERT, tempDir } from '../src/testing/paths.js';

const BUILT = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Run the CLI: the compiled binary when built (as `npx quiver` runs it), else the sources. */
function quiver(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const argv = existsSync(BUILT)
    ? [join(REPO_ROOT, 'bin', 'quiver.js'), ...args]
    : ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args];
  const r = spawnSync(process.execPath, argv, { cwd: REPO_ROOT, encoding: 'utf8', input, timeout: 240_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('quiver CLI', () => {
  it('eval beir reproduces Pyserini BM25 on SciFact (nDCG@10 = 67.89 ± 0.5) and cleans up', () => {
    const t = tempDir();
    try {
      const r = quiver(['eval', 'beir', SCIFACT, '--json', '--data', t.dir]);
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(r.stdout) as Record<string, number>;
      assert.ok(Math.abs(m['ndcg@10']! - 0.6789) <= 0.005, `nDCG@10 ${m['ndcg@10']}`);
      for (const k of ['mrr@10', 'recall@100', 'map@100']) assert.ok(m[k]! > 0 && m[k]! <= 1, k);
      assert.equal(m['queries'], 300);
      const runFile = (m as unknown as { run_file: string }).run_file;
      assert.ok(existsSync(runFile), 'the TREC run file was written');
      // The temporary collection is gone; only the run file and the eval log remain.
      const list = quiver(['list', '--data', t.dir]);
      assert.equal(list.stdout.trim(), '');
      // The same run through `eval trec` gives the same nDCG.
      const qrels = join(t.dir, 'qrels.txt');
      const tsv = spawnSync(
        'awk',
        ['-F\t', 'NR>1{print $1" 0 "$2" "$3}', join(SCIFACT, 'qrels', 'test.tsv')],
        { encoding: 'utf8' },
      ).stdout;
      writeFileSync(qrels, tsv);
      const trec = JSON.parse(quiver(['eval', 'trec', qrels, runFile, '--json']).stdout) as Record<
        string,
        number
      >;
      assert.ok(Math.abs(trec['ndcg_cut_10']! - m['ndcg@10']!) < 1e-9);
      assert.equal(trec['num_q'], 300);
    } finally {
      t.cleanup();
    }
  });

  it('eval trec computes trec_eval measures on a hand-checked run', () => {
    const t = tempDir();
    try {
      // q1: relevant d1 (rel 2), d3 (rel 1). Ranked by score: d2, d1, d4, d3 (d4 and d3 tie at 0.5;
      // trec_eval breaks ties by docno descending, so d4 comes before d3).
      // AP = (1/2 + 2/4) / 2 = 0.5; RR = 1/2; nDCG@10 = (2/log2 3 + 1/log2 5) / (2 + 1/log2 3)
      // q2: relevant d9 ranked 1st: AP = 1, RR = 1, nDCG = 1. q3: only in qrels: skipped (num_q = 2).
      writeFileSync(join(t.dir, 'qrels'), 'q1 0 d1 2\nq1 0 d3 1\nq1 0 d2 0\nq2 0 d9 1\nq3 0 d5 1\n');
      writeFileSync(
        join(t.dir, 'run'),
        'q1 Q0 d3 1 0.5 x\nq1 Q0 d1 2 0.9 x\nq1 Q0 d2 3 1.0 x\nq1 Q0 d4 4 0.5 x\nq2 Q0 d9 1 3 x\n',
      );
      const r = quiver(['eval', 'trec', join(t.dir, 'qrels'), join(t.dir, 'run'), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(r.stdout) as Record<string, number>;
      const ndcg1 = (2 / Math.log2(3) + 1 / Math.log2(5)) / (2 + 1 / Math.log2(3));
      assert.equal(m['num_q'], 2);
      assert.ok(Math.abs(m['map']! - (0.5 + 1) / 2) < 1e-12);
      assert.ok(Math.abs(m['recip_rank']! - (0.5 + 1) / 2) < 1e-12);
      assert.ok(Math.abs(m['ndcg_cut_10']! - (ndcg1 + 1) / 2) < 1e-12);
      assert.ok(Math.abs(m['P_10']! - (2 / 10 + 1 / 10) / 2) < 1e-12);
      const bad = quiver(['eval', 'trec', join(t.dir, 'qrels'), join(t.dir, 'qrels')]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /INVALID_ARGUMENT at .*qrels:1/);
    } finally {
      t.cleanup();
    }
  });

  it('embed prints the exact model input and token ids (e5 contract)', () => {
    const r = quiver([
      'embed',
      '--model',
      'intfloat/e5-small-v2',
      '--model-dir',
      TINY_BERT,
      '--query',
      '--explain',
      '--json',
      'how much protein should a female eat',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { input: string; ids: number[]; dims: number; vector: number[] };
    assert.equal(out.input, 'query: how much protein should a female eat');
    assert.deepEqual(out.ids, [101, 23032, 1024, 2129, 2172, 5250, 2323, 1037, 2931, 4521, 102]);
    assert.equal(out.vector.length, out.dims);
    const passage = JSON.parse(
      quiver(['embed', '--model', 'e5-small-v2', '--model-dir', TINY_BERT, '--passage', '--explain', 'x'])
        .stdout,
    ) as { input: string };
    assert.equal(passage.input, 'passage: x');
    const glove = JSON.parse(
      quiver(['embed', '--model', 'static:glove-100', '--query', '--json', 'protein']).stdout,
    ) as { dims: number };
    assert.equal(glove.dims, 100);
  });

  it('reports bad records with file:line, keeps good ones, and rejects on request', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'docs.jsonl');
      const lines = [
        JSON.stringify({ id: 'a', text: 'first document about otters' }),
        '{"id": "b", "text": broken',
        JSON.stringify({ id: 'c' }),
        JSON.stringify({ id: 'd', text: 42 }),
        JSON.stringify({ id: 'e', text: 'fifth document about bees' }),
      ];
      const bytes = Buffer.concat([
        Buffer.from(`${lines.join('\n')}\n`),
        Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0xff, 0xfe, 0x7d, 0x0a]),
      ]);
      writeFileSync(file, bytes);
      const data = join(t.dir, 'data');
      const r = quiver(['add', 'docs', file, '--data', data, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { added: number }).added, 2);
      assert.match(r.stderr, /INVALID_JSON at .*docs\.jsonl:2/);
      assert.match(r.stderr, /INVALID_DOCUMENT at .*docs\.jsonl:3 field "text"/);
      assert.match(r.stderr, /docs\.jsonl:4/);
      assert.match(r.stderr, /INVALID_UTF8 at .*docs\.jsonl:6/);
      const search = JSON.parse(quiver(['search', 'docs', 'otters', '--json', '--data', data]).stdout) as {
        hits: { id: string }[];
      };
      assert.deepEqual(
        search.hits.map((h) => h.id),
        ['a'],
      );
      const rej = quiver(['add', 'strict', file, '--data', data, '--on-error', 'reject']);
      assert.equal(rej.code, 1);
      assert.match(rej.stdout, /1 documents added/);
      const empty = quiver(['search', 'docs', '  ', '--data', data]);
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /^quiver: error INVALID_QUERY at field "query": the query is empty/);
      const missing = quiver(['search', 'nope', 'x', '--data', data]);
      assert.match(missing.stderr, /COLLECTION_NOT_FOUND/);
      assert.match(quiver(['--help']).stdout, /Usage: quiver/);
      assert.match(quiver(['eval', 'beir', '--help']).stdout, /--mode/);
    } finally {
      t.cleanup();
    }
  });
});
