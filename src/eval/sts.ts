/**
 * Semantic textual similarity: Spearman and Pearson correlation between the cosine of two
 * sentences' embeddings and gold similarity scores (as MTEB reports STS).
 * Readers for STSBenchmark (test.jsonl / sts-test.csv), SICK-R (test.jsonl) and stsb-multi-mt
 * (stsb-xx-test.csv); a folder means every such file in it.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Embedder } from '../embed/embedder.js';
import { QuiverError } from '../errors.js';

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

function parseFile(file: string, text: string): StsPair[] {
  const pairs: StsPair[] = [];
  const lines = text.split('\n');
  const bad = (line: number, why: string) =>
    new QuiverError('INVALID_ARGUMENT', why, { location: { file, line } });
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return;
    const n = i + 1;
    if (file.endsWith('.jsonl')) {
      let o: { sentence1?: unknown; sentence2?: unknown; score?: unknown; relatedness_score?: unknown };
      try {
        o = JSON.parse(line) as typeof o;
      } catch (e) {
        throw new QuiverError('INVALID_JSON', `invalid JSON: ${(e as Error).message}`, {
          location: { file, line: n },
        });
      }
      const score = Number(o.score ?? o.relatedness_score);
      if (typeof o.sentence1 !== 'string' || typeof o.sentence2 !== 'string' || !Number.isFinite(score)) {
        throw bad(n, 'expected "sentence1", "sentence2" (strings) and a numeric "score"');
      }
      pairs.push({ a: o.sentence1, b: o.sentence2, score });
    } else if (line.includes('\t')) {
      // STSBenchmark sts-test.csv: genre, file, year, id, score, sentence1, sentence2
      const f = line.split('\t');
      if (f.length < 7 || !Number.isFinite(Number(f[4])))
        throw bad(n, 'expected 7 tab-separated fields with the score in the 5th');
      pairs.push({ a: f[5]!, b: f[6]!, score: Number(f[4]) });
    } else {
      const f = parseCsvLine(line);
      if (n === 1 && f[2] !== undefined && Number.isNaN(Number(f[2]))) return; // header
      if (f.length < 3 || !Number.isFinite(Number(f[2]))) throw bad(n, 'expected sentence1,sentence2,score');
      pairs.push({ a: f[0]!, b: f[1]!, score: Number(f[2]) });
    }
  });
  return pairs;
}

const STS_FILE = /(\.jsonl|-test\.csv|sts-test\.csv)$/;

export async function loadSts(path: string): Promise<StsFile[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new QuiverError('FILE_NOT_FOUND', `no such file or folder: ${path}`, { location: { file: path } });
  }
  if (info.isFile()) return [{ file: path, pairs: parseFile(path, await readFile(path, 'utf8')) }];
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
        out.push({ file: p, pairs: parseFile(p, await readFile(p, 'utf8')) });
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
