import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createProgress } from './progress.js';

function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 });
  let out = '';
  stream.on('data', (b: Buffer) => (out += b.toString()));
  return { stream, read: () => out };
}

describe('createProgress without a terminal', () => {
  it('prints plain lines with count, total, rate and ETA, and a summary at the end', () => {
    const { stream, read } = capture(false);
    const p = createProgress({ label: 'adding to docs', total: 10, unit: 'docs', stream, interval: 0 });
    p.tick(3);
    p.tick(2);
    p.done('5 added, 0 skipped');
    const lines = read().trim().split('\n');
    assert.match(lines[0]!, /^adding to docs: 3\/10 docs \([\d.]+\/s, ETA \d+ s\)$/);
    assert.match(lines[1]!, /^adding to docs: 5\/10 docs/);
    assert.equal(lines.at(-1), 'adding to docs: 5 added, 0 skipped');
    assert.doesNotMatch(read(), /\x1b\[/, 'no terminal escape codes in logs');
  });

  it('stays quiet between intervals and reports once at the end', () => {
    const { stream, read } = capture(false);
    const p = createProgress({ label: 'eval', unit: 'queries', stream });
    for (let i = 0; i < 1000; i++) p.tick();
    assert.equal(read(), '');
    p.setTotal(2000);
    p.update(1500);
    p.done();
    assert.match(read(), /^eval: 1500\/2000 queries \([\d.]+\/s, ETA \d+ s\)\n$/);
  });

  it('never draws a bar on a stream that is not a terminal', () => {
    const { stream, read } = capture(false);
    const p = createProgress({ label: 'x', total: 3, stream });
    p.tick(3);
    p.done();
    assert.doesNotMatch(read(), /\|/);
  });

  it('prints nothing at the end when nothing happened', () => {
    const { stream, read } = capture(false);
    createProgress({ label: 'idle', stream }).done();
    assert.equal(read(), '');
  });
});

describe('createProgress on a terminal', () => {
  it('draws a bar with the count and rate', () => {
    const { stream, read } = capture(true);
    const p = createProgress({ label: 'indexing', total: 4, unit: 'docs', stream, plain: false });
    p.tick(2);
    p.tick(2);
    p.done('4 added');
    const out = read();
    assert.match(out, /indexing \|[^|]*\| 4\/4 docs · [\d.]+\/s/);
    assert.match(out, /indexing: 4 added\n$/);
  });
});
