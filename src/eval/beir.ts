/**
 * BEIR dataset layout: corpus.jsonl (streamed by the ingest stage), queries.jsonl, qrels/<split>.tsv.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QuiverError } from '../errors.js';
import type { Qrels } from './metrics.js';
import { readBeirQrels } from './trec.js';

export function beirCorpusPath(dir: string): string {
  const p = join(dir, 'corpus.jsonl');
  if (!existsSync(p)) {
    throw new QuiverError('FILE_NOT_FOUND', `${dir} has no corpus.jsonl — is it a BEIR dataset folder?`, { location: { file: p } });
  }
  return p;
}

export async function loadBeirQueries(
  dir: string,
  split = 'test',
): Promise<{ queries: { id: string; text: string }[]; qrels: Qrels }> {
  const qrelsPath = join(dir, 'qrels', `${split}.tsv`);
  if (!existsSync(qrelsPath)) {
    throw new QuiverError('FILE_NOT_FOUND', `${dir} has no qrels/${split}.tsv (the "${split}" split)`, {
      location: { file: qrelsPath },
    });
  }
  const qrels = await readBeirQrels(qrelsPath);
  const queriesPath = join(dir, 'queries.jsonl');
  if (!existsSync(queriesPath)) {
    throw new QuiverError('FILE_NOT_FOUND', `${dir} has no queries.jsonl`, { location: { file: queriesPath } });
  }
  const texts = new Map<string, string>();
  const lines = (await readFile(queriesPath, 'utf8')).split('\n');
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    let q: { _id?: unknown; text?: unknown };
    try {
      q = JSON.parse(l) as typeof q;
    } catch (e) {
      throw new QuiverError('INVALID_JSON', `invalid JSON: ${(e as Error).message}`, { location: { file: queriesPath, line: i + 1 } });
    }
    if (typeof q._id !== 'string' || typeof q.text !== 'string') {
      throw new QuiverError('INVALID_ARGUMENT', 'queries need string "_id" and "text"', { location: { file: queriesPath, line: i + 1 } });
    }
    texts.set(q._id, q.text);
  });
  const queries: { id: string; text: string }[] = [];
  for (const id of Object.keys(qrels)) {
    const text = texts.get(id);
    if (text !== undefined) queries.push({ id, text });
  }
  return { queries, qrels };
}
