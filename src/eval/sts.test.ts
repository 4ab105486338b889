import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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
    // Hand-computed: no ties, Σd² = 4 → 1 − 6·4/(5·24) = 0.8.
    close(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.8);
    // Ties: ranks [1, 2.5, 2.5, 4] vs [1, 3, 2, 4] → 4.5 / √(4.5 · 5).
    close(spearman([1, 2, 2, 3], [10, 30, 20, 40]), 4.5 / Math.sqrt(4.5 * 5));
    // Pearson: deviations [−1, 0, 1] and [−4/3, −1/3, 5/3] → 3 / √(2 · 42/9).
    close(pearson([1, 2, 3], [1, 2, 4]), 3 / Math.sqrt((2 * 42) / 9));
    assert.equal(pearson([1, 1, 1], [1, 2, 3]), 0, 'a constant side has no correlation, not NaN');
  });

  it('reads every STS layout, a folder recursively, and names the line of a malformed record', async () => {
    const t = tempDir();
    try {
      mkdirSync(join(t.dir, 'stsbenchmark'));
      mkdirSync(join(t.dir, 'multi', 'deep'), { recursive: true });
      writeFileSync(
        join(t.dir, 'stsbenchmark', 'test.jsonl'),
        '{"sentence1":"a","sentence2":"b","score":2.5}\n\n',
      );
      writeFileSync(
        join(t.dir, 'multi', 'deep', 'stsb-xx-test.csv'),
        'sentence1,sentence2,score\n"a, quoted",b,3.0\r\n"say ""hi""",c,1\n',
      );
      writeFileSync(join(t.dir, 'multi', 'sts-test.csv'), 'g\tf\t2012\t1\t4.2\tone\ttwo\n');
      writeFileSync(join(t.dir, 'notes.txt'), 'not an STS file\n');
      const files = await loadSts(t.dir);
      assert.deepEqual(
        files.map((f) => [f.file.slice(t.dir.length + 1), f.pairs]),
        [
          [
            join('multi', 'deep', 'stsb-xx-test.csv'),
            [
              { a: 'a, quoted', b: 'b', score: 3 },
              { a: 'say "hi"', b: 'c', score: 1 },
            ],
          ],
          [join('multi', 'sts-test.csv'), [{ a: 'one', b: 'two', score: 4.2 }]],
          [join('stsbenchmark', 'test.jsonl'), [{ a: 'a', b: 'b', score: 2.5 }]],
        ],
      );
      assert.deepEqual(parseCsvLine('"a ""x"", y",b,1'), ['a "x", y', 'b', '1']);

      const bad = (name: string, text: string) => {
        const p = join(t.dir, name);
        writeFileSync(p, text);
        return p;
      };
      const cases: [string, number, string][] = [
        [
          bad('bad.jsonl', '{"sentence1":"a","sentence2":"b","score":1}\n{"sentence1":"a"}\n'),
          2,
          'INVALID_ARGUMENT',
        ],
        [
          bad('broken.jsonl', '{"sentence1":"a","sentence2":"b","score":1}\n\n{not json\n'),
          3,
          'INVALID_JSON',
        ],
        [
          bad('bad-sts-test.csv', 'g\tf\t2012\t1\t4.2\tone\ttwo\ng\tf\t2012\t2\thigh\tone\ttwo\n'),
          2,
          'INVALID_ARGUMENT',
        ],
        [
          bad('stsb-bad-test.csv', 'sentence1,sentence2,score\na,b,1\nonly two,fields\n'),
          3,
          'INVALID_ARGUMENT',
        ],
        [bad('stsb-nan-test.csv', 'a,b,1\na,b,high\n'), 2, 'INVALID_ARGUMENT'],
      ];
      for (const [file, line, code] of cases) {
        await assert.rejects(loadSts(file), (e: QuiverError) => {
          assert.equal(e.code, code, file);
          assert.equal(e.location.file, file);
          assert.equal(e.location.line, line, file);
          return true;
        });
      }
      await assert.rejects(loadSts(join(t.dir, 'nope')), (e: QuiverError) => e.code === 'FILE_NOT_FOUND');
    } finally {
      t.cleanup();
    }
  });

  it('reads columns by header name in any order, gzipped JSONL, a BOM, and tab-separated exports', async () => {
    const t = tempDir();
    try {
      const write = (name: string, data: string | Buffer) => {
        const p = join(t.dir, name);
        writeFileSync(p, data);
        return p;
      };
      const one = async (p: string) => (await loadSts(p)).flatMap((f) => f.pairs);
      // SICK's own layout: named columns, extra ones, the score not last.
      assert.deepEqual(
        await one(
          write(
            'SICK.txt',
            'pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\tSemEval_set\n' +
              '1\tkids play\tboys play\tNEUTRAL\t4.5\tTRAIN\n2\ta dog\ta cat\tNEUTRAL\t2\tTEST\n',
          ),
        ),
        [
          { a: 'kids play', b: 'boys play', score: 4.5 },
          { a: 'a dog', b: 'a cat', score: 2 },
        ],
      );
      // A CSV export with the score first, and a gzipped JSONL whose keys differ in case.
      assert.deepEqual(await one(write('pairs.csv', '\uFEFFscore,sentence2,sentence1\n3,"b, c",a\n')), [
        { a: 'a', b: 'b, c', score: 3 },
      ]);
      assert.deepEqual(
        await one(
          write(
            'test.jsonl.gz',
            gzipSync('\uFEFF{"Sentence_A":"x","Sentence_B":"y","relatedness_score":"1.5"}\n'),
          ),
        ),
        [{ a: 'x', b: 'y', score: 1.5 }],
      );
      assert.deepEqual(await one(write('test.tsv', 'sentence1\tsentence2\tscore\nu\tv\t0\n')), [
        { a: 'u', b: 'v', score: 0 },
      ]);
      const cases: [string, number, RegExp][] = [
        [write('short.tsv', 'sentence1\tsentence2\tscore\nu\tv\n'), 2, /3 fields as named/],
        [write('word.tsv', 'sentence_A\tscore\tsentence_B\nu\thigh\tv\n'), 2, /"high" is not a number/],
        [write('unnamed.tsv', 'left\tright\tgenre\tsim\nu\tv\tx\t1\n'), 1, /header row must name/],
        [
          write('empty-score.jsonl', '{"sentence1":"a","sentence2":"b","score":null}\n'),
          1,
          /numeric "score"/,
        ],
      ];
      for (const [file, line, message] of cases) {
        await assert.rejects(loadSts(file), (e: QuiverError) => {
          assert.equal(e.code, 'INVALID_ARGUMENT', file);
          assert.equal(e.location.line, line, file);
          assert.match(e.message, message);
          return true;
        });
      }
      await assert.rejects(loadSts(write('broken.jsonl.gz', 'not gzip')), (e: QuiverError) => {
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.match(e.message, /not valid gzip/);
        return true;
      });
    } finally {
      t.cleanup();
    }
  });

  it('reads the SemEval SICK file as released and agrees with its JSONL export pair for pair', async () => {
    const dir = join(SHARED, 'datasets', 'sts', 'sick-r');
    const [raw] = await loadSts(join(dir, 'SICK_semeval2014_all.txt'));
    const [jsonl] = await loadSts(join(dir, 'test.jsonl'));
    assert.equal(raw!.pairs.length, 9927);
    assert.deepEqual(raw!.pairs, jsonl!.pairs);
  });

  it('correlates cosine with gold scores through a real embedder', async () => {
    const e = await createStaticEmbedder('static:glove-100');
    const pairs = [
      { a: 'a man is playing a guitar', b: 'a man plays the guitar', score: 5 },
      { a: 'a woman is slicing an onion', b: 'a woman is cutting an onion', score: 4.5 },
      { a: 'a dog runs in the park', b: 'a cat sleeps on the sofa', score: 1.5 },
      { a: 'the stock market fell today', b: 'a child is eating ice cream', score: 0 },
    ];
    const r = await evaluateSts(pairs, e, { batchSize: 3 });
    assert.equal(r.pairs, 4);
    assert.ok(r.spearman > 0.7, `spearman ${r.spearman}`);
    assert.ok(r.pearson > 0.5 && r.pearson <= 1, `pearson ${r.pearson}`);
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
