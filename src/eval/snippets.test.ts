import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isQuiverError } from '../errors.js';
import { SCIFACT, tempDir } from '../testing/paths.js';
import { evaluateSnippets } from './snippets.js';

describe('snippet evaluation on SciFact rationales', () => {
  it('scores every (claim, gold abstract) pair, beats the lead baseline and reports latency per result', async () => {
    const r = await evaluateSnippets(SCIFACT);
    const lines = readFileSync(join(SCIFACT, 'rationales.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim()).length;
    assert.equal(r.pairs, lines);
    for (const k of ['hit@1', 'recall@3', 'lead_hit@1'] as const) assert.ok(r[k] >= 0 && r[k] <= 1, k);
    assert.ok(r['hit@1'] > r['lead_hit@1'] + 0.2, `query-aware ${r['hit@1']} vs lead ${r['lead_hit@1']}`);
    assert.ok(r['recall@3'] >= r['hit@1'] - 0.2);
    const { p50, p99, mean } = r.latency_ms;
    assert.ok(p50 > 0 && p50 <= p99, `p50 ${p50} p99 ${p99}`);
    assert.ok(mean > 0 && Number.isFinite(mean));
  });

  it('names the missing rationales file and the bad line', async () => {
    const t = tempDir();
    try {
      await assert.rejects(
        evaluateSnippets(t.dir),
        (e: unknown) => isQuiverError(e) && e.code === 'FILE_NOT_FOUND',
      );
      writeFileSync(join(t.dir, 'rationales.jsonl'), '{"query_id": "1"}\n{oops\n');
      await assert.rejects(
        evaluateSnippets(t.dir),
        (e: unknown) => isQuiverError(e) && e.code === 'INVALID_JSON' && e.location.line === 2,
      );
    } finally {
      t.cleanup();
    }
  });
});
