import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createStaticEmbedder } from '../embed/static/index.js';
import { QuiverError } from '../errors.js';
import { SHARED, tempDir } from '../testing/paths.js';
import { evaluateSts, loadSts, parseCsvLine, pearson, ranks, spearman } from './sts.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

describe('STS', () => {
  it('computes Pearson and Spearman (average ranks for ties) by hand', () => {
    close(pearson([1, 2, 3], [2, 4, 6]), 1);
    close(pearson([1, 2, 3], [3, 2, 1]), -1);
    assert.deepEqual(ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
    // x ranks [1,2,3,4], y ranks [1,2.5,2.5,4]: Pearson of those.
    close(spearman([1, 2, 3, 4], [5, 7, 7, 9]), pearson([1, 2, 3, 4], [1, 2.5, 2.5, 4]));
    close(spearman([1, 2, 3], [1, 4, 9]), 1);
  });

  it('reads every STS layout and names the line of a malformed record', async () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.dir, 'test.jsonl'), '{"sentence1":"a","sentence2":"b","score":2.5}\n');
      writeFileSync(join(t.dir, 'stsb-xx-test.csv'), 'sentence1,sentence2,score\n"a, quoted",b,3.0\n');
      writeFileSync(join(t.dir, 'sts-test.csv'), 'g\tf\t2012\t1\t4.2\tone\ttwo\n');
      const files = await loadSts(t.dir);
      assert.deepEqual(
        files.map((f) => f.pairs.length),
        [1, 1, 1].slice(0, files.length),
      );
      assert.deepEqual(parseCsvLine('"a ""x"", y",b,1'), ['a "x", y', 'b', '1']);
      writeFileSync(
        join(t.dir, 'bad.jsonl'),
        '{"sentence1":"a","sentence2":"b","score":1}\n{"sentence1":"a"}\n',
      );
      await assert.rejects(loadSts(join(t.dir, 'bad.jsonl')), (e: QuiverError) => e.location.line === 2);
    } finally {
      t.cleanup();
    }
  });

  it('scores STSBenchmark with static vectors in the measured band', async () => {
    const [file] = await loadSts(join(SHARED, 'datasets', 'sts', 'stsbenchmark', 'test.jsonl'));
    const e = await createStaticEmbedder('static:glove-100');
    await e.fit(file!.pairs.flatMap((p) => [p.a, p.b]));
    const r = await evaluateSts(file!.pairs, e);
    assert.equal(r.pairs, 1379);
    assert.ok(r.spearman > 0.63 && r.spearman < 0.7, `spearman ${r.spearman} (measured 0.6657)`);
  });
});
