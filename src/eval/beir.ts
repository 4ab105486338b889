/**
 * BEIR dataset layout: `corpus.jsonl` (streamed by the ingest stage, not here), `queries.jsonl`
 * (`{"_id", "text"}` per line) and `qrels/<split>.tsv`. As BEIR's GenericDataLoader does, the
 * queries of a split are those with judgments in that split, in the qrels' order.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { QuiverError } from '../errors.js';
import { readTextFile } from '../ingest/files.js';
import type { Qrels } from './metrics.js';
import { readBeirQrels } from './trec.js';

export interface BeirQuery {
  id: string;
  text: string;
}

function requireDataset(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new QuiverError(
      'FILE_NOT_FOUND',
      `no BEIR dataset folder at ${dir} (expected a folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv)`,
      { location: { file: dir } },
    );
  }
}

/** `<dir>/<name>`, or its gzipped twin `<name>.gz` (as some BEIR mirrors ship), if either exists. */
function datasetFile(dir: string, name: string): string | undefined {
  return [join(dir, name), join(dir, `${name}.gz`)].find((p) => existsSync(p));
}

/** The corpus file of a BEIR dataset folder (corpus.jsonl or corpus.jsonl.gz), checked to exist. */
export function beirCorpusPath(dir: string): string {
  requireDataset(dir);
  const p = datasetFile(dir, 'corpus.jsonl');
  if (!p) {
    throw new QuiverError(
      'FILE_NOT_FOUND',
      `${dir} has no corpus.jsonl — a BEIR dataset folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv`,
      { location: { file: join(dir, 'corpus.jsonl') } },
    );
  }
  return p;
}

/**
 * Every query of a BEIR dataset folder (queries.jsonl or queries.jsonl.gz) by id. BEIR ids are
 * strings, but some conversions write numbers; both are accepted, as BEIR's str() would.
 */
export async function readBeirQueryTexts(dir: string): Promise<{ path: string; texts: Map<string, string> }> {
  requireDataset(dir);
  const path = datasetFile(dir, 'queries.jsonl');
  if (!path) {
    throw new QuiverError(
      'FILE_NOT_FOUND',
      `${dir} has no queries.jsonl (one {"_id": "...", "text": "..."} per line)`,
      {
        location: { file: join(dir, 'queries.jsonl') },
      },
    );
  }
  const texts = new Map<string, string>();
  (await readTextFile(path)).split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    let q: { _id?: unknown; text?: unknown };
    try {
      q = JSON.parse(l) as typeof q;
    } catch (e) {
      throw new QuiverError('INVALID_JSON', `invalid JSON: ${(e as Error).message}`, {
        location: { file: path, line: i + 1 },
      });
    }
    const id = typeof q._id === 'number' ? String(q._id) : q._id;
    if (typeof id !== 'string' || typeof q.text !== 'string') {
      throw new QuiverError('INVALID_ARGUMENT', 'each query needs a string "_id" and a string "text"', {
        location: { file: path, line: i + 1 },
      });
    }
    texts.set(id, q.text);
  });
  return { path, texts };
}

/** Splits available in `<dir>/qrels` (file names without .tsv). */
export function beirSplits(dir: string): string[] {
  const q = join(dir, 'qrels');
  if (!existsSync(q)) return [];
  return readdirSync(q)
    .filter((f) => f.endsWith('.tsv'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** Queries of `split` (those with qrels in it) and the split's qrels. */
export async function loadBeirQueries(
  dir: string,
  split: 'test' | 'train' | 'dev' | string = 'test',
): Promise<{ queries: BeirQuery[]; qrels: Qrels }> {
  requireDataset(dir);
  if (!/^[\w.-]+$/.test(split)) {
    throw new QuiverError('INVALID_ARGUMENT', `split "${split}" is not a file name (e.g. test, train, dev)`, {
      location: { field: 'split' },
    });
  }
  const qrelsPath = join(dir, 'qrels', `${split}.tsv`);
  if (!existsSync(qrelsPath)) {
    const have = beirSplits(dir);
    throw new QuiverError(
      'FILE_NOT_FOUND',
      `${dir} has no qrels/${split}.tsv for the "${split}" split; ` +
        (have.length
          ? `available splits: ${have.join(', ')}`
          : 'expected qrels/<split>.tsv with "query-id<TAB>corpus-id<TAB>score" lines'),
      { location: { file: qrelsPath } },
    );
  }
  const qrels = await readBeirQrels(qrelsPath);
  const { path: queriesPath, texts: all } = await readBeirQueryTexts(dir);
  const wanted = new Set(Object.keys(qrels));
  const texts = new Map([...all].filter(([id]) => wanted.has(id)));
  const missing = [...wanted].filter((id) => !texts.has(id));
  if (missing.length) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `${missing.length} quer${missing.length === 1 ? 'y' : 'ies'} judged in qrels/${split}.tsv ` +
        `${missing.length === 1 ? 'is' : 'are'} not in queries.jsonl: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
      { location: { file: queriesPath } },
    );
  }
  return { queries: Object.keys(qrels).map((id) => ({ id, text: texts.get(id)! })), qrels };
}
