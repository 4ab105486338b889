/**
 * TREC file formats: qrels (`qid iter docid rel`), runs (`qid Q0 docid rank score tag`), and BEIR's
 * qrels TSV (`query-id corpus-id score` with a header). Malformed lines are errors with file:line.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { QuiverError } from '../errors.js';
import { readLines } from '../ingest/sources.js';
import type { Qrels, Run } from './metrics.js';
import { rankDocuments } from './metrics.js';

async function* lines(path: string): AsyncIterable<{ line: number; text: string }> {
  let stream;
  try {
    stream = createReadStream(path);
    for await (const { line, bytes } of readLines(stream)) {
      const text = bytes.toString('utf8').replace(/\r$/, '');
      if (text.trim() === '') continue;
      yield { line, text };
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new QuiverError('FILE_NOT_FOUND', `no such file: ${path}`, { location: { file: path } });
    }
    throw e;
  }
}

export async function readQrels(path: string): Promise<Qrels> {
  const qrels: Qrels = {};
  for await (const { line, text } of lines(path)) {
    const f = text.trim().split(/\s+/);
    const rel = Number(f[3]);
    if (f.length < 4 || !Number.isFinite(rel)) {
      throw new QuiverError('INVALID_ARGUMENT', 'qrels lines are "qid iter docid rel"', { location: { file: path, line } });
    }
    (qrels[f[0]!] ??= {})[f[2]!] = rel;
  }
  return qrels;
}

export async function readBeirQrels(path: string): Promise<Qrels> {
  const qrels: Qrels = {};
  let first = true;
  for await (const { line, text } of lines(path)) {
    const f = text.split('\t');
    if (first) {
      first = false;
      if (f[0] === 'query-id' || Number.isNaN(Number(f[2]))) continue;
    }
    const rel = Number(f[2]);
    if (f.length < 3 || !Number.isFinite(rel)) {
      throw new QuiverError('INVALID_ARGUMENT', 'BEIR qrels lines are "query-id<TAB>corpus-id<TAB>score"', {
        location: { file: path, line },
      });
    }
    (qrels[f[0]!] ??= {})[f[1]!] = rel;
  }
  return qrels;
}

/** A run; a document listed twice for a query is an error, as in trec_eval. */
export async function readRun(path: string): Promise<Run> {
  const run: Run = {};
  for await (const { line, text } of lines(path)) {
    const f = text.trim().split(/\s+/);
    const score = Number(f[4]);
    if (f.length < 6 || !Number.isFinite(score)) {
      throw new QuiverError('INVALID_ARGUMENT', 'run lines are "qid Q0 docid rank score tag"', { location: { file: path, line } });
    }
    const q = (run[f[0]!] ??= {});
    if (f[2]! in q) {
      throw new QuiverError('INVALID_ARGUMENT', `document ${f[2]} appears twice for query ${f[0]}`, {
        location: { file: path, line },
      });
    }
    q[f[2]!] = score;
  }
  return run;
}

/** Write a run in trec_eval's order (score desc, docno desc) with 1-based ranks. */
export async function writeRun(path: string, run: Run, tag = 'quiver'): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const out: string[] = [];
    for (const q of Object.keys(run).sort()) {
      rankDocuments(run[q]!).forEach((d, i) => out.push(`${q} Q0 ${d} ${i + 1} ${run[q]![d]} ${tag}`));
      if (out.length > 50_000) await fh.write(`${out.splice(0).join('\n')}\n`);
    }
    if (out.length) await fh.write(`${out.join('\n')}\n`);
  } finally {
    await fh.close();
  }
}
