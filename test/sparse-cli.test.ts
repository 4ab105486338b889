/**
 * The command line with a learned-sparse field: `quiver init --sparse`, JSONL ingest carrying each
 * record's "sparse" object, `quiver search --mode sparse --sparse-query`, explain, stats, and bad
 * input answered with the field.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, tempDir } from '../src/testing/paths.js';
import { SPARSE_DOCS } from './sparse-scenario.js';

/** Run the CLI from the sources (a built dist/ may predate them). */
function quiver(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('quiver CLI with a sparse field', () => {
  it('creates, ingests, searches in sparse mode with explain, and reports bad input', () => {
    const t = tempDir();
    try {
      const data = ['--data', t.dir];
      const init = quiver(['init', 'sp', '--sparse', 'splade', '--json', ...data]);
      assert.equal(init.code, 0, init.stderr);
      assert.deepEqual(JSON.parse(init.stdout).sparseFields, [
        { name: 'splade', model: 'user', passages: 0, terms: 0 },
      ]);
      const file = join(t.dir, 'docs.jsonl');
      writeFileSync(file, SPARSE_DOCS.map((d) => JSON.stringify(d)).join('\n') + '\n');
      const add = quiver(['add', 'sp', file, '--json', ...data]);
      assert.equal(add.code, 0, add.stderr);
      assert.equal(JSON.parse(add.stdout).added, SPARSE_DOCS.length);

      const q = JSON.stringify({ caffeine: 2, fermentation: 1 });
      const res = quiver([
        'search',
        'sp',
        'hot',
        'drinks',
        '--mode',
        'sparse',
        '--sparse-query',
        q,
        '--json',
        ...data,
      ]);
      assert.equal(res.code, 0, res.stderr);
      const out = JSON.parse(res.stdout) as { mode: string; hits: { id: string; score: number }[] };
      assert.equal(out.mode, 'sparse');
      assert.deepEqual(
        out.hits.map((h) => h.id),
        ['coffee', 'kombucha', 'bread'],
      ); // 3.6, 3.2, 1.9
      assert.ok(Math.abs(out.hits[0]!.score - 3.6) < 1e-5);
      const explained = quiver([
        'search',
        'sp',
        'x',
        '--mode',
        'sparse',
        '--sparse-query',
        q,
        '--explain',
        ...data,
      ]);
      assert.equal(explained.code, 0, explained.stderr);
      assert.match(explained.stdout, /sparse:splade terms: caffeine=3\.600/);
      const stats = quiver(['stats', 'sp', ...data]);
      assert.match(stats.stdout, /splade:user \(5\)/);
      // The stored vectors come back with the document.
      const got = JSON.parse(quiver(['get', 'sp', 'coffee', ...data]).stdout) as { sparse: unknown }[];
      assert.deepEqual(got[0]!.sparse, SPARSE_DOCS[3]!.sparse);

      const noQuery = quiver(['search', 'sp', 'x', '--mode', 'sparse', ...data]);
      assert.notEqual(noQuery.code, 0);
      assert.match(noQuery.stderr, /INVALID_ARGUMENT.*sparseQuery/s);
      const badJson = quiver([
        'search',
        'sp',
        'x',
        '--mode',
        'sparse',
        '--sparse-query',
        '{caffeine: 1}',
        ...data,
      ]);
      assert.notEqual(badJson.code, 0);
      assert.match(badJson.stderr, /--sparse-query must be JSON/);
      const negative = quiver([
        'search',
        'sp',
        'x',
        '--mode',
        'sparse',
        '--sparse-query',
        '{"caffeine": -1}',
        ...data,
      ]);
      assert.notEqual(negative.code, 0);
      assert.match(negative.stderr, /sparseQuery\.caffeine is negative/);
      const badName = quiver(['init', 'bad', '--sparse', 'no good', ...data]);
      assert.notEqual(badName.code, 0);
      assert.match(badName.stderr, /INVALID_CONFIG.*sparse field names/s);
    } finally {
      t.cleanup();
    }
  });
});
