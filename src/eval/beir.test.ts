import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { beirCorpusPath, beirSplits, loadBeirQueries } from './beir.js';

const scifact = fileURLToPath(new URL('../../../shared/datasets/scifact', import.meta.url));

function dataset(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-beir-'));
  mkdirSync(join(dir, 'qrels'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const isErr = (code: string, re: RegExp, extra?: (e: QuiverError) => boolean) => (e: unknown) =>
  e instanceof QuiverError && e.code === code && re.test(e.message) && (extra?.(e) ?? true);

describe('BEIR loading', () => {
  it('loads SciFact test: 300 judged queries, 339 judgments', async () => {
    const { queries, qrels } = await loadBeirQueries(scifact, 'test');
    assert.equal(queries.length, 300);
    assert.equal(
      Object.values(qrels).reduce((s, q) => s + Object.keys(q).length, 0),
      339,
    );
    assert.deepEqual(queries.map((q) => q.id).sort(), Object.keys(qrels).sort());
    const q1 = queries.find((q) => q.id === '1')!;
    assert.match(q1.text, /\w/);
    assert.deepEqual(beirSplits(scifact), ['test', 'train']);
    assert.ok(beirCorpusPath(scifact).endsWith('corpus.jsonl'));
  });

  it('restricts queries to those judged in the split', async () => {
    const dir = dataset({
      'queries.jsonl': '{"_id":"a","text":"alpha"}\n{"_id":"b","text":"beta"}\n{"_id":"c","text":"gamma"}\n',
      'qrels/dev.tsv': 'query-id\tcorpus-id\tscore\nb\td1\t1\n',
    });
    const { queries, qrels } = await loadBeirQueries(dir, 'dev');
    assert.deepEqual(queries, [{ id: 'b', text: 'beta' }]);
    assert.deepEqual(qrels, { b: { d1: 1 } });
  });

  it('explains a missing split with the splits that exist', async () => {
    const dir = dataset({ 'queries.jsonl': '', 'qrels/test.tsv': 'query-id\tcorpus-id\tscore\n' });
    await assert.rejects(
      loadBeirQueries(dir, 'train'),
      isErr('FILE_NOT_FOUND', /no qrels\/train\.tsv.*available splits: test/),
    );
  });

  it('explains a missing queries.jsonl, corpus.jsonl or folder', async () => {
    const dir = dataset({ 'qrels/test.tsv': 'query-id\tcorpus-id\tscore\na\td\t1\n' });
    await assert.rejects(
      loadBeirQueries(dir, 'test'),
      isErr('FILE_NOT_FOUND', /no queries\.jsonl/, (e) => e.location.file === join(dir, 'queries.jsonl')),
    );
    assert.throws(() => beirCorpusPath(dir), isErr('FILE_NOT_FOUND', /no corpus\.jsonl/));
    await assert.rejects(
      loadBeirQueries(join(dir, 'nope')),
      isErr('FILE_NOT_FOUND', /no BEIR dataset folder/),
    );
  });

  it('reports bad query lines and judged queries without text', async () => {
    const bad = dataset({
      'queries.jsonl': '{"_id":"a","text":"x"}\n{oops\n',
      'qrels/test.tsv': 'query-id\tcorpus-id\tscore\na\td\t1\n',
    });
    await assert.rejects(
      loadBeirQueries(bad),
      isErr('INVALID_JSON', /invalid JSON/, (e) => e.location.line === 2),
    );
    const noText = dataset({
      'queries.jsonl': '{"_id":"a"}\n',
      'qrels/test.tsv': 'query-id\tcorpus-id\tscore\na\td\t1\n',
    });
    await assert.rejects(
      loadBeirQueries(noText),
      isErr('INVALID_ARGUMENT', /string "_id" and a string "text"/, (e) => e.location.line === 1),
    );
    const missing = dataset({
      'queries.jsonl': '{"_id":"a","text":"x"}\n',
      'qrels/test.tsv': 'query-id\tcorpus-id\tscore\na\td\t1\nz\td\t1\n',
    });
    await assert.rejects(
      loadBeirQueries(missing),
      isErr('INVALID_ARGUMENT', /1 query judged in qrels\/test\.tsv is not in queries\.jsonl: z/),
    );
  });
});
