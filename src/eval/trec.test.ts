import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QuiverError } from '../errors.js';
import { evaluate } from './metrics.js';
import { readBeirQrels, readQrels, readRun, writeQrels, writeRun } from './trec.js';

const dir = mkdtempSync(join(tmpdir(), 'quiver-trec-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `f${n++}.txt`);
  writeFileSync(p, text);
  return p;
}
async function rejectsAt(p: Promise<unknown>, path: string, line: number, pattern: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof QuiverError, String(e));
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.deepEqual(e.location, { file: path, line });
    assert.match(e.message, pattern);
    return true;
  });
}

describe('TREC qrels', () => {
  it('reads whitespace-separated lines, skipping blank and # lines, with CRLF', async () => {
    const p = file('# judged by hand\nq1 0 d1 1\r\nq1\t0  d2 0\n\nq2 0 d1 2\n');
    assert.deepEqual(await readQrels(p), { q1: { d1: 1, d2: 0 }, q2: { d1: 2 } });
  });

  it('reports the line of a malformed entry', async () => {
    const p1 = file('q1 0 d1 1\nq1 0 d2\n');
    await rejectsAt(readQrels(p1), p1, 2, /expected 4 fields, found 3/);
    const p2 = file('q1 0 d1 1\nq1 0 d2 1 extra\n');
    await rejectsAt(readQrels(p2), p2, 2, /expected 4 fields, found 5/);
    const p3 = file('q1 0 d1 yes\n');
    await rejectsAt(readQrels(p3), p3, 1, /relevance "yes" is not an integer/);
    const p4 = file('q1 0 d1 0.5\n');
    await rejectsAt(readQrels(p4), p4, 1, /not an integer/);
    const p5 = file('q1 0 d1 1\nq2 0 d1 1\nq1 0 d1 0\n');
    await rejectsAt(readQrels(p5), p5, 3, /judged twice/);
  });

  it('a missing file is FILE_NOT_FOUND with the path', async () => {
    const p = join(dir, 'nope.txt');
    await assert.rejects(
      readQrels(p),
      (e: unknown) => e instanceof QuiverError && e.code === 'FILE_NOT_FOUND' && e.location.file === p,
    );
  });
});

describe('BEIR qrels TSV', () => {
  it('skips the header and reads tab-separated judgments', async () => {
    const p = file('query-id\tcorpus-id\tscore\n1\t31715818\t1\n1\t42\t0\n3\t14717500\t2\n');
    assert.deepEqual(await readBeirQrels(p), { '1': { '31715818': 1, '42': 0 }, '3': { '14717500': 2 } });
  });

  it('keeps the first line when it is a judgment (no header)', async () => {
    assert.deepEqual(await readBeirQrels(file('1\t2\t1\n')), { '1': { '2': 1 } });
  });

  it('reports malformed lines with file and line', async () => {
    const p1 = file('query-id\tcorpus-id\tscore\n1\t2\t1\n1 2 1\n');
    await rejectsAt(readBeirQrels(p1), p1, 3, /expected 3 tab-separated fields, found 1/);
    const p2 = file('query-id\tcorpus-id\tscore\n1\t2\tx\n');
    await rejectsAt(readBeirQrels(p2), p2, 2, /not an integer/);
    const p3 = file('query-id\tcorpus-id\tscore\n\t2\t1\n');
    await rejectsAt(readBeirQrels(p3), p3, 2, /empty query-id/);
  });
});

describe('TREC runs', () => {
  it('reads runs and ignores the rank column (trec_eval re-sorts by score)', async () => {
    // The file claims d1 is rank 1, but d2 has the higher score: trec_eval ranks d2 first.
    const p = file('q1 Q0 d1 1 0.5 tag\nq1 Q0 d2 2 0.9 tag\n');
    const run = await readRun(p);
    assert.deepEqual(run, { q1: { d1: 0.5, d2: 0.9 } });
    const m = evaluate({ q1: { d1: 1 } }, run);
    assert.equal(m.aggregate['recip_rank'], 1 / 2);
  });

  it('rejects a document listed twice for a query, like trec_eval', async () => {
    const p = file('q1 Q0 d1 1 0.9 t\nq2 Q0 d1 1 0.9 t\nq1 Q0 d1 2 0.5 t\n');
    await rejectsAt(readRun(p), p, 3, /d1 appears twice for query q1/);
  });

  it('reports malformed lines', async () => {
    const p1 = file('q1 Q0 d1 1 0.9\n');
    await rejectsAt(readRun(p1), p1, 1, /expected 6 fields, found 5/);
    const p2 = file('q1 Q0 d1 1 0.9 t\nq1 Q0 d2 2 NaN t\n');
    await rejectsAt(readRun(p2), p2, 2, /score "NaN" is not a finite number/);
  });

  it('writeRun writes trec_eval order with ranks from 1 and round-trips scores exactly', async () => {
    const p = join(dir, 'out.run');
    const run = { q2: { b: 0.1 + 0.2, a: 0.3 }, q1: { x: 1, y: 1, z: 2 } };
    await writeRun(p, run, 'mytag');
    assert.equal(
      readFileSync(p, 'utf8'),
      [
        'q1 Q0 z 1 2 mytag',
        'q1 Q0 y 2 1 mytag',
        'q1 Q0 x 3 1 mytag',
        'q2 Q0 b 1 0.30000000000000004 mytag',
        'q2 Q0 a 2 0.3 mytag',
        '',
      ].join('\n'),
    );
    assert.deepEqual(await readRun(p), run);
  });

  it('writeRun refuses what a TREC run cannot hold', async () => {
    const p = join(dir, 'bad.run');
    await assert.rejects(writeRun(p, { q: { a: 1 } }, 'two words'), QuiverError);
    await assert.rejects(writeRun(p, { q: { 'a b': 1 } }), QuiverError);
    await assert.rejects(writeRun(p, { q: { a: Number.NaN } }), QuiverError);
  });

  it('writeQrels round-trips', async () => {
    const p = join(dir, 'out.qrels');
    const qrels = { q1: { a: 1, b: 0 }, q2: { c: 2 } };
    await writeQrels(p, qrels);
    assert.deepEqual(await readQrels(p), qrels);
  });
});
