/**
 * Semantic textual similarity: Spearman and Pearson correlation between the cosine of two
 * sentences' embeddings and gold similarity scores (as MTEB reports STS).
 * Readers for STSBenchmark (test.jsonl / sts-test.csv), SICK-R (test.jsonl, SICK.txt) and
 * stsb-multi-mt (stsb-xx-test.csv), and for any JSONL (optionally gzipped) or tab/comma-separated
 * file whose header names the columns; a folder means every test file in it.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Embedder } from '../embed/embedder.js';
import { QuiverError } from '../errors.js';
import { readTextFile } from '../ingest/files.js';

export interface StsPair {
  a: string;
  b: string;
  score: number;
}

export interface StsFile {
  file: string;
  pairs: StsPair[];
}

/** Split one CSV line with double-quote quoting. */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Column names seen in STS releases and their exports (SICK's sentence_A/relatedness_score,
 * Hugging Face datasets' sentence1/score, MTEB's exports, SentEval's tsv), compared lower-cased.
 */
const FIRST = ['sentence1', 'sentence_a', 'sentence_1', 's1', 'text1', 'text_a'];
const SECOND = ['sentence2', 'sentence_b', 'sentence_2', 's2', 'text2', 'text_b'];
const SCORE = ['score', 'relatedness_score', 'similarity_score', 'similarity', 'gold_score', 'label'];

/** Where the two sentences and the score sit in a header row, or undefined if it is no header. */
function headerColumns(fields: string[]): { a: number; b: number; score: number } | undefined {
  const names = fields.map((f) => f.trim().toLowerCase());
  const find = (aliases: string[]) => {
    for (const alias of aliases) {
      const i = names.indexOf(alias);
      if (i >= 0) return i;
    }
    return -1;
  };
  const a = find(FIRST);
  const b = find(SECOND);
  const score = find(SCORE);
  return a >= 0 && b >= 0 && score >= 0 ? { a, b, score } : undefined;
}

function fromJson(o: Record<string, unknown>): { a: unknown; b: unknown; score: unknown } {
  const pick = (aliases: string[]) => {
    for (const k of aliases) if (o[k] !== undefined) return o[k];
    // Keys are matched case-insensitively (SICK exports use sentence_A).
    for (const [k, v] of Object.entries(o)) if (aliases.includes(k.toLowerCase())) return v;
    return undefined;
  };
  return { a: pick(FIRST), b: pick(SECOND), score: pick(SCORE) };
}

function parseFile(file: string, text: string): StsPair[] {
  const pairs: StsPair[] = [];
  const lines = text.split('\n');
  const bad = (line: number, why: string) =>
    new QuiverError('INVALID_ARGUMENT', why, { location: { file, line } });
  const jsonLines = /\.jsonl(\.gz)?$/.test(file);
  // Delimited files: a header row (any column order, extra columns ignored) names the columns;
  // without one, 7+ tab-separated fields are STSBenchmark's layout and 3 fields are s1, s2, score.
  let columns: { a: number; b: number; score: number } | undefined;
  let sawData = false;
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return;
    const n = i + 1;
    if (jsonLines) {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch (e) {
        throw new QuiverError('INVALID_JSON', `invalid JSON: ${(e as Error).message}`, {
          location: { file, line: n },
        });
      }
      const { a, b, score } =
        o && typeof o === 'object' ? fromJson(o as Record<string, unknown>) : { a: 0, b: 0, score: 0 };
      const value = Number(score);
      const blank = score === null || (typeof score === 'string' && !score.trim());
      if (typeof a !== 'string' || typeof b !== 'string' || blank || !Number.isFinite(value)) {
        throw bad(n, 'expected "sentence1", "sentence2" (strings) and a numeric "score"');
      }
      pairs.push({ a, b, score: value });
      return;
    }
    const tab = line.includes('\t');
    const f = tab ? line.split('\t') : parseCsvLine(line);
    if (!sawData) {
      sawData = true;
      columns = headerColumns(f);
      if (columns) return;
      // A 3-column header with other names (s_a,s_b,gold) is read positionally, as before.
      if (f.length === 3 && Number.isNaN(Number(f[2]))) return;
      if (f.length > 3 && Number.isNaN(Number(f[tab && f.length >= 7 ? 4 : 2]))) {
        throw bad(
          n,
          `a header row must name the columns (${FIRST[0]}, ${SECOND[0]}, ${SCORE[0]}; ` +
            `or sentence_A, sentence_B, relatedness_score)`,
        );
      }
    }
    if (columns) {
      const { a, b, score } = columns;
      const value = Number(f[score]);
      if (f[a] === undefined || f[b] === undefined || f[score] === undefined || !f[score].trim())
        throw bad(n, `expected ${Math.max(a, b, score) + 1} fields as named in the header, got ${f.length}`);
      if (!Number.isFinite(value)) throw bad(n, `the score "${f[score]}" is not a number`);
      pairs.push({ a: f[a], b: f[b], score: value });
    } else if (tab && f.length >= 7) {
      // STSBenchmark sts-test.csv: genre, file, year, id, score, sentence1, sentence2
      if (!Number.isFinite(Number(f[4])) || !f[4]!.trim())
        throw bad(n, 'expected 7 tab-separated fields with the score in the 5th');
      pairs.push({ a: f[5]!, b: f[6]!, score: Number(f[4]) });
    } else {
      if (f.length < 3 || !f[2]!.trim() || !Number.isFinite(Number(f[2])))
        throw bad(n, 'expected sentence1,sentence2,score');
      pairs.push({ a: f[0]!, b: f[1]!, score: Number(f[2]) });
    }
  });
  return pairs;
}

// In a folder, test files only: train/dev splits sit beside them in most releases.
const STS_FILE = /(\.jsonl(\.gz)?|-test\.csv|-test\.tsv|^test\.tsv|sts-test\.csv)$/;

export async function loadSts(path: string): Promise<StsFile[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new QuiverError('FILE_NOT_FOUND', `no such file or folder: ${path}`, { location: { file: path } });
  }
  if (info.isFile()) return [{ file: path, pairs: parseFile(path, await readTextFile(path)) }];
  const out: StsFile[] = [];
  const walk = async (dir: string) => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (
        STS_FILE.test(e.name) &&
        !(e.name === 'sts-test.csv' && out.some((f) => basename(f.file) === 'test.jsonl'))
      ) {
        out.push({ file: p, pairs: parseFile(p, await readTextFile(p)) });
      }
    }
  };
  await walk(path);
  if (out.length === 0)
    throw new QuiverError('FILE_NOT_FOUND', `no STS files in ${path}`, { location: { file: path } });
  return out;
}

export function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

/** Ranks 1..n with ties given their average rank. */
export function ranks(x: number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) r[idx[t]!] = avg;
    i = j + 1;
  }
  return r;
}

export function spearman(x: number[], y: number[]): number {
  return pearson(ranks(x), ranks(y));
}

export async function evaluateSts(
  pairs: StsPair[],
  embedder: Embedder,
  opts: { batchSize?: number } = {},
): Promise<{ spearman: number; pearson: number; pairs: number }> {
  const bs = opts.batchSize ?? 256;
  const cos: number[] = [];
  for (let i = 0; i < pairs.length; i += bs) {
    const batch = pairs.slice(i, i + bs);
    const a = await embedder.embed(
      batch.map((p) => p.a),
      { role: 'symmetric' },
    );
    const b = await embedder.embed(
      batch.map((p) => p.b),
      { role: 'symmetric' },
    );
    for (let j = 0; j < batch.length; j++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      const u = a[j]!;
      const v = b[j]!;
      for (let d = 0; d < u.length; d++) {
        dot += u[d]! * v[d]!;
        na += u[d]! * u[d]!;
        nb += v[d]! * v[d]!;
      }
      cos.push(na && nb ? dot / Math.sqrt(na * nb) : 0);
    }
  }
  const gold = pairs.map((p) => p.score);
  return { spearman: spearman(cos, gold), pearson: pearson(cos, gold), pairs: pairs.length };
}
