/**
 * `quiver ids` on a collection, as a person runs it: fit and store the IDs, export them (JSONL and
 * TSV), browse the code tree, and the error lines for bad input. Runs the sources (not dist/), so
 * it tests this checkout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, SCIFACT, tempDir } from '../src/testing/paths.js';

function quiver(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 240_000,
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('quiver ids on a collection', () => {
  const t = tempDir();
  const data = join(t.dir, 'data');
  const ids = readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 300)
    .map((l) => (JSON.parse(l) as { _id: string })._id);

  before(() => {
    const beir = join(t.dir, 'beir');
    mkdirSync(beir);
    writeFileSync(
      join(beir, 'corpus.jsonl'),
      readFileSync(join(SCIFACT, 'corpus.jsonl'), 'utf8').trim().split('\n').slice(0, 300).join('\n') + '\n',
    );
    const add = quiver([
      'add',
      'sf',
      join(beir, 'corpus.jsonl'),
      '--model',
      'static:glove-100',
      '--data',
      data,
      '--json',
    ]);
    assert.equal(add.code, 0, add.stderr);
  });
  after(() => t.cleanup());

  it('fits IDs with the collection, exports them as JSONL and TSV, and browses the tree', () => {
    const fit = quiver([
      'ids',
      'fit',
      '--collection',
      'sf',
      '--levels',
      '2',
      '--codes',
      '8',
      '--json',
      '--data',
      data,
    ]);
    assert.equal(fit.code, 0, fit.stderr);
    const r = JSON.parse(fit.stdout) as {
      documents: number;
      utilisation: number[];
      collision_rate: number;
      balanced: boolean;
    };
    assert.equal(r.documents, 300);
    assert.equal(r.balanced, true);
    assert.equal(r.utilisation.length, 2);
    assert.ok(r.utilisation[0]! > 0.95, `utilisation ${r.utilisation[0]}`);

    const exp = quiver(['ids', 'export', '--collection', 'sf', '--data', data]);
    assert.equal(exp.code, 0, exp.stderr);
    const rows = exp.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; code: number[] });
    assert.deepEqual(rows.map((x) => x.id).sort(), [...ids].sort());
    assert.ok(
      rows.every((x) => x.code.length === 2 && x.code.every((c) => Number.isInteger(c) && c >= 0 && c < 8)),
    );
    // Balanced: no level-1 code holds more than ⌈300 / 8⌉ documents.
    const load = new Map<number, number>();
    for (const x of rows) load.set(x.code[0]!, (load.get(x.code[0]!) ?? 0) + 1);
    assert.ok(Math.max(...load.values()) <= Math.ceil(300 / 8));

    const out = join(t.dir, 'ids.tsv');
    const tsv = quiver([
      'ids',
      'export',
      '--collection',
      'sf',
      '--format',
      'tsv',
      '--out',
      out,
      '--data',
      data,
    ]);
    assert.equal(tsv.code, 0, tsv.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, 300);
    const byId = new Map(rows.map((x) => [x.id, x.code.join('.')]));
    for (const l of lines) {
      const [id, code] = l.split('\t');
      assert.equal(byId.get(id!), code, 'TSV and JSONL agree');
    }

    const tree = quiver(['ids', 'tree', 'sf', '--json', '--data', data]);
    assert.equal(tree.code, 0, tree.stderr);
    const root = JSON.parse(tree.stdout) as { total: number; children: { code: number[]; count: number }[] };
    assert.equal(root.total, 300);
    assert.equal(
      root.children.reduce((n, c) => n + c.count, 0),
      300,
    );
    const first = root.children[0]!;
    assert.equal(first.count, load.get(first.code[0]!));
    const text = quiver(['ids', 'tree', 'sf', String(first.code[0]), '--data', data]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`${first.count} documents under ${first.code[0]}`));
  });

  it('reports bad input as one error line with its field', () => {
    const none = quiver(['ids', 'fit', '--data', data]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /INVALID_ARGUMENT.*--collection/);
    const prefix = quiver(['ids', 'tree', 'sf', '99.x', '--data', data]);
    assert.equal(prefix.code, 1);
    assert.match(prefix.stderr, /INVALID_ARGUMENT at field "prefix"/);
    const range = quiver(['ids', 'tree', 'sf', '99', '--data', data]);
    assert.equal(range.code, 1);
    assert.match(range.stderr, /INVALID_ARGUMENT at field "prefix".*\[0, 7\]/);
    const fmt = quiver(['ids', 'export', '--collection', 'sf', '--format', 'xml', '--data', data]);
    assert.match(fmt.stderr, /field "format"/);
    const missing = quiver(['ids', 'export', '--collection', 'nope', '--data', data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /COLLECTION_NOT_FOUND/);
  });
});
