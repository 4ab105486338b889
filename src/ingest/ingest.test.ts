import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { openSqliteBackend } from '../store/sqlite/sqlite-backend.js';
import type { SqliteBackend } from '../store/sqlite/sqlite-backend.js';
import { DEFAULT_COLLECTION_CONFIG } from '../types.js';
import { ingestInto, openSource } from './index.js';

let dir: string;
let backend: SqliteBackend;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-ingest-'));
  backend = await openSqliteBackend(join(dir, 'data'));
});
after(async () => {
  await backend.close();
  await rm(dir, { recursive: true, force: true });
});

const lines = [
  '{"id":"a","text":"one"}',
  '{"id":"b","text":"two"}',
  '{"id":"c","text":"three"}',
  '{"id":"bad" "text":"x"}',
  '{"id":"d","text":"four"}',
  '{"id":"e"}',
  '{"id":"f","text":"six"}',
];

describe('ingestInto', () => {
  it('skip: writes every good record in batches and reports each bad one', async () => {
    const p = join(dir, 'mixed.jsonl');
    await writeFile(p, lines.join('\n'));
    const store = await backend.createCollection('skip', DEFAULT_COLLECTION_CONFIG);
    const progress: [number, number][] = [];
    const res = await ingestInto(store, openSource({ path: p }), {
      batchSize: 2,
      onError: 'skip',
      onProgress: (added, skipped) => progress.push([added, skipped]),
    });
    assert.equal(res.added, 5);
    assert.equal(res.skipped, 2);
    assert.equal(res.stopped, false);
    assert.deepEqual(
      res.problems.map((e) => [e.code, e.location.line, e.location.field ?? null]),
      [
        ['INVALID_JSON', 4, null],
        ['INVALID_DOCUMENT', 6, 'text'],
      ],
    );
    assert.equal(await store.count(), 5);
    assert.equal(progress.at(-1)![0], 5, 'progress is cumulative');
    assert.ok(progress.every(([a], i) => i === 0 || a > progress[i - 1]![0]));
    // Batches of 2: a, b | c, d | f → three atomic writes, three seqs.
    assert.equal(await store.headSeq(), 3);
  });

  it('reject: stops at the first bad record; what came before stays, nothing after is written', async () => {
    const p = join(dir, 'mixed2.jsonl');
    await writeFile(p, lines.join('\n'));
    const store = await backend.createCollection('reject', DEFAULT_COLLECTION_CONFIG);
    const res = await ingestInto(store, openSource({ path: p }), { batchSize: 2, onError: 'reject' });
    assert.equal(res.stopped, true);
    assert.equal(res.added, 3);
    assert.equal(res.problems.length, 1);
    assert.equal(res.problems[0]!.location.line, 4);
    assert.deepEqual(
      (await store.list({ limit: 10 })).docs.map((d) => d.id),
      ['a', 'b', 'c'],
    );
  });

  it('streams a large JSONL file into the store in bounded memory', { timeout: 60_000 }, async (t) => {
    // ~300 MB: enough that reading it whole (or holding its documents) would show in RSS.
    const p = join(dir, 'large.jsonl');
    const out = createWriteStream(p);
    const body = 'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(36);
    const docs = 150_000;
    for (let i = 0; i < docs; i++) {
      if (
        !out.write(
          `${JSON.stringify({ id: `doc-${i}`, title: `Title ${i}`, text: `${i} ${body}`, year: 2000 + (i % 20) })}\n`,
        )
      ) {
        await once(out, 'drain');
      }
    }
    out.end();
    await once(out, 'finish');
    const size = (await stat(p)).size;
    assert.ok(size > 280 * 2 ** 20, `file is ${size} bytes`);

    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let written = 0;
    const started = Date.now();
    // A sink that acknowledges without keeping documents, so only the source's memory is measured;
    // the SQLite path is exercised by the tests above.
    const res = await ingestInto(
      {
        upsert: async (batch) => {
          written += batch.length;
          peak = Math.max(peak, process.memoryUsage().rss);
        },
      },
      openSource({ path: p }),
      { batchSize: 500 },
    );
    assert.equal(res.added, docs);
    assert.equal(written, docs);
    assert.equal(res.problems.length, 0);
    const growthMb = (peak - baseline) / 2 ** 20;
    t.diagnostic(
      `${(size / 2 ** 20).toFixed(0)} MB in ${Date.now() - started} ms, RSS growth ${growthMb.toFixed(1)} MB`,
    );
    assert.ok(
      growthMb < 100,
      `RSS grew by ${growthMb.toFixed(1)} MB for a ${(size / 2 ** 20).toFixed(0)} MB file`,
    );
  });
});
