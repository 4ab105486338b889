/**
 * TREC file formats, read as trec_eval reads them (get_qrels.c, get_trec_results.c):
 *   qrels  `qid iter docid rel`            4 whitespace-separated fields, rel an integer
 *   run    `qid Q0 docid rank score tag`   6 fields; the rank column is ignored (trec_eval re-sorts
 *                                          by score, see ./metrics.ts)
 *   BEIR qrels TSV `query-id<TAB>corpus-id<TAB>score` with a header line.
 * Blank lines are skipped, and in TREC qrels so are lines starting with '#', as trec_eval does.
 * Malformed lines, a document listed twice for one query (trec_eval: "duplicate docs"), and
 * non-integer relevance are QuiverError('INVALID_ARGUMENT') with the file and 1-based line.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { QuiverError } from '../errors.js';
import { readLines } from '../ingest/sources.js';
import type { Qrels, Run } from './metrics.js';
import { rankDocuments, strcmp } from './metrics.js';

async function* lines(path: string): AsyncIterable<{ line: number; text: string }> {
  const stream = createReadStream(path);
  try {
    for await (const { line, bytes } of readLines(stream)) {
      let text = bytes.toString('utf8');
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.trim() === '') continue;
      yield { line, text };
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new QuiverError('FILE_NOT_FOUND', `no such file: ${path}`, { location: { file: path } });
    }
    if (code === 'EISDIR') {
      throw new QuiverError('INVALID_ARGUMENT', `${path} is a folder, not a file`, {
        location: { file: path },
      });
    }
    throw e;
  } finally {
    stream.destroy();
  }
}

function bad(path: string, line: number, message: string): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', message, { location: { file: path, line } });
}

/** A relevance value: an integer (trec_eval keeps it in a long; pytrec_eval takes ints). */
function relevance(text: string | undefined, path: string, line: number, expected: string): number {
  const rel = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(rel)) {
    throw bad(path, line, `relevance "${text ?? ''}" is not an integer; lines are ${expected}`);
  }
  return rel;
}

function addJudgment(
  qrels: Qrels,
  qid: string,
  docid: string,
  rel: number,
  path: string,
  line: number,
): void {
  const q = (qrels[qid] ??= {});
  if (docid in q) throw bad(path, line, `document ${docid} is judged twice for query ${qid}`);
  q[docid] = rel;
}

/** TREC qrels: `qid iter docid rel`. */
export async function readQrels(path: string): Promise<Qrels> {
  const qrels: Qrels = {};
  const expected = '"qid iter docid rel" (4 fields separated by whitespace)';
  for await (const { line, text } of lines(path)) {
    if (text.startsWith('#')) continue;
    const f = text.trim().split(/\s+/);
    if (f.length !== 4)
      throw bad(path, line, `expected 4 fields, found ${f.length}; qrels lines are ${expected}`);
    addJudgment(qrels, f[0]!, f[2]!, relevance(f[3], path, line, expected), path, line);
  }
  return qrels;
}

/** BEIR qrels: a header, then `query-id<TAB>corpus-id<TAB>score`. */
export async function readBeirQrels(path: string): Promise<Qrels> {
  const qrels: Qrels = {};
  const expected = '"query-id<TAB>corpus-id<TAB>score" after a header line';
  let first = true;
  for await (const { line, text } of lines(path)) {
    const f = text.split('\t');
    if (first) {
      first = false;
      // BEIR's loader skips the first row unconditionally; we skip it only when it is a header,
      // so a headerless file does not silently lose a judgment.
      if (f.length === 3 && !Number.isInteger(Number(f[2]))) continue;
    }
    if (f.length !== 3)
      throw bad(path, line, `expected 3 tab-separated fields, found ${f.length}; lines are ${expected}`);
    if (f[0] === '' || f[1] === '')
      throw bad(path, line, `empty query-id or corpus-id; lines are ${expected}`);
    addJudgment(qrels, f[0]!, f[1]!, relevance(f[2]!.trim(), path, line, expected), path, line);
  }
  return qrels;
}

/** A TREC run. A document listed twice for one query is an error, as in trec_eval. */
export async function readRun(path: string): Promise<Run> {
  const run: Run = {};
  const expected = '"qid Q0 docid rank score tag" (6 fields separated by whitespace)';
  for await (const { line, text } of lines(path)) {
    const f = text.trim().split(/\s+/);
    if (f.length !== 6)
      throw bad(path, line, `expected 6 fields, found ${f.length}; run lines are ${expected}`);
    const score = Number(f[4]);
    if (f[4] === '' || !Number.isFinite(score))
      throw bad(path, line, `score "${f[4]}" is not a finite number; run lines are ${expected}`);
    const q = (run[f[0]!] ??= {});
    if (f[2]! in q) throw bad(path, line, `document ${f[2]} appears twice for query ${f[0]}`);
    q[f[2]!] = score;
  }
  return run;
}

/**
 * Write a run in trec_eval's order (score descending, docno descending), queries by strcmp,
 * ranks from 1. Scores are written with JavaScript's shortest round-trip form, so reading the
 * file back gives the same numbers (and the same ties).
 */
export async function writeRun(path: string, run: Run, tag = 'quiver'): Promise<void> {
  if (!/^\S+$/.test(tag)) {
    throw new QuiverError('INVALID_ARGUMENT', `run tag "${tag}" must be one word without whitespace`, {
      location: { field: 'tag' },
    });
  }
  const fh = await open(path, 'w');
  try {
    let out: string[] = [];
    for (const q of Object.keys(run).sort(strcmp)) {
      if (/\s/.test(q) || q === '')
        throw new QuiverError('INVALID_ARGUMENT', `query id "${q}" cannot be written to a TREC run`, {
          location: { field: 'qid' },
        });
      const scores = run[q]!;
      rankDocuments(scores).forEach((d, i) => {
        const s = scores[d]!;
        if (!Number.isFinite(s) || /\s/.test(d) || d === '') {
          throw new QuiverError(
            'INVALID_ARGUMENT',
            `query ${q}, document "${d}": ids need no whitespace and scores must be finite`,
            {
              location: { field: 'run' },
            },
          );
        }
        out.push(`${q} Q0 ${d} ${i + 1} ${s} ${tag}`);
      });
      if (out.length > 50_000) {
        await fh.write(`${out.join('\n')}\n`);
        out = [];
      }
    }
    if (out.length) await fh.write(`${out.join('\n')}\n`);
  } finally {
    await fh.close();
  }
}

/** Write qrels in TREC format (`qid 0 docid rel`), queries and documents by strcmp. */
export async function writeQrels(path: string, qrels: Qrels): Promise<void> {
  const out: string[] = [];
  for (const q of Object.keys(qrels).sort(strcmp)) {
    for (const d of Object.keys(qrels[q]!).sort(strcmp)) out.push(`${q} 0 ${d} ${qrels[q]![d]}`);
  }
  const fh = await open(path, 'w');
  try {
    await fh.write(out.length ? `${out.join('\n')}\n` : '');
  } finally {
    await fh.close();
  }
}
