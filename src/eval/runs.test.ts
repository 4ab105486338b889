import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { formatMetricsTable } from './report.js';
import { EvalRunLog, type EvalRunRecord } from './runs.js';

const record = (id: string, ndcg: number): EvalRunRecord => ({
  id,
  createdAt: '2024-01-01T00:00:00.000Z',
  dataset: 'scifact',
  split: 'test',
  mode: 'hybrid',
  method: 'bm25 + static (dbsf)',
  store: 'sqlite',
  metrics: { 'ndcg@10': ndcg },
  queries: 300,
  config: { fusion: { method: 'dbsf' } },
});

describe('EvalRunLog', () => {
  it('appends records as JSONL in the data directory (created if needed) and lists them in order', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'quiver-runs-')), 'data');
    const log = new EvalRunLog(dir);
    assert.deepEqual(await log.list(), []);
    await log.append(record('a', 0.5));
    await log.append(record('b', 0.6));
    assert.deepEqual(
      (await log.list()).map((r) => r.id),
      ['a', 'b'],
    );
    assert.deepEqual((await log.list())[0], record('a', 0.5));
    assert.equal(readFileSync(join(dir, 'eval-runs.jsonl'), 'utf8').split('\n').length, 3);
  });

  it('ignores a torn last line, and the next append is not swallowed by it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quiver-runs-'));
    const log = new EvalRunLog(dir);
    await log.append(record('a', 0.5));
    appendFileSync(join(dir, 'eval-runs.jsonl'), '{"id":"torn","createdAt":"2024'); // crash mid-write
    assert.deepEqual(
      (await log.list()).map((r) => r.id),
      ['a'],
    );
    await log.append(record('c', 0.7));
    assert.deepEqual(
      (await log.list()).map((r) => r.id),
      ['a', 'c'],
    );
  });

  it('refuses records that JSON or the UI cannot use', async () => {
    const log = new EvalRunLog(mkdtempSync(join(tmpdir(), 'quiver-runs-')));
    await assert.rejects(
      log.append({ ...record('x', 0.1), metrics: { 'ndcg@10': Number.NaN } }),
      QuiverError,
    );
    await assert.rejects(log.append({ id: 'x' } as unknown as EvalRunRecord), QuiverError);
    assert.deepEqual(await log.list(), []);
  });
});

describe('formatMetricsTable', () => {
  it('aligns text left and numbers right, integers without decimals', () => {
    const t = formatMetricsTable([
      { method: 'bm25', 'ndcg@10': 0.67891, queries: 300 },
      { method: 'hybrid (dbsf)', 'ndcg@10': 0.7, queries: 300 },
    ]);
    assert.equal(
      t,
      [
        'method         ndcg@10  queries',
        '-------------  -------  -------',
        'bm25            0.6789      300',
        'hybrid (dbsf)   0.7000      300',
      ].join('\n'),
    );
  });

  it('shows percentages, chosen columns and missing cells', () => {
    const t = formatMetricsTable([{ m: 'a', x: 0.123456 }, { m: 'b' }], {
      percent: true,
      columns: ['m', 'x'],
    });
    assert.equal(t, ['m      x', '-  -----', 'a  12.35', 'b      -'].join('\n'));
    assert.equal(formatMetricsTable([]), '');
  });
});
