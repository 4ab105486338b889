import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { QuiverError } from '../errors.js';
import { SCIFACT as scifact, tempDir } from '../testing/paths.js';
import { runBeirEval } from './beir-eval.js';

describe('BEIR evaluation on gzipped dataset files', () => {
  it('scores corpus.jsonl.gz + queries.jsonl.gz exactly as the plain files', async () => {
    const t = tempDir();
    try {
      // A real slice of SciFact: the first 1,500 documents and the judgments that point into them.
      const corpus = readFileSync(join(scifact, 'corpus.jsonl'), 'utf8').split('\n').slice(0, 1500);
      const ids = new Set(corpus.map((l) => (JSON.parse(l) as { _id: string })._id));
      const qrels = readFileSync(join(scifact, 'qrels', 'test.tsv'), 'utf8')
        .split('\n')
        .filter((l, i) => i === 0 || ids.has(l.split('\t')[1] ?? ''));
      const queries = readFileSync(join(scifact, 'queries.jsonl'), 'utf8');
      const plain = join(t.dir, 'plain');
      const gz = join(t.dir, 'gz');
      for (const dir of [plain, gz]) {
        mkdirSync(join(dir, 'qrels'), { recursive: true });
        writeFileSync(join(dir, 'qrels', 'test.tsv'), qrels.join('\n'));
      }
      writeFileSync(join(plain, 'corpus.jsonl'), corpus.join('\n'));
      writeFileSync(join(plain, 'queries.jsonl'), queries);
      writeFileSync(join(gz, 'corpus.jsonl.gz'), gzipSync(corpus.join('\n')));
      writeFileSync(join(gz, 'queries.jsonl.gz'), gzipSync(queries));

      const a = await runBeirEval({ dataset: plain });
      const b = await runBeirEval({ dataset: gz });
      assert.ok(a.queries > 20, `enough judged queries in the slice (${a.queries})`);
      assert.ok(a.metrics['ndcg@10']! > 0.5, 'BM25 finds the judged documents');
      assert.deepEqual(b.metrics, a.metrics);
      assert.deepEqual(b.run, a.run);

      // A damaged archive is an error naming the file, not a crash or an empty corpus.
      writeFileSync(join(gz, 'corpus.jsonl.gz'), gzipSync(corpus.join('\n')).subarray(0, 5000));
      await assert.rejects(runBeirEval({ dataset: gz }), (e: QuiverError) => {
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.match(e.message, /not valid gzip/);
        assert.equal(e.location.file, join(gz, 'corpus.jsonl.gz'));
        return true;
      });
    } finally {
      t.cleanup();
    }
  });
});
